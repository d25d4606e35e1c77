"""Helpers the quality benchmarks share: the real embedder with query vectors computed once, the
Wilson interval of a share, a real embedded collection of a catalogue, and fusion settings to try."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl

from movrec_dagster.core.embedding import Embedder, SecondModels
from movrec_dagster.core.home import read_table, write_table
from movrec_dagster.core.indexing import build_points, sync_partition
from movrec_dagster.core.stages import embed_partition
from movrec_dagster.core.vectorstore import EdgeStore
from movrec_dagster.core.vectorstore import types as vtypes


class QueryCache:
    """The real embedder, with query vectors computed once in a batch (the same model output), its
    second models' too; `second=False`: as if no second model were configured."""

    def __init__(self, embedder: Embedder, queries: list[str], second: bool = True) -> None:
        self.embedder = embedder
        self.settings = embedder.settings if second else embedder.settings.only_first()
        self.vectors = dict(zip(queries, embedder.encode(queries, kind="query")))
        models = embedder.second.models if second and embedder.second is not None else []
        self.second = SecondModels([QueryCache(m, queries) for m in models]) if models else None  # type: ignore[misc]

    def layout(self) -> tuple[int, tuple[str, tuple[int, ...]] | None]:
        return self.embedder.layout()

    @property
    def dimension(self) -> int:
        return self.embedder.dimension

    def asked(self, text: str) -> bool:
        return self.embedder.asked(text)

    def count_tokens(self, text: str) -> int:
        return self.embedder.count_tokens(text)

    def encode(self, texts: list[str], kind: str = "passage") -> np.ndarray:
        return np.array([self.vectors[t] for t in texts]) if kind == "query" else self.embedder.encode(texts, kind)


def wilson(hits: int, n: int, z: float = 1.96, digits: int = 4) -> str:
    if not n:
        return "n/a"
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return f"{p:.{digits}f} [{centre - half:.{digits}f}, {centre + half:.{digits}f}]"


def build_index(
    movies: pl.DataFrame, embedder: Embedder, root: Path, cache: Path, reuse: Path | None = None
) -> EdgeStore:
    """A real embedded collection of `movies` built by the product's own code, each language's
    embeddings cached as `cache`/embeddings_<language>.parquet (reused when the texts are the same;
    where `cache` has none yet, `reuse`'s: each model's vectors are reused on their own)."""
    store = EdgeStore(root)
    dimension, second = embedder.layout()
    store.switch(store.create_version("movies__bench__1", dimension, embedder.settings.fingerprint, second).name)
    cache.mkdir(parents=True, exist_ok=True)
    for language in sorted(movies["language"].unique().to_list()):
        members = movies.filter(pl.col("language") == language)
        table = cache / f"embeddings_{language}.parquet"
        previous = read_table(table)
        if previous is None and reuse is not None:
            previous = read_table(reuse / table.name)
        frame, report = embed_partition(members, None, previous, embedder)
        write_table(frame, table)
        sync_partition(store, language, build_points(language, frame, members, None, embedder.settings.fingerprint))
        if report.processed:
            print(f"  index: embedded {report.processed} movies in {language} ({report.seconds:.0f} s)", flush=True)
    return store


VARIANTS_HELP = (
    "fusion settings to measure too, 'depth:dense_weight[:rrf|dbsf[:renown[:renown_not_english"
    "[:renown_short_query]]]],...', a weight 'none' for the field's None (e.g. 8:1:dbsf,5:1:dbsf:0.8:none:none); "
    "tune on the 'tuning' part"
)


def fusion_variants(spec: str) -> list[vtypes.Fusion]:
    """`--variants` (VARIANTS_HELP) as the `types.Fusion`s they name, the fields left out as the defaults."""

    def weight(text: str) -> float | None:
        return None if text == "none" else float(text)

    out = []
    for variant in filter(None, spec.split(",")):
        depth, dense_weight, *rest = variant.split(":")
        out.append(vtypes.Fusion(int(depth), float(dense_weight), *rest[:1], *map(weight, rest[1:])))
    return out
