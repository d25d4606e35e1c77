"""The `spoken_languages` stage: each video's language, from its sidecar or whisper's detection."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import polars as pl

from ..entities import UNDETERMINED
from ..home import write_text_atomic
from ..library import MediaError
from ..speech import WhisperSettings, detect_language
from ..tables import LANGUAGE_SCHEMA, conform
from .report import StageReport, reusable, timed
from .scan import usable


def detected_language(
    audio: Path, content_hash: str, whisper: WhisperSettings, cache: Path | None
) -> tuple[str, float]:
    """Whisper's language detection, remembered in `cache` per content hash and settings.

    The upload sensor listens before it launches a run (to pick the partition) and the scan then
    finds the answer here instead of running whisper on the same audio again.
    """
    memo = cache / f"{content_hash}.json" if cache else None
    known = json.loads(memo.read_text()) if memo and memo.is_file() else {}
    if whisper.fingerprint in known:
        language, probability = known[whisper.fingerprint]
        return str(language), float(probability)
    language, probability = detect_language(audio, whisper)
    if memo:
        write_text_atomic(memo, json.dumps(known | {whisper.fingerprint: [language, probability]}))
    return language, probability


SHORT_CLIP_S = 10.0


def route_languages(
    videos: pl.DataFrame,
    audio: pl.DataFrame,
    previous: pl.DataFrame | None,
    whisper: WhisperSettings,
    min_probability: float,
    cache: Path | None = None,
    catalogue: dict[str, str] | None = None,
    short_min_probability: float | None = None,
) -> tuple[pl.DataFrame, StageReport]:
    """Each video's spoken language: the sidecar language, else whisper's detection when whisper is
    sure enough (`min_probability`; `short_min_probability` for clips under SHORT_CLIP_S, where it
    guesses from a few words). When it is not, a guess would file the movie under a wrong language:
    the movie's catalogue language (`catalogue`: video id -> language), else the language most of
    the library's sure videos speak (more than half of them), else `und`; `language_source` says
    which and the guess stays in `detected_language`."""
    started = time.perf_counter()
    report = StageReport()
    previous = conform(previous, LANGUAGE_SCHEMA)
    prior = {r["video_id"]: r for r in previous.iter_rows(named=True)} if previous is not None else {}
    meta = {r["video_id"]: r for r in usable(videos).iter_rows(named=True)}
    catalogue = catalogue or {}
    rows, unsure = [], []
    for item in audio.filter(pl.col("error").is_null()).iter_rows(named=True):
        video = meta[item["video_id"]]
        known = catalogue.get(item["video_id"])
        needed = min_probability
        if short_min_probability is not None and (item["audio_seconds"] or 0.0) < SHORT_CLIP_S:
            needed = max(needed, short_min_probability)
        fingerprint = f"{whisper.fingerprint}:min{needed}:{video['sidecar_language']}:{known}"
        old = prior.get(item["video_id"])
        if reusable(old, item["content_hash"], fingerprint):
            rows.append(old | {"sidecar_hash": video["sidecar_hash"], "file_name": video["file_name"]})
            report.cached += 1
            continue
        row = {
            "video_id": item["video_id"],
            "file_name": video["file_name"],
            "content_hash": item["content_hash"],
            "fingerprint": fingerprint,
            "sidecar_hash": video["sidecar_hash"],
            "language": video["sidecar_language"],
            "language_source": "sidecar",
            "detected_language": None,
            "detected_probability": None,
            "error": None,
        }
        if not row["language"]:
            try:
                detected, probability = detected_language(
                    Path(item["audio_path"]), item["content_hash"], whisper, cache
                )
                row.update(
                    detected_language=detected,
                    detected_probability=probability,
                    language_source="whisper",
                    language=detected,
                )
                if probability < needed:
                    unsure.append(row)
            except MediaError as exc:
                cause = f"{video['path']}: {exc}"
                row.update(error=cause, language=None)
                report.fail(video["file_name"], cause)
        report.processed += 1
        rows.append(row)
    doubted = {r["video_id"] for r in unsure}
    sure = [r["language"] for r in rows if r["video_id"] not in doubted and r["language"] not in (None, UNDETERMINED)]
    counted = Counter(sure).most_common(1)
    majority = counted[0][0] if counted and counted[0][1] * 2 > len(sure) else None
    for row in unsure:
        fallback = catalogue.get(row["video_id"])
        source = "catalogue" if fallback else "library majority" if majority else "undetermined"
        row["language"] = fallback or majority or UNDETERMINED
        row["language_source"] = (
            f"{source} (whisper unsure: {row['detected_language']} at {row['detected_probability']:.2f})"
        )
    if cache and cache.is_dir():  # forget detections of audio no longer in the library
        live = {f"{h}.json" for h in audio["content_hash"]}
        for stale in cache.glob("*.json"):
            if stale.name not in live:
                stale.unlink(missing_ok=True)
    return pl.DataFrame(rows, schema=LANGUAGE_SCHEMA), timed(report, started)
