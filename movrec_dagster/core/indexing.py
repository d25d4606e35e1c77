"""From stage tables to the vector store, and the one answer to "which partitions need indexing?".

The answer is `partitions_to_index`: the crash-safe pending list (`pending.py`), which a scan fills
*before* it writes the movies table and an index run empties *after* its points are written, plus
any known partition that was never indexed. The upload and index sensors, the CLI runner and the
`transcripts` asset all ask it; nothing reads the answer back from event-log metadata.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import numpy as np
import polars as pl

from .entities import title_keys
from .home import MovrecHome, read_table
from .lexical import document_vector, term_counts, text_languages
from .pending import pending_partitions
from .stages.embeddings import document_text, title_text
from .vectorstore import PayloadFilter, VectorPoint, VectorStore
from .vectorstore.types import renown

EXCERPT_CHARS = 500
VECTOR_COLUMNS = ("vector", "vector2")
CHANGE_KEY = ("movie_id", "content_hash", "meta_hash")


def changed_partitions(previous: pl.DataFrame | None, current: pl.DataFrame) -> list[str]:
    """Language partitions whose movies changed (compared on CHANGE_KEY), including ones that lost movies."""

    def state(frame: pl.DataFrame | None) -> dict[str, set[tuple]]:
        out: dict[str, set[tuple]] = {}
        if frame is None:
            return out
        for row in frame.filter(pl.col("language").is_not_null()).iter_rows(named=True):
            out.setdefault(row["language"], set()).add(tuple(row.get(column) for column in CHANGE_KEY))
        return out

    before, after = state(previous), state(current)
    return sorted(lang for lang in before.keys() | after.keys() if before.get(lang) != after.get(lang))


def partitions_to_index(home: MovrecHome, known: set[str], indexed: set[str]) -> list[str]:
    """Every partition whose points are not (all) written: pending after a scan or a killed run,
    or known to Dagster and never indexed. `known` and `indexed` are Dagster's partition facts,
    handed in as data.

    Smallest first: an embedded shard is opened at least once per partition run and opening costs
    grow with the points in it (0.3 s at 30k), so the many small languages of a first catalogue
    ingest are written while the collection is small, and the big one last (43 partitions of the
    TMDB top-10k: 226 s -> BENCHMARKS.md)."""
    todo = (set(pending_partitions(home)) & known) | (known - indexed)
    movies = read_table(home.table("movies"))
    sizes = dict(movies.group_by("language").len().iter_rows()) if movies is not None and len(movies) else {}
    return sorted(todo, key=lambda language: (sizes.get(language, 0), language))


def build_points(
    language: str,
    embeddings: pl.DataFrame,
    movies: pl.DataFrame,
    sentiment: pl.DataFrame | None,
    model: str,
    aliases: pl.DataFrame | None = None,
    kinds: dict[str, str] | None = None,
) -> list[VectorPoint]:
    """The partition's points: payload for filters, evidence and lookups (title keys, aliases)."""
    meta = {r["movie_id"]: r for r in movies.iter_rows(named=True)}
    mood = dict(zip(sentiment["movie_id"], sentiment["sentiment"])) if sentiment is not None else {}
    also: dict[str, list[str]] = {}
    for alias, target in aliases.select("alias", "movie_id").iter_rows() if aliases is not None else []:
        also.setdefault(target, []).append(alias)
    kinds = kinds or {}
    vectors, seconds = _vector_rows(embeddings, "vector"), _vector_rows(embeddings, "vector2")
    rows = [  # not those removed or re-filed since they were embedded
        (row, movie, vectors[n], seconds[n])
        for n, row in enumerate(embeddings.drop(VECTOR_COLUMNS, strict=False).iter_rows(named=True))
        if (movie := meta.get(row["movie_id"])) is not None and movie["language"] == language
    ]
    # catalogue text says its own language (transcripts are in their spoken one): read all at once
    documents = {
        i: document_text(title_text(movie), row["text"] or "")
        for i, (row, movie, _, _) in enumerate(rows)
        if row["kind"] == "overview"
    }
    written = dict(zip(documents, text_languages(list(documents.values()), language)))
    points = []
    for i, (row, movie, vector, second) in enumerate(rows):
        payload = {
            "movie_id": row["movie_id"],
            "title": movie["title"],
            "original_title": movie["original_title"],
            "title_keys": sorted({*title_keys(movie["title"]), *title_keys(movie["original_title"])}),
            "aliases": sorted(also.get(row["movie_id"], [])),
            "language": language,
            # what the text is written in: a transcript's spoken language, a catalogue text's own
            # (read once here; a hit's matched sentence is found with its analyzer)
            "text_language": written.get(i, language),
            "year": movie["year"],
            "genres": movie["genres"] or [],
            "sentiment": float(mood.get(row["movie_id"], 0.0)),
            "kind": row["kind"],
            "chunk": row["chunk"],
            "text": (row["text"] or "")[:EXCERPT_CHARS],
            "start": row["start"],
            "end": row["end"],
            "video_id": row["video_id"],
            "video_kind": kinds.get(row["video_id"]) if row["video_id"] else None,
            "picture_video": picture_video(movie, kinds),
            "source": movie["source"],
            "catalogue_id": movie["catalogue_id"],
            "imdb_id": movie["imdb_id"],
            "popularity": movie["popularity"],
            "renown": renown(movie["popularity"]),
            "content_hash": movie["content_hash"],
            "file_name": movie["file_name"],
            "model": model,
        }
        sparse = None
        if row["kind"] == "transcript":  # in its spoken language
            sparse = document_vector(row["text"] or "", language)
            if row.get("lines"):  # the chunk's lines and when each is said: what a hit quotes and seeks to
                payload["lines"] = [[line["start"], line["text"]] for line in row["lines"]]
        elif row["kind"] == "overview":  # the document (see `embed_partition`)
            sparse = document_vector(documents[i], written[i])
        points.append(VectorPoint(row["point_id"], vector, payload, sparse, second))
    return points


def _vector_rows(frame: pl.DataFrame, column: str) -> list[np.ndarray | None]:
    """Each row's `column` as a float32 array (None where null or absent), read as one block:
    turning 23k rows of vectors into Python floats one row at a time took 3 s of the 10k catalogue's
    English partition (6 s to build its points), and every writer turned them back into arrays."""
    if column not in frame.columns:
        return [None] * len(frame)
    series = frame[column]
    if isinstance(series.dtype, pl.Array) and not series.null_count():
        return list(series.to_numpy().astype(np.float32, copy=False))
    return [None if v is None else np.asarray(v, dtype=np.float32) for v in series.to_list()]


def fit_points(points: list[VectorPoint], version_second: str | None, second: str | None) -> list[VectorPoint]:
    """The points as a version can hold them: without their second vectors where the version has
    none, or other models' (a version written before these second models were configured, written to
    until its blue/green rebuild is swapped in)."""
    if version_second == second:
        return points
    return [replace(p, second=None) for p in points]


def picture_video(movie: dict, kinds: dict[str, str]) -> str | None:
    """The video whose frame pictures the movie: its film, else a trailer, else any (by id)."""
    order = {"film": 0, "trailer": 1}
    ids = sorted(movie.get("video_ids") or [], key=lambda v: (order.get(kinds.get(v, ""), 2), v))
    return ids[0] if ids else None


def point_digest(point: VectorPoint) -> str:
    """What a stored point would have to equal to need no write: its vectors and payload, hashed."""
    digest = hashlib.blake2b(digest_size=16)
    for vector in (point.vector, point.second):
        digest.update(b"-" if vector is None else np.asarray(vector, dtype=np.float32).tobytes())
    payload = {key: value for key, value in point.payload.items() if key != "digest"}  # a copied point's own
    digest.update(json.dumps([point.sparse, payload], sort_keys=True, default=str).encode())
    return digest.hexdigest()


def sync_partition(store: VectorStore, language: str, points: list[VectorPoint], version: str | None = None) -> int:
    """Make the language's points in the store exactly `points`: upsert what changed, then drop the
    rest; the number of points written.

    Each point carries its `digest` (`point_digest`), so a sync writes only points whose digest the
    store does not hold: a new video of a 7,800-movie partition writes its own few points instead
    of all 23k, whose rewrite also made the next optimization rebuild the whole segment (4-8 s at
    10k movies). Upserting before deleting means a reader never sees a movie vanish while it is
    being replaced, and deterministic ids mean a rerun after a crash overwrites instead of
    duplicating; points written by a release without digests are written once more. The language's
    BM25 term counts (`types.TermCounts`) are written last, from the same points.
    """
    points = [replace(p, payload=p.payload | {"digest": point_digest(p)}) for p in points]
    held = store.scroll(PayloadFilter(languages=(language,)), version, fields=["digest"])
    stored = {h.id: h.payload.get("digest") for h in held}
    changed = [p for p in points if stored.get(p.id) != p.payload["digest"]]
    if changed:
        store.upsert(changed, version=version)
    keep = tuple(p.id for p in points)
    if set(stored) - set(keep):
        store.delete(PayloadFilter(languages=(language,), exclude_point_ids=keep), version=version)
    # after the points: a rerun after a crash writes them again, from the same points
    store.write_terms(language, term_counts(p.sparse for p in points), version=version)
    store.optimize(version, due_only=True)  # the int8 copy, once enough was written (types.DenseIndex)
    return len(changed)
