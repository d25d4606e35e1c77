"""Does encoding passages through the int8 ONNX export cost search quality? Paired, same queries.

The TMDB top-10k index is built twice by the product's code, once from passages encoded by
sentence-transformers on torch and once through `core/onnx_encoder.py` (int8), each cached by
bench/search_quality.py's runs; the same queries (encoded once, the product's int8 query encoder)
go to movrec's `search()` over both. Per query set it prints Recall@10 and MRR@10 of each, their
paired difference with a 95 % bootstrap interval (over queries), and how many queries each found
that the other did not.

Usage: python bench/passage_backend.py   # after bench/search_quality.py (its caches), ~3 min
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from _shared import QueryCache, build_index
from search_quality import CACHE, HERE, benchmark_movies, query_sets

from movrec_dagster.core.embedding import Embedder, EmbedderSettings
from movrec_dagster.core.search import search


def main() -> None:
    data = HERE.parents[1] / "shared" / "data"
    movies, firsts = benchmark_movies(data)
    queries = query_sets(data, movies, firsts, 1000)
    asked = QueryCache(Embedder(EmbedderSettings()), list(dict.fromkeys(queries["query"].to_list())))
    ranks: dict[str, list[int | None]] = {}
    for backend, cache in (("torch", CACHE / "index"), ("onnx-int8", CACHE / "index-onnx-int8")):
        with tempfile.TemporaryDirectory() as tmp:
            store = build_index(movies, Embedder(EmbedderSettings(backend=backend)), Path(tmp), cache)
            found: list[int | None] = []
            with store.session():
                for _, movie, text, _ in queries.iter_rows():
                    got = [h.movie_id for h in search(store, asked, text, top_k=10)]
                    found.append(got.index(movie) + 1 if movie in got else None)
            ranks[backend] = found
    rng = np.random.default_rng(1)
    groups = queries["set"].to_list()
    print(
        "| query set | queries | Recall@10 torch / int8 | difference [95 %] | found only by int8 / torch "
        "| MRR@10 difference [95 %] |"
    )
    print("|---|---|---|---|---|---|")
    for group in ("descriptions", "tags", "cross-lingual", "titles"):
        rows = [i for i, g in enumerate(groups) if g == group]
        a, b = (np.array([ranks[k][i] is not None for i in rows], float) for k in ("torch", "onnx-int8"))
        ma, mb = (np.array([1 / ranks[k][i] if ranks[k][i] else 0.0 for i in rows]) for k in ("torch", "onnx-int8"))
        picks = rng.integers(0, len(rows), size=(2000, len(rows)))
        d, dm = b - a, mb - ma
        lo, hi = np.percentile(d[picks].mean(axis=1), [2.5, 97.5])
        mlo, mhi = np.percentile(dm[picks].mean(axis=1), [2.5, 97.5])
        print(
            f"| {group} | {len(rows)} | {a.mean():.3f} / {b.mean():.3f} | {d.mean():+.3f} [{lo:+.3f}, {hi:+.3f}] | "
            f"{int((d > 0).sum())} / {int((d < 0).sum())} | {dm.mean():+.3f} [{mlo:+.3f}, {mhi:+.3f}] |"
        )


if __name__ == "__main__":
    main()
