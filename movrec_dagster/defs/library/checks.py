"""Checks that surface unusable uploads in the UI instead of dropping them silently."""

import dagster as dg
import polars as pl

from movrec_dagster.core.home import read_table
from movrec_dagster.defs.library.assets import videos
from movrec_dagster.defs.metadata import failures_markdown
from movrec_dagster.defs.resources import LibraryResource


@dg.asset_check(asset=videos, description="Every upload is a readable video with an audio track.")
def all_uploads_usable(library: LibraryResource) -> dg.AssetCheckResult:
    frame = read_table(library.paths().table("videos"))
    bad = frame.filter(pl.col("error").is_not_null()) if frame is not None else pl.DataFrame()
    failures = dict(zip(bad["file_name"], bad["error"])) if len(bad) else {}
    return dg.AssetCheckResult(
        passed=not failures,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"unusable": len(failures), "files": dg.MetadataValue.md(failures_markdown(failures))},
    )


library_checks = [all_uploads_usable]
