"""The `embeddings` stage: per movie, its title, overview pieces and every video's transcript chunks
as L2-normalised vectors, plus a `profile` point (the mean of its overview and transcript vectors).
Each text has a vector by the embedder's model (`vector`) and, where they are configured, by its
second models (`vector2`: theirs end to end, more lists in search); chunks are cut to the first
model's token limit (a second model reads at most as many of its own tokens, and truncates the rare
longer one).

Two caches keep work from being done twice. A movie whose inputs (title, year, overview, videos and
their transcripts, model) are unchanged keeps its rows as they are (`source_key`). Within a changed
movie, a text whose vector is known (same model, same text: `text_hash`) from any earlier table is
not encoded again: a second video of a film embeds only its own chunks, and a home written by an
older release (see `upgrade.py`) re-embeds nothing whose text did not change.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from ..embedding import Embedder, SecondModels
from ..progress import Tracker
from ..tables import LINE, embedding_schema
from ..vectorstore import point_id
from .report import StageReport, timed
from .transcripts import ok_rows, segments_of

PROFILE_KINDS = ("overview", "transcript")  # a title says little about what a movie is like
PROGRESS_STEP = 1024  # texts per encode call: a 10k-movie catalogue reports progress ten times
# 2: overview pieces headed by the title, the title point sharing their vector (1: embedded apart)
DOCUMENT_FORMAT = "document-2"


def text_hash(model_fingerprint: str, text: str) -> str:
    return hashlib.sha256(f"{model_fingerprint}\x1fpassage\x1f{text}".encode()).hexdigest()


def title_text(movie: dict[str, Any]) -> str:
    """What the title point embeds: the title, the original title when it differs, and the year."""
    text = movie["title"] or movie["movie_id"]
    if movie.get("original_title") and movie["original_title"] != movie["title"]:
        text += f" / {movie['original_title']}"
    return f"{text} ({movie['year']})" if movie["year"] else text


def document_text(title: str, piece: str) -> str:
    """What an overview point embeds: the movie's title, then the piece."""
    return f"{title}. {piece}" if piece else title


def _source_key(movie: dict[str, Any], trs: list[dict[str, Any]], model: str) -> str:
    heard = [f"{t['video_id']}:{t['content_hash']}:{t['fingerprint']}" for t in trs]
    raw = [model, DOCUMENT_FORMAT, title_text(movie), movie["overview"] or "", *heard]
    return hashlib.sha256("\x1f".join(raw).encode()).hexdigest()


def _without_lines(rows: pl.DataFrame) -> bool:
    return bool(rows.filter((pl.col("kind") == "transcript") & pl.col("lines").is_null()).height)


def known_vectors(frames: list[pl.DataFrame]) -> dict[str, np.ndarray]:
    """text_hash -> vector from every stored table that has them, both models' (a hash names its model)."""
    out: dict[str, np.ndarray] = {}
    for frame in frames:
        if not len(frame):
            continue
        rows = frame.filter(pl.col("kind") != "profile") if "kind" in frame.columns else frame
        for hashes, vectors in (("text_hash", "vector"), ("text_hash2", "vector2")):
            if hashes not in rows.columns:
                continue
            known = rows.drop_nulls(hashes)
            for key, vector in zip(known[hashes], known[vectors].to_numpy()):
                out[key] = vector
    return out


def embed_partition(
    movies: pl.DataFrame,
    transcripts: pl.DataFrame | None,
    previous: pl.DataFrame | None,
    embedder: Embedder,
    vectors: dict[str, np.ndarray] | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[pl.DataFrame, StageReport]:
    """`movies`: the partition's movies (see `entities.resolve_movies`); `vectors`: known text vectors
    (`known_vectors`). A movie with videos waits until one of them is transcribed, unless the
    catalogue or a sidecar gave it an overview."""
    started = time.perf_counter()
    report = StageReport()
    fingerprint, second_fingerprint = embedder.settings.fingerprint, embedder.settings.second_fingerprint
    second = embedder.second
    vectors = {**(known_vectors([previous]) if previous is not None else {}), **(vectors or {})}
    heard: dict[str, list[dict[str, Any]]] = {}
    for tr in ok_rows(transcripts):
        heard.setdefault(tr["movie_id"], []).append(tr)
    if previous is not None and "source_key" not in previous.columns:
        previous = None  # an older layout: its vectors come in through `vectors` (see upgrade.py)
    if previous is not None and "lines" not in previous.columns:  # written before lines were kept
        previous = previous.insert_column(
            previous.columns.index("end") + 1, pl.Series("lines", [None] * len(previous), pl.List(LINE))
        )
    prior = previous.partition_by("movie_id", as_dict=True) if previous is not None and len(previous) else {}
    kept: list[pl.DataFrame] = []
    todo: list[tuple[dict[str, Any], list[dict[str, Any]], str]] = []
    for movie in movies.iter_rows(named=True):
        trs = sorted(heard.get(movie["movie_id"], []), key=lambda t: t["video_id"])
        if movie["video_ids"] and not trs and not movie["overview"]:
            continue  # its videos are not transcribed (yet), and there is nothing else to say
        key = _source_key(movie, trs, embedder.settings.vectors_version)
        old = prior.get((movie["movie_id"],))
        # a transcript chunk written without its lines is cut again (its vectors reused by text hash)
        if old is not None and old["source_key"][0] == key and not _without_lines(old):
            kept.append(old)
            report.cached += 1
        else:
            todo.append((movie, trs, key))
    rows: list[dict[str, Any]] = []
    encode: dict[str, str] = {}  # text hash -> the text the model reads
    encode2: dict[str, str] = {}  # the same for the second models (one hash for all of them)
    pieces = embedder.split_texts([m["overview"] or "" for m, _, _ in todo]) if todo else []
    for (movie, trs, key), overview in zip(todo, pieces):
        title = title_text(movie)
        # the movie's document: its title heads every overview piece ("The Martian (2015). An
        # astronaut..."), so what a query says of the film and of its name meet in one vector; a
        # movie without an overview is its title alone. The title point (exact-title lookups) shares
        # the first piece's vector: nothing is encoded twice.
        texts: list[tuple[str, str | None, int, str, str, float | None, float | None, list | None]] = [
            ("overview", None, i, piece, document_text(title, piece), None, None, None)
            for i, piece in enumerate([p for p in overview if p.strip()] or [""])
        ]
        texts.insert(0, ("title", None, 0, title, texts[0][4], None, None, None))
        for tr in trs:
            for i, chunk in enumerate(embedder.chunk_segments(segments_of(tr))):
                lines = [{"start": at, "text": line} for at, line in chunk.lines]
                texts.append(("transcript", tr["video_id"], i, chunk.text, chunk.text, chunk.start, chunk.end, lines))
        for kind, video, chunk, text, encoded, start, end, lines in texts:
            rows.append(
                {
                    "point_id": point_id(movie["movie_id"], kind if video is None else f"{kind}:{video}", chunk),
                    "movie_id": movie["movie_id"],
                    "video_id": video,
                    "kind": kind,
                    "chunk": chunk,
                    "text": text,
                    "start": start,
                    "end": end,
                    "lines": lines,
                    "source_key": key,
                    "text_hash": text_hash(fingerprint, encoded),
                }
            )
            encode[rows[-1]["text_hash"]] = encoded
            if second is not None and second_fingerprint is not None:
                rows[-1]["text_hash2"] = text_hash(second_fingerprint, encoded)
                encode2[rows[-1]["text_hash2"]] = encoded
        report.processed += 1
    missing = _encode_missing(embedder, encode, vectors, "embedding", log)
    report.notes["encoded_texts"] = str(len(missing))
    report.notes["reused_texts"] = str(len(encode) - len(missing))
    if second is not None:
        report.notes["encoded_texts_second"] = str(_encode_seconds(second, encode2, vectors, log))
    for row in rows:
        row["vector"] = vectors[row["text_hash"]]
        if second is not None:
            row["vector2"] = vectors[row["text_hash2"]]
    rows += _profiles(rows)
    if rows:
        dims = (len(rows[0]["vector"]), len(rows[0]["vector2"]) if second is not None else None)
        fresh = [pl.DataFrame(rows, schema=embedding_schema(*dims))]
    else:  # nothing new: the schema from what is kept (the model is not loaded for nothing)
        dims = (embedder.dimension, second.dimension if second is not None else None)
        fresh = [] if kept else [pl.DataFrame(schema=embedding_schema(*dims))]
    frame = pl.concat([*kept, *fresh])
    return frame.sort("movie_id", "kind", "video_id", "chunk", nulls_last=True), timed(report, started)


def _encode_missing(
    embedder: Embedder | SecondModels,
    encode: dict[str, str],
    vectors: dict[str, np.ndarray],
    label: str,
    log: Callable[[str], None] | None,
) -> list[str]:
    """Encode the texts of `encode` (hash -> text) whose vectors are not known yet into `vectors`,
    batched across every changed movie; the hashes encoded."""
    missing = [k for k in encode if k not in vectors]
    track = Tracker(label, f"{len(missing)} texts", log)
    for i in range(0, len(missing), PROGRESS_STEP):
        part = missing[i : i + PROGRESS_STEP]
        for key, vector in zip(part, embedder.encode([encode[k] for k in part])):
            vectors[key] = vector
        track(i + len(part), len(missing))
    return missing


def _encode_seconds(
    second: SecondModels,
    encode: dict[str, str],
    vectors: dict[str, np.ndarray],
    log: Callable[[str], None] | None,
) -> int:
    """The second models' vectors, end to end, of the texts of `encode` (hash -> text) not known yet,
    into `vectors`; the texts encoded, summed over the models. Each model's part is looked up on its
    own first (`text_hash` by that model alone): a table written with fewer second models (MiniLM
    alone, the release before USE) keeps what that model read, and only the added one encodes."""
    missing = [k for k in encode if k not in vectors]
    parts = [{key: text_hash(model.settings.fingerprint, encode[key]) for key in missing} for model in second.models]
    encoded = 0
    for model, keys in zip(second.models, parts):
        label = f"second: {model.settings.model}"
        encoded += len(_encode_missing(model, {keys[key]: encode[key] for key in missing}, vectors, label, log))
    for key in missing:
        vectors[key] = np.concatenate([vectors[keys[key]] for keys in parts])
    return encoded


def _unit_mean(vectors: list[np.ndarray]) -> np.ndarray:
    mean = np.mean(vectors, axis=0)
    return (mean / (np.linalg.norm(mean) or 1.0)).astype(np.float32)


def _profiles(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_movie: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_movie.setdefault(row["movie_id"], []).append(row)
    profiles = []
    for movie, items in by_movie.items():
        content = [r for r in items if r["kind"] in PROFILE_KINDS] or items
        second = {}
        if "vector2" in items[0]:
            second = {"text_hash2": None, "vector2": _unit_mean([r["vector2"] for r in content])}
        profiles.append(
            {
                "point_id": point_id(movie, "profile", 0),
                "movie_id": movie,
                "video_id": None,
                "kind": "profile",
                "chunk": 0,
                "text": content[0]["text"],
                "start": None,
                "end": None,
                "lines": None,
                "source_key": items[0]["source_key"],
                "text_hash": None,
                "vector": _unit_mean([r["vector"] for r in content]),
                **second,
            }
        )
    return profiles
