"""Every stage table's schema, in one place: what the Parquet files under MOVREC_HOME/data hold.

Per-file stages (videos, audio, spoken_languages, transcripts) are keyed by `video_id`; per-movie
ones (movies, sentiment, embeddings) by `movie_id`. `entities.py` holds the movie-level schemas.
"""

from __future__ import annotations

from typing import Any

import polars as pl

VIDEO_SCHEMA = {
    "video_id": pl.String,
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
    "title_from_sidecar": pl.Boolean,
    "year": pl.Int64,
    "genres": pl.List(pl.String),
    "overview": pl.String,
    "sidecar_language": pl.String,
    "catalogue_id": pl.String,
    "sidecar_id": pl.String,
    "movie_hint": pl.String,
    "imdb_id": pl.String,
    "kind": pl.String,
    "kind_source": pl.String,
    "sidecar_hash": pl.String,
    "error": pl.String,
    "held_back_error": pl.String,  # the file on disk is broken; the row is its last good version
}
AUDIO_SCHEMA = {
    "video_id": pl.String,
    "file_name": pl.String,
    "content_hash": pl.String,
    "audio_path": pl.String,
    "audio_seconds": pl.Float64,
    "thumbnail_path": pl.String,  # a representative frame (JPEG); None for audio-only uploads
    "error": pl.String,
}
LANGUAGE_SCHEMA = {
    "video_id": pl.String,
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
SEGMENT = pl.Struct({"start": pl.Float64, "end": pl.Float64, "text": pl.String})
LINE = pl.Struct({"start": pl.Float64, "text": pl.String})  # a transcript chunk's line: when it is said
TRANSCRIPT_SCHEMA = {
    "video_id": pl.String,
    "movie_id": pl.String,
    "content_hash": pl.String,
    "fingerprint": pl.String,
    "language": pl.String,  # the language whisper was told (the video's spoken language)
    "language_probability": pl.Float64,
    "detected_language": pl.String,
    "duration_s": pl.Float64,
    "segments": pl.List(SEGMENT),
    "error": pl.String,
}
SENTIMENT_SCHEMA = {
    "movie_id": pl.String,
    "content_hash": pl.String,
    "fingerprint": pl.String,
    "segment_scores": pl.List(pl.Float64),
    "sentiment": pl.Float64,
}


def embedding_schema(dimension: int, second_dimension: int | None = None) -> dict[str, Any]:
    """`second_dimension`: the second models' vectors too, end to end (`EmbedderSettings.second_models`)."""
    schema = {
        "point_id": pl.String,
        "movie_id": pl.String,
        "video_id": pl.String,
        "kind": pl.String,  # title | overview | transcript | profile
        "chunk": pl.Int64,
        "text": pl.String,
        "start": pl.Float64,
        "end": pl.Float64,
        # a transcript chunk's lines (its segments, or their pieces) with their times: what a hit
        # quotes and seeks to (`sentences.matched_line`); null for catalogue text
        "lines": pl.List(LINE),
        "source_key": pl.String,  # the movie's inputs: unchanged key, rows reused as they are
        "text_hash": pl.String,  # model + text: a vector is never computed twice for the same text
        "vector": pl.Array(pl.Float32, dimension),
    }
    if second_dimension:
        schema |= {"text_hash2": pl.String, "vector2": pl.Array(pl.Float32, second_dimension)}
    return schema


def conform(frame: pl.DataFrame | None, schema: dict[str, Any]) -> pl.DataFrame | None:
    """A stored table in today's schema, or None when it was written in an older shape that lacks
    a key column (the stage then recomputes, reusing what its content caches still hold)."""
    if frame is None:
        return None
    key = next(iter(schema))
    if key not in frame.columns:
        return None
    missing = [pl.lit(None, dtype=dtype).alias(name) for name, dtype in schema.items() if name not in frame.columns]
    return frame.with_columns(missing).select(list(schema)).cast(schema)  # type: ignore[arg-type]
