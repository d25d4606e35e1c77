"""The pipeline's stages as plain functions over Parquet tables; Dagster assets call these.

Every stage is incremental: a row carries the content hash and the settings fingerprint it was
computed with, and a row whose inputs did not change is reused instead of recomputed.
"""

from __future__ import annotations

import hashlib
import json
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from .embedding import Embedder
from .home import MovrecHome, write_text_atomic
from .library import MediaError, VideoRecord, scan_library
from .media import extract_audio
from .sentiment import SentimentScorer, aggregate
from .sparse import document_vector
from .speech import Segment, WhisperSettings, detect_language, transcribe
from .vectorstore import PayloadFilter, VectorPoint, VectorStore, point_id

UNDETERMINED = "und"
EXCERPT_CHARS = 500


@dataclass
class StageReport:
    """What a stage did, for logs and Dagster metadata."""

    processed: int = 0
    cached: int = 0
    failures: dict[str, str] = field(default_factory=dict)  # file or movie id -> cause
    seconds: float = 0.0

    def fail(self, key: str, error: str) -> None:
        self.failures[key] = error


def reusable(old: dict[str, Any] | None, content_hash: str, fingerprint: str) -> bool:
    """A stored row is reused when it was computed from the same content with the same settings."""
    return bool(
        old and old["content_hash"] == content_hash and old["fingerprint"] == fingerprint and not old.get("error")
    )


def _timed(report: StageReport, started: float) -> StageReport:
    report.seconds = round(time.perf_counter() - started, 3)
    return report


VIDEO_SCHEMA = {
    "movie_id": pl.String,
    "path": pl.String,
    "file_name": pl.String,
    "size_bytes": pl.Int64,
    "mtime_ns": pl.Int64,
    "content_hash": pl.String,
    "duration_s": pl.Float64,
    "container": pl.String,
    "video_codec": pl.String,
    "audio_codec": pl.String,
    "has_audio": pl.Boolean,
    "width": pl.Int64,
    "height": pl.Int64,
    "title": pl.String,
    "year": pl.Int64,
    "genres": pl.List(pl.String),
    "overview": pl.String,
    "sidecar_language": pl.String,
    "catalogue_id": pl.String,
    "sidecar_hash": pl.String,
    "error": pl.String,
    "held_back_error": pl.String,  # the file on disk is broken; the row is its last good version
}


def scan_videos(home: MovrecHome, previous: pl.DataFrame | None) -> tuple[pl.DataFrame, StageReport]:
    started = time.perf_counter()
    prior = {row["path"]: row for row in previous.iter_rows(named=True)} if previous is not None else {}
    records: list[VideoRecord] = scan_library(home.uploads, prior)
    report = StageReport()
    rows = []
    for rec in records:
        last_good = prior.get(rec.path)
        if rec.error and last_good is not None and not last_good["error"]:
            # a good upload replaced by a broken one: keep serving the last good version, say so
            report.fail(rec.file_name, f"{rec.error}; still serving the last good version of this file")
            rows.append(last_good | {"held_back_error": rec.error})
            continue
        if rec.error:
            report.fail(rec.file_name, rec.error)
        elif last_good is not None and last_good["content_hash"] == rec.content_hash:
            report.cached += 1
        else:
            report.processed += 1
        rows.append(rec.to_row() | {"held_back_error": None})
    frame = pl.DataFrame(rows, schema=VIDEO_SCHEMA)
    return frame, _timed(report, started)


def usable(videos: pl.DataFrame) -> pl.DataFrame:
    return videos.filter(pl.col("error").is_null())


AUDIO_SCHEMA = {
    "movie_id": pl.String,
    "file_name": pl.String,
    "content_hash": pl.String,
    "audio_path": pl.String,
    "audio_seconds": pl.Float64,
    "error": pl.String,
}


def _wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / float(w.getframerate())


MIN_AUDIO_S = 1.0


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
            "movie_id": video["movie_id"],
            "file_name": video["file_name"],
            "content_hash": video["content_hash"],
            "audio_path": str(target),
            "audio_seconds": None,
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
        except MediaError as exc:
            row["error"] = str(exc)
            report.fail(video["file_name"], str(exc))
        rows.append(row)
    live = {Path(r["audio_path"]).name for r in rows}
    for stale in (home.data / "audio").glob("*.wav"):
        if stale.name not in live:
            stale.unlink(missing_ok=True)
    return pl.DataFrame(rows, schema=AUDIO_SCHEMA), _timed(report, started)


LANGUAGE_SCHEMA = {
    "movie_id": pl.String,
    "file_name": pl.String,
    "content_hash": pl.String,
    "language": pl.String,
    "language_source": pl.String,
    "detected_language": pl.String,
    "detected_probability": pl.Float64,
    "fingerprint": pl.String,
    "sidecar_hash": pl.String,
    "error": pl.String,
}


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


def route_languages(
    videos: pl.DataFrame,
    audio: pl.DataFrame,
    previous: pl.DataFrame | None,
    whisper: WhisperSettings,
    min_probability: float,
    cache: Path | None = None,
) -> tuple[pl.DataFrame, StageReport]:
    """Each movie's partition: the sidecar language, else whisper's detection (`und` when unsure)."""
    started = time.perf_counter()
    report = StageReport()
    prior = {r["movie_id"]: r for r in previous.iter_rows(named=True)} if previous is not None else {}
    meta = {r["movie_id"]: r for r in usable(videos).iter_rows(named=True)}
    rows = []
    for item in audio.filter(pl.col("error").is_null()).iter_rows(named=True):
        video = meta[item["movie_id"]]
        fingerprint = f"{whisper.fingerprint}:min{min_probability}:{video['sidecar_language']}"
        old = prior.get(item["movie_id"])
        if reusable(old, item["content_hash"], fingerprint):
            rows.append(old | {"sidecar_hash": video["sidecar_hash"], "file_name": video["file_name"]})
            report.cached += 1
            continue
        row = {
            "movie_id": item["movie_id"],
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
                    language=detected if probability >= min_probability else UNDETERMINED,
                )
            except MediaError as exc:
                cause = f"{video['path']}: {exc}"
                row.update(error=cause, language=None)
                report.fail(video["file_name"], cause)
        report.processed += 1
        rows.append(row)
    if cache and cache.is_dir():  # forget detections of audio no longer in the library
        live = {f"{h}.json" for h in audio["content_hash"]}
        for stale in cache.glob("*.json"):
            if stale.name not in live:
                stale.unlink(missing_ok=True)
    return pl.DataFrame(rows, schema=LANGUAGE_SCHEMA), _timed(report, started)


def changed_languages(
    previous: pl.DataFrame | None,
    current: pl.DataFrame,
    key: tuple[str, ...] = ("movie_id", "content_hash", "sidecar_hash"),
) -> list[str]:
    """Partitions whose movies (compared on `key`) changed, including ones that lost movies."""

    def state(frame: pl.DataFrame | None) -> dict[str, set[tuple]]:
        out: dict[str, set[tuple]] = {}
        if frame is None:
            return out
        for row in frame.filter(pl.col("language").is_not_null()).iter_rows(named=True):
            out.setdefault(row["language"], set()).add(tuple(row.get(column) for column in key))
        return out

    before, after = state(previous), state(current)
    return sorted(lang for lang in before.keys() | after.keys() if before.get(lang) != after.get(lang))


SEGMENT = pl.Struct({"start": pl.Float64, "end": pl.Float64, "text": pl.String})
TRANSCRIPT_SCHEMA = {
    "movie_id": pl.String,
    "content_hash": pl.String,
    "fingerprint": pl.String,
    "language": pl.String,
    "language_probability": pl.Float64,
    "detected_language": pl.String,
    "duration_s": pl.Float64,
    "segments": pl.List(SEGMENT),
    "error": pl.String,
}


def transcribe_partition(
    language: str,
    routes: pl.DataFrame,
    audio: pl.DataFrame,
    previous: pl.DataFrame | None,
    whisper: WhisperSettings,
) -> tuple[pl.DataFrame, StageReport]:
    started = time.perf_counter()
    report = StageReport()
    prior = {r["movie_id"]: r for r in previous.iter_rows(named=True)} if previous is not None else {}
    paths = dict(zip(audio["movie_id"], audio["audio_path"]))
    rows = []
    for route in routes.filter(pl.col("language") == language).iter_rows(named=True):
        old = prior.get(route["movie_id"])
        if reusable(old, route["content_hash"], whisper.fingerprint):
            rows.append(old)
            report.cached += 1
            continue
        row: dict[str, Any] = {
            "movie_id": route["movie_id"],
            "content_hash": route["content_hash"],
            "fingerprint": whisper.fingerprint,
            "detected_language": route["detected_language"],
            "language": language,
            "language_probability": route["detected_probability"],
            "duration_s": None,
            "segments": [],
            "error": None,
        }
        try:
            result = transcribe(Path(paths[route["movie_id"]]), whisper, None if language == UNDETERMINED else language)
            row.update(
                duration_s=result.duration_s,
                segments=[{"start": s.start, "end": s.end, "text": s.text} for s in result.segments],
            )
            if route["language_source"] == "sidecar" or language == UNDETERMINED:
                row.update(detected_language=result.language, language_probability=result.language_probability)
            report.processed += 1
        except MediaError as exc:
            row["error"] = f"{route.get('file_name') or route['movie_id']}: {exc}"
            report.fail(route["movie_id"], row["error"])
        rows.append(row)
    return pl.DataFrame(rows, schema=TRANSCRIPT_SCHEMA), _timed(report, started)


def segments_of(row: dict[str, Any]) -> list[Segment]:
    return [Segment(s["start"], s["end"], s["text"]) for s in row["segments"] or []]


SENTIMENT_SCHEMA = {
    "movie_id": pl.String,
    "content_hash": pl.String,
    "fingerprint": pl.String,
    "segment_scores": pl.List(pl.Float64),
    "sentiment": pl.Float64,
}


def score_partition(
    transcripts: pl.DataFrame,
    previous: pl.DataFrame | None,
    scorer: SentimentScorer,
    fingerprint: str,
    catalogue_only: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, StageReport]:
    """Per movie: segment scores and their duration-weighted mean; a movie known only from the
    catalogue is scored on its overview."""
    started = time.perf_counter()
    report = StageReport()
    prior = {r["movie_id"]: r for r in previous.iter_rows(named=True)} if previous is not None else {}
    rows = []
    items = [(tr["movie_id"], tr["content_hash"], tr["fingerprint"], segments_of(tr)) for tr in _ok(transcripts)]
    for movie in catalogue_only.iter_rows(named=True) if catalogue_only is not None else []:
        if movie["overview"]:
            digest = hashlib.sha256(movie["overview"].encode()).hexdigest()
            items.append((movie["movie_id"], digest, "overview", [Segment(0.0, 1.0, movie["overview"])]))
    for movie_id, content_hash, source_fingerprint, segments in items:
        key = f"{fingerprint}:{source_fingerprint}"
        old = prior.get(movie_id)
        if reusable(old, content_hash, key):
            rows.append(old)
            report.cached += 1
            continue
        scores = scorer.score([s.text for s in segments])
        overall = aggregate(scores, [max(s.end - s.start, 0.1) for s in segments])
        rows.append(
            {
                "movie_id": movie_id,
                "content_hash": content_hash,
                "fingerprint": key,
                "segment_scores": scores,
                "sentiment": overall,
            }
        )
        report.processed += 1
    return pl.DataFrame(rows, schema=SENTIMENT_SCHEMA), _timed(report, started)


def _ok(transcripts: pl.DataFrame | None) -> list[dict[str, Any]]:
    return list(transcripts.filter(pl.col("error").is_null()).iter_rows(named=True)) if transcripts is not None else []


def embedding_schema(dimension: int) -> dict[str, Any]:
    return {
        "point_id": pl.String,
        "movie_id": pl.String,
        "kind": pl.String,
        "chunk": pl.Int64,
        "text": pl.String,
        "start": pl.Float64,
        "end": pl.Float64,
        "cache_key": pl.String,
        "vector": pl.Array(pl.Float32, dimension),
    }


def _embedding_key(tr: dict[str, Any] | None, overview: str | None, embedder: Embedder) -> str:
    source = f"{tr['content_hash']}|{tr['fingerprint']}" if tr else "catalogue|"
    raw = f"{source}|{embedder.settings.fingerprint}|{overview or ''}"
    return hashlib.sha256(raw.encode()).hexdigest()


def embed_partition(
    transcripts: pl.DataFrame | None,
    movies: pl.DataFrame,
    previous: pl.DataFrame | None,
    embedder: Embedder,
) -> tuple[pl.DataFrame, StageReport]:
    """Transcript chunks + overview per movie, plus a `profile` point: the mean of the movie's vectors.

    `movies` are the partition's movies (see `catalogue.merge_movies`): a video needs its transcript,
    a catalogue-only movie is its overview.
    """
    started = time.perf_counter()
    report = StageReport()
    heard = {tr["movie_id"]: tr for tr in _ok(transcripts)}
    prior = previous.partition_by("movie_id", as_dict=True) if previous is not None and len(previous) else {}
    kept: list[pl.DataFrame] = []
    todo: list[tuple[str, dict[str, Any] | None, str | None, str]] = []
    for movie in movies.iter_rows(named=True):
        tr = heard.get(movie["movie_id"])
        if movie["content_hash"] is not None and tr is None:  # a video not (yet) transcribed
            continue
        if tr is None and not movie["overview"]:  # a catalogue row with nothing to embed
            continue
        key = _embedding_key(tr, movie["overview"], embedder)
        old = prior.get((movie["movie_id"],))
        if old is not None and old["cache_key"][0] == key:
            kept.append(old)
            report.cached += 1
        else:
            todo.append((movie["movie_id"], tr, movie["overview"], key))
    rows: list[dict[str, Any]] = []
    texts: list[str] = []
    with_overview = [(movie, overview) for movie, _, overview, _ in todo if overview]
    pieces = dict(zip([m for m, _ in with_overview], embedder.split_texts([o for _, o in with_overview])))
    for movie, tr, _overview, key in todo:
        first = len(rows)
        for i, chunk in enumerate(embedder.chunk_segments(segments_of(tr)) if tr else []):
            rows.append(
                {
                    "point_id": point_id(movie, "transcript", i),
                    "movie_id": movie,
                    "kind": "transcript",
                    "chunk": i,
                    "text": chunk.text,
                    "start": chunk.start,
                    "end": chunk.end,
                    "cache_key": key,
                }
            )
        for i, piece in enumerate(pieces.get(movie, [])):
            rows.append(
                {
                    "point_id": point_id(movie, "overview", i),
                    "movie_id": movie,
                    "kind": "overview",
                    "chunk": i,
                    "text": piece,
                    "start": None,
                    "end": None,
                    "cache_key": key,
                }
            )
        texts += [r["text"] for r in rows[first:]]
        report.processed += 1
    vectors = embedder.encode(texts) if texts else []  # one batched call across every changed movie
    for row, vector in zip(rows, vectors):
        row["vector"] = vector
    rows += _profiles(rows)
    if not rows:
        frame = pl.concat(kept) if kept else pl.DataFrame(schema=embedding_schema(embedder.dimension))
        return frame, _timed(report, started)
    fresh = pl.DataFrame(rows, schema=embedding_schema(embedder.dimension))
    frame = pl.concat([*kept, fresh]) if kept else fresh
    return frame.sort("movie_id", "kind", "chunk"), _timed(report, started)


def _profiles(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_movie: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_movie.setdefault(row["movie_id"], []).append(row)
    profiles = []
    for movie, items in by_movie.items():
        mean = np.mean([r["vector"] for r in items], axis=0)
        profiles.append(
            {
                "point_id": point_id(movie, "profile", 0),
                "movie_id": movie,
                "kind": "profile",
                "chunk": 0,
                "text": items[0]["text"],
                "start": None,
                "end": None,
                "cache_key": items[0]["cache_key"],
                "vector": (mean / (np.linalg.norm(mean) or 1.0)).astype(np.float32),
            }
        )
    return profiles


def build_points(
    language: str,
    embeddings: pl.DataFrame,
    movies: pl.DataFrame,
    sentiment: pl.DataFrame,
    model: str,
) -> list[VectorPoint]:
    meta = {r["movie_id"]: r for r in movies.iter_rows(named=True)}
    mood = dict(zip(sentiment["movie_id"], sentiment["sentiment"]))
    points = []
    for row in embeddings.iter_rows(named=True):
        movie = meta.get(row["movie_id"])
        if movie is None or movie["language"] != language:  # removed or re-filed since it was embedded
            continue
        payload = {
            "movie_id": row["movie_id"],
            "title": movie["title"],
            "language": language,
            "year": movie["year"],
            "genres": movie["genres"] or [],
            "sentiment": float(mood.get(row["movie_id"], 0.0)),
            "kind": row["kind"],
            "chunk": row["chunk"],
            "text": (row["text"] or "")[:EXCERPT_CHARS],
            "start": row["start"],
            "end": row["end"],
            "source": movie["source"],
            "catalogue_id": movie["catalogue_id"],
            "popularity": movie["popularity"],
            "content_hash": movie["content_hash"],
            "file_name": movie["file_name"],
            "model": model,
        }
        sparse = document_vector(row["text"] or "") if row["kind"] != "profile" else None
        points.append(VectorPoint(row["point_id"], row["vector"], payload, sparse))
    return points


def sync_partition(store: VectorStore, language: str, points: list[VectorPoint], version: str | None = None) -> int:
    """Make the language's points in the store exactly `points`: upsert first, then drop the rest.

    Upserting before deleting means a reader never sees a movie vanish while it is being replaced,
    and deterministic ids mean a rerun after a crash overwrites instead of duplicating.
    """
    store.upsert(points, version=version)
    keep = tuple(p.id for p in points)
    store.delete(PayloadFilter(languages=(language,), exclude_point_ids=keep), version=version)
    return len(points)
