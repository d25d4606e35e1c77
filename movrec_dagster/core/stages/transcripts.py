"""The `transcripts` stage: faster-whisper segments of every video of the partition's movies.

A partition is a language of *movies*; each video is transcribed in its own spoken language (a
Spanish teaser of an English film is heard as Spanish). A transcription is reused by content hash,
whisper settings and language wherever it was stored before (another partition, an older layout),
so moving a video to another movie or partition never transcribes it again. A long file (a film)
is transcribed a window at a time with each finished window checkpointed (`longform`), and its
progress (percent, ETA) is reported as it goes (`progress`).
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from ..entities import UNDETERMINED
from ..library import MediaError
from ..progress import Tracker
from ..speech import Segment, WhisperSettings, transcribe
from ..tables import TRANSCRIPT_SCHEMA
from .report import StageReport, timed

ReuseKey = tuple[str, str, str]  # content hash, whisper fingerprint, language


def known_transcripts(frames: list[pl.DataFrame]) -> dict[ReuseKey, dict[str, Any]]:
    """Every stored, successful transcription by what it was computed from (any table layout)."""
    out: dict[ReuseKey, dict[str, Any]] = {}
    for frame in frames:
        for row in frame.filter(pl.col("error").is_null()).iter_rows(named=True):
            out[(row["content_hash"], row["fingerprint"], row["language"])] = row
    return out


def checkpoint_folder(root: Path, key: ReuseKey) -> Path:
    """Where a transcription in progress keeps its finished windows (see `longform`)."""
    return root / hashlib.sha256("\x1f".join(key).encode()).hexdigest()[:32]


def clear_checkpoints(root: Path, written: pl.DataFrame) -> None:
    """Drop the checkpoints of transcripts now stored in a table (they are not needed to resume)."""
    for row in written.filter(pl.col("error").is_null()).iter_rows(named=True):
        shutil.rmtree(checkpoint_folder(root, (row["content_hash"], row["fingerprint"], row["language"])), True)


def transcribe_partition(
    links: pl.DataFrame,
    audio: pl.DataFrame,
    known: dict[ReuseKey, dict[str, Any]],
    whisper: WhisperSettings,
    checkpoints: Path | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[pl.DataFrame, StageReport]:
    """`links`: the partition's videos (MOVIE_VIDEO_SCHEMA rows: video, movie, spoken language).
    `checkpoints`: a folder where each video's finished windows are kept until its transcript is
    stored, so a killed run redoes nothing it finished; `log`: where progress lines go."""
    started = time.perf_counter()
    report = StageReport()
    paths = dict(zip(audio["video_id"], audio["audio_path"]))
    rows = []
    for link in links.sort("video_id").iter_rows(named=True):
        key = (link["content_hash"], whisper.fingerprint, link["language"])
        old = known.get(key)
        if old is not None:
            rows.append(
                {name: old.get(name) for name in TRANSCRIPT_SCHEMA}
                | {"video_id": link["video_id"], "movie_id": link["movie_id"]}
            )
            report.cached += 1
            continue
        row: dict[str, Any] = {
            "video_id": link["video_id"],
            "movie_id": link["movie_id"],
            "content_hash": link["content_hash"],
            "fingerprint": whisper.fingerprint,
            "language": link["language"],
            "language_probability": None,
            "detected_language": None,
            "duration_s": None,
            "segments": [],
            "error": None,
        }
        try:
            spoken = None if link["language"] == UNDETERMINED else link["language"]
            result = transcribe(
                Path(paths[link["video_id"]]),
                whisper,
                spoken,
                checkpoints=checkpoint_folder(checkpoints, key) if checkpoints else None,
                progress=Tracker("transcribing", link.get("file_name") or link["video_id"], log),
            )
            row.update(
                duration_s=result.duration_s,
                segments=[{"start": s.start, "end": s.end, "text": s.text} for s in result.segments],
                detected_language=result.language,
                language_probability=result.language_probability,
            )
            report.processed += 1
        except (MediaError, KeyError) as exc:
            row["error"] = f"{link.get('file_name') or link['video_id']}: {exc}"
            report.fail(link["video_id"], row["error"])
        rows.append(row)
    return pl.DataFrame(rows, schema=TRANSCRIPT_SCHEMA), timed(report, started)


def segments_of(row: dict[str, Any]) -> list[Segment]:
    return [Segment(s["start"], s["end"], s["text"]) for s in row["segments"] or []]


def ok_rows(transcripts: pl.DataFrame | None) -> list[dict[str, Any]]:
    return list(transcripts.filter(pl.col("error").is_null()).iter_rows(named=True)) if transcripts is not None else []
