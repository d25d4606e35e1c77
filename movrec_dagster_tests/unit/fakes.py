"""Small fakes for the fast tier: pure-logic tests only (the real models run in the other tests)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from movrec_dagster.core.catalogue import CATALOGUE_SCHEMA
from movrec_dagster.core.embedding import Chunk, Embedder, EmbedderSettings, SecondModels
from movrec_dagster.core.home import MovrecHome
from movrec_dagster.core.tables import VIDEO_SCHEMA
from movrec_dagster.core.vectorstore import EdgeStore


class FakeEmbedder:
    """Deterministic 8-d vectors from a text's hash; counts what it was asked to encode."""

    dimension = 8

    def __init__(self, second: bool | tuple[str, ...] = False, model: str = "fake") -> None:
        """`second`: with second fake models (other seeds; True: one, "fake-second"), as
        `Embedder.second`; a name of `models.MODEL_LANGUAGES` or `MODEL_SKIPS` is asked like it."""
        names = ("fake-second",) if second is True else tuple(second or ())
        self.settings = EmbedderSettings(model=model, second_model=",".join(names) or None)
        self.encoded: list[str] = []
        self.second = SecondModels([FakeEmbedder(model=name) for name in names]) if names else None

    asked = Embedder.asked  # the real language check: it reads only the settings' model name

    def layout(self) -> tuple[int, tuple[str, tuple[int, ...]] | None]:
        fingerprint = self.settings.second_fingerprint
        return self.dimension, ((fingerprint, self.second.dimensions) if self.second and fingerprint else None)

    def encode(self, texts: list[str], kind: str = "passage") -> np.ndarray:
        self.encoded += texts
        out = []
        for text in texts:
            key = f"{self.settings.model}:{kind}:{text}"
            seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "little")
            vector = np.random.default_rng(seed).normal(size=self.dimension).astype(np.float32)
            out.append(vector / np.linalg.norm(vector))
        return np.array(out, dtype=np.float32)

    def split_texts(self, texts: list[str]) -> list[list[str]]:
        return [[t] if t else [] for t in texts]

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def chunk_segments(self, segments: list[Any]) -> list[Chunk]:
        return [Chunk(s.text, s.start, s.end, ((s.start, s.text),)) for s in segments]


def video(video_id: str, **fields: Any) -> dict[str, Any]:
    row = dict.fromkeys(VIDEO_SCHEMA) | {
        "video_id": video_id,
        "path": f"/uploads/{video_id}.mp4",
        "file_name": f"{video_id}.mp4",
        "content_hash": hashlib.sha256(video_id.encode()).hexdigest(),
        "duration_s": 60.0,
        "title": video_id,
        "title_from_sidecar": False,
        "genres": [],
        "kind": "clip",
    }
    if "title" in fields:
        row["title_from_sidecar"] = True
    return row | fields


def videos(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=VIDEO_SCHEMA)


def catalogue(*rows: tuple[int, str, int, str, float]) -> pl.DataFrame:
    """(tmdb id, title, year, language, popularity) rows."""
    return pl.DataFrame(
        [
            {
                "movie_id": f"tmdb-{i}",
                "catalogue_id": str(i),
                "title": title,
                "original_title": None,
                "imdb_id": None,
                "year": year,
                "genres": ["Drama"],
                "language": language,
                "overview": f"The overview of {title}.",
                "popularity": popularity,
                "source_file": "tmdb.csv",
            }
            for i, title, year, language, popularity in rows
        ],
        schema=CATALOGUE_SCHEMA,
    )


def indexed_home(root: Path, *movies: tuple[int, str, int, str, float]) -> tuple[MovrecHome, EdgeStore]:
    """A home whose catalogue `movies` is indexed with fake vectors: the movies table, each language's
    embeddings table (what the batch paths read) and the serving collection."""
    from movrec_dagster.core.entities import resolve_movies
    from movrec_dagster.core.home import write_table
    from movrec_dagster.core.indexing import build_points, sync_partition
    from movrec_dagster.core.stages import embed_partition

    home = MovrecHome(root).ensure()
    res = resolve_movies(pl.DataFrame(schema=VIDEO_SCHEMA), {}, catalogue(*movies))
    write_table(res.movies, home.table("movies"))
    store = EdgeStore(home.qdrant)
    store.switch(store.create_version("movies__fake__1", FakeEmbedder.dimension, "fake").name)
    for language in sorted(res.movies["language"].unique().to_list()):
        members = res.movies.filter(pl.col("language") == language)
        frame, _ = embed_partition(members, None, None, FakeEmbedder())
        write_table(frame, home.table("embeddings", language))
        sync_partition(store, language, build_points(language, frame, members, None, "fake"))
    return home, store
