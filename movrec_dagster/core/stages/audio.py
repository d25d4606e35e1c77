"""The `audio` stage: one 16 kHz mono WAV per upload, extracted once per content hash, and beside it
a representative frame of each video (its picture on result cards and movie pages)."""

from __future__ import annotations

import time
import wave
from pathlib import Path
from typing import Any

import polars as pl

from ..home import MovrecHome
from ..library import MediaError
from ..media import extract_audio, extract_thumbnail
from ..tables import AUDIO_SCHEMA
from .report import StageReport, timed
from .scan import usable

MIN_AUDIO_S = 0.3  # "I'll be back" is 1.0 s; whisper reads a 0.3 s "yes" or "no"


def _wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / float(w.getframerate())


def _changed_since_scan(upload: Path, video: dict[str, Any]) -> bool:
    try:
        stat = upload.stat()
    except OSError:
        return True
    return (stat.st_size, stat.st_mtime_ns) != (video["size_bytes"], video["mtime_ns"])


def extract_all_audio(home: MovrecHome, videos: pl.DataFrame) -> tuple[pl.DataFrame, StageReport]:
    """16 kHz mono WAV per upload, cached by content hash. An upload that changed since the scan hashed
    it is not stored under the old hash (the next scan takes the new content); audio under a second
    cannot be transcribed usefully."""
    started = time.perf_counter()
    report = StageReport()
    rows = []
    for video in usable(videos).iter_rows(named=True):
        target = home.audio_file(video["content_hash"])
        upload = Path(video["path"])
        row = {
            "video_id": video["video_id"],
            "file_name": video["file_name"],
            "content_hash": video["content_hash"],
            "audio_path": str(target),
            "audio_seconds": None,
            "thumbnail_path": None,
            "error": None,
        }
        try:
            if target.exists():
                row["audio_seconds"] = _wav_seconds(target)
                report.cached += 1
            else:
                row["audio_seconds"] = extract_audio(upload, target)
                if _changed_since_scan(upload, video):
                    target.unlink(missing_ok=True)
                    raise MediaError(f"{upload}: changed while being processed; the next scan takes the new content")
                report.processed += 1
            if row["audio_seconds"] < MIN_AUDIO_S:
                raise MediaError(
                    f"{upload}: too short ({row['audio_seconds']:.1f} s of audio; at least {MIN_AUDIO_S:g} s needed)"
                )
            picture = home.thumbnail_file(video["content_hash"])
            if video["video_codec"] and (
                picture.exists() or extract_thumbnail(upload, picture, video["duration_s"] or 0)
            ):
                row["thumbnail_path"] = str(picture)
        except MediaError as exc:
            row["error"] = str(exc)
            report.fail(video["file_name"], str(exc))
        rows.append(row)
    live = {Path(r["audio_path"]).name for r in rows} | {Path(r["thumbnail_path"] or "").name for r in rows}
    for stale in [*(home.data / "audio").glob("*.wav"), *(home.data / "audio").glob("*.jpg")]:
        if stale.name not in live:
            stale.unlink(missing_ok=True)
    return pl.DataFrame(rows, schema=AUDIO_SCHEMA), timed(report, started)
