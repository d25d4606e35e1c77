"""The `videos` stage: every upload described, a broken replacement held back behind its last good version."""

from __future__ import annotations

import time

import polars as pl

from ..home import MovrecHome
from ..library import VideoRecord, scan_library
from ..tables import VIDEO_SCHEMA, conform
from .report import StageReport, timed


def scan_videos(home: MovrecHome, previous: pl.DataFrame | None) -> tuple[pl.DataFrame, StageReport]:
    started = time.perf_counter()
    # an older table (no video ids) still lends its hashes and probes: nothing is hashed again
    raw = {row["path"]: row for row in previous.iter_rows(named=True)} if previous is not None else {}
    current = conform(previous, VIDEO_SCHEMA)
    held = {row["path"]: row for row in current.iter_rows(named=True)} if current is not None else {}
    records: list[VideoRecord] = scan_library(home.uploads, raw)
    report = StageReport()
    rows = []
    for rec in records:
        last_good = held.get(rec.path)
        if rec.error and last_good is not None and not last_good["error"]:
            # a good upload replaced by a broken one: keep serving the last good version, say so
            report.fail(rec.file_name, f"{rec.error}; still serving the last good version of this file")
            rows.append(last_good | {"held_back_error": rec.error})
            continue
        if rec.error:
            report.fail(rec.file_name, rec.error)
        elif rec.path in raw and raw[rec.path]["content_hash"] == rec.content_hash:
            report.cached += 1
        else:
            report.processed += 1
        rows.append(rec.to_row() | {"held_back_error": None})
    frame = pl.DataFrame(rows, schema=VIDEO_SCHEMA)
    return frame, timed(report, started)


def usable(videos: pl.DataFrame) -> pl.DataFrame:
    return videos.filter(pl.col("error").is_null())
