"""One movie in full: what the store serves about it, its aliases, and its videos with their
transcripts (from the stage tables). Shared by `GET /movies/{id}` and `movrec show`. No Dagster here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from .home import MovrecHome, read_table
from .search import MovieNotFound, resolve_ids
from .vectorstore import PayloadFilter, VectorStore


def movie_details(store: VectorStore, home: MovrecHome | None, key: str) -> dict[str, Any]:
    """`key` is a movie id or an alias; the answer names the canonical id and the one asked for."""
    movie_id = resolve_ids(store, [key]).get(key)
    if movie_id is None:
        raise MovieNotFound(f"movie '{key}' is not in the index")
    points = store.scroll(PayloadFilter(movie_ids=(movie_id,)))
    first = next((p.payload for p in points if p.payload["kind"] == "profile"), points[0].payload)

    def by_kind(kind: str) -> list[dict[str, Any]]:
        return sorted((p.payload for p in points if p.payload["kind"] == kind), key=lambda p: p["chunk"])

    return {
        "movie_id": movie_id,
        "requested_id": key,
        "aliases": list(first.get("aliases") or []),
        "title": first["title"],
        "original_title": first.get("original_title"),
        "language": first["language"],
        "year": first.get("year"),
        "genres": first.get("genres") or [],
        "sentiment": first.get("sentiment") or 0.0,
        "catalogue_id": first.get("catalogue_id"),
        "overview": " ".join(p["text"] for p in by_kind("overview")) or None,
        "transcript": [
            {"video_id": p.get("video_id"), "start": p["start"], "end": p["end"], "text": p["text"]}
            for p in by_kind("transcript")
        ],
        "videos": movie_videos(home, movie_id, first["language"]) if home is not None else [],
    }


def movie_videos(home: MovrecHome, movie_id: str, language: str) -> list[dict[str, Any]]:
    """The movie's videos (id, kind, duration, spoken language, file) and each one's transcript segments."""
    links = read_table(home.table("movie_videos"))
    if links is None or "movie_id" not in links.columns:
        return []
    mine = links.filter(pl.col("movie_id") == movie_id).sort("kind", "video_id")
    audio = read_table(home.table("audio"))
    pictured = set()
    if audio is not None and "thumbnail_path" in audio.columns:
        pictured = set(audio.filter(pl.col("thumbnail_path").is_not_null())["video_id"])
    heard = read_table(home.table("transcripts", language))
    segments: dict[str, list[dict[str, Any]]] = {}
    if heard is not None and "video_id" in heard.columns:
        for row in heard.filter(pl.col("movie_id") == movie_id).iter_rows(named=True):
            segments[row["video_id"]] = list(row["segments"] or [])
    return [
        {
            "video_id": row["video_id"],
            "kind": row["kind"],
            "duration_s": row["duration_s"],
            "language": row["language"],
            "file_name": row["file_name"],
            "has_picture": row["video_id"] in pictured,
            "segments": segments.get(row["video_id"], []),
        }
        for row in mine.iter_rows(named=True)
    ]


def video_picture(home: MovrecHome, video_id: str) -> Path | None:
    """The file of a video's representative frame, when the audio stage made one."""
    audio = read_table(home.table("audio"))
    if audio is None or "thumbnail_path" not in audio.columns:
        return None
    found = audio.filter((pl.col("video_id") == video_id) & pl.col("thumbnail_path").is_not_null())
    if found.is_empty():
        return None
    path = Path(found["thumbnail_path"][0])
    # only files the stage wrote under this home: a table edited by hand cannot serve other files
    return path if path.is_file() and path.resolve().parent == home.thumbnail_file("x").resolve().parent else None
