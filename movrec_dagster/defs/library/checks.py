"""Checks that surface unusable uploads in the UI instead of dropping them silently."""

import dagster as dg
import polars as pl

from movrec_dagster.core.home import read_table
from movrec_dagster.defs.library.assets import spoken_languages, videos
from movrec_dagster.defs.metadata import failures_markdown
from movrec_dagster.defs.resources import LibraryResource


@dg.asset_check(asset=videos, description="Every upload is a readable video with an audio track.")
def all_uploads_usable(library: LibraryResource) -> dg.AssetCheckResult:
    frame = read_table(library.paths().table("videos"))
    failures: dict[str, str] = {}
    if frame is not None:
        bad = frame.filter(pl.col("error").is_not_null())
        failures = dict(zip(bad["file_name"], bad["error"]))
        if "held_back_error" in frame.columns:  # broken replacements of good files (the good one still serves)
            held = frame.filter(pl.col("held_back_error").is_not_null())
            failures |= {
                f: f"{e}; still serving the last good version"
                for f, e in zip(held["file_name"], held["held_back_error"])
            }
    return dg.AssetCheckResult(
        passed=not failures,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"unusable": len(failures), "files": dg.MetadataValue.md(failures_markdown(failures))},
    )


@dg.asset_check(
    asset=spoken_languages,
    description="Every readable upload has at least a second of audio with speech in it (else it is not indexed).",
)
def all_uploads_have_speech(library: LibraryResource) -> dg.AssetCheckResult:
    home = library.paths()
    failures: dict[str, str] = {}
    for table in ("audio", "spoken_languages"):
        frame = read_table(home.table(table))
        if frame is not None and "file_name" in frame.columns:
            bad = frame.filter(pl.col("error").is_not_null())
            failures |= dict(zip(bad["file_name"].fill_null(bad["video_id"]), bad["error"]))
    return dg.AssetCheckResult(
        passed=not failures,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"unindexable": len(failures), "files": dg.MetadataValue.md(failures_markdown(failures))},
    )


library_checks = [all_uploads_usable, all_uploads_have_speech]
