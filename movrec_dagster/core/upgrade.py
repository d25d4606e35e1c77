"""Upgrading a MOVREC_HOME written by an older release, in place, without redoing finished work.

Format 1 (up to the one-movie-per-video release) keyed every stage by movie id and cached embeddings
per movie. Format 2 keys per-file stages by video id, attaches videos to movies, and caches vectors
by text. What carries over, and how:

* uploads, WAVs and whisper's language detections are keyed by content hash: reused as they are;
* transcripts are reused by content hash, whisper settings and language (`known_transcripts`);
* vectors: an old embeddings row is trusted only when its cache key still verifies against the old
  movies and transcripts tables under *today's* model settings; its vector is then kept under its
  text (`data/legacy/vectors.parquet`), so the embeddings stage encodes none of those texts again;
* which video made which movie becomes the previous attachment, so the old movie ids turn into
  aliases of the new canonical ones and keep resolving;
* the collection is re-indexed from those tables (point ids changed); sentiment is recomputed (cheap).

Runs once, at the start of the next scan, and records `data/FORMAT`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import polars as pl

from .entities import MOVIE_VIDEO_SCHEMA
from .home import MovrecHome, read_table, write_table, write_text_atomic
from .library import video_id_for
from .stages.embeddings import text_hash
from .tables import conform

FORMAT = "2"


def _format_file(home: MovrecHome) -> Path:
    return home.data / "FORMAT"


def legacy_vectors_path(home: MovrecHome) -> Path:
    return home.data / "legacy" / "vectors.parquet"


def upgrade_home(home: MovrecHome, embedder_fingerprint: str) -> str:
    """Bring `home` to FORMAT; returns what was done ("" when it was current or new)."""
    marker = _format_file(home)
    if marker.is_file() and marker.read_text().strip() == FORMAT:
        return ""
    old_movies = read_table(home.table("movies"))
    done = ""
    if old_movies is not None and "video_ids" not in old_movies.columns:
        links = _legacy_links(old_movies)
        write_table(links, home.table("movie_videos"))
        kept = _legacy_vectors(home, old_movies, embedder_fingerprint)
        done = f"format 1 -> {FORMAT}: {len(links)} video attachments, {kept} verified vectors carried over"
    write_text_atomic(marker, FORMAT)
    return done


def _legacy_links(old_movies: pl.DataFrame) -> pl.DataFrame:
    """Format 1 had one video per movie: the movie id it was served under, by the file's video id."""
    rows = [
        {"video_id": video_id_for(Path(name)), "movie_id": movie, "content_hash": content, "file_name": name}
        for movie, name, content in old_movies.select("movie_id", "file_name", "content_hash").iter_rows()
        if name and content
    ]
    frame = pl.DataFrame(
        rows, schema={k: MOVIE_VIDEO_SCHEMA[k] for k in ("video_id", "movie_id", "content_hash", "file_name")}
    )
    return conform(frame, MOVIE_VIDEO_SCHEMA)  # type: ignore[return-value]


def _old_key(source: str, fingerprint: str, overview: str | None) -> str:
    return hashlib.sha256(f"{source}|{fingerprint}|{overview or ''}".encode()).hexdigest()


def _legacy_vectors(home: MovrecHome, old_movies: pl.DataFrame, fingerprint: str) -> int:
    heard: dict[str, str] = {}
    for path in sorted((home.data / "transcripts").glob("*.parquet")):
        frame = read_table(path)
        if frame is None or "video_id" in frame.columns:
            continue
        for row in frame.filter(pl.col("error").is_null()).iter_rows(named=True):
            heard[row["movie_id"]] = f"{row['content_hash']}|{row['fingerprint']}"
    overview = dict(zip(old_movies["movie_id"], old_movies["overview"]))
    keys, vectors = [], []
    for path in sorted((home.data / "embeddings").glob("*.parquet")):
        frame = read_table(path)
        if frame is None or "cache_key" not in frame.columns or "text_hash" in frame.columns:
            continue
        for movie, rows in frame.filter(pl.col("kind") != "profile").partition_by("movie_id", as_dict=True).items():
            movie = movie[0]
            source = heard.get(movie, "catalogue|")
            if rows["cache_key"][0] != _old_key(source, fingerprint, overview.get(movie)):
                continue  # another model, or inputs that changed since: recomputed, never trusted
            keys += [text_hash(fingerprint, text) for text in rows["text"]]
            vectors.append(rows["vector"].to_numpy())
    if not keys:
        return 0
    matrix = np.concatenate(vectors).astype(np.float32)
    frame = pl.DataFrame({"text_hash": keys, "vector": list(matrix)}).with_columns(
        pl.col("vector").cast(pl.Array(pl.Float32, matrix.shape[1]))
    )
    write_table(frame.unique("text_hash"), legacy_vectors_path(home))
    return len(keys)


def previous_links(home: MovrecHome) -> pl.DataFrame | None:
    """The last attachment of videos to movies (format 1's, after `upgrade_home`)."""
    return conform(read_table(home.table("movie_videos")), MOVIE_VIDEO_SCHEMA)
