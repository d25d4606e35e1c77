"""Would translating queries into English find the movies cross-lingual search misses?

The search benchmark's cross-lingual set (bench/data/crosslingual.csv) describes 22 well-known
movies in Spanish, French, German and Chinese. movrec finds about half of them in its top 10, and
the issue asks for 0.7. A translation stage (a packaged translation model, or an LLM) is the
usual remedy, so this measures its ceiling before anything is built: the same search over the same
index, asked the queries of the tuning half and asked faithful English translations of them
(bench/data/crosslingual_en_tuning.csv, written by hand for this benchmark: a perfect translator).
The held-out half has no translations, so nothing here is chosen on it.

The index is search_quality.py's (the TMDB top-10k, each overview without its first sentence),
built by the product's code from that script's cache (run it first).
Usage: python bench/translation_bound.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
from _shared import QueryCache, build_index, wilson
from search_quality import HERE, K, benchmark_movies, index_cache, mrr_interval

from movrec_dagster.core.embedding import Embedder, EmbedderSettings
from movrec_dagster.core.search import search


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    args = parser.parse_args()
    movies, _ = benchmark_movies(Path(args.data))
    english = pl.read_csv(HERE / "data" / "crosslingual_en_tuning.csv")
    original = pl.read_csv(HERE / "data" / "crosslingual.csv").join(
        english.select("movie_id", "language"), on=["movie_id", "language"], how="semi", maintain_order="left"
    )
    assert original.height == english.height, "every translated query has its original"
    embedder = Embedder(EmbedderSettings())
    asked = original["query"].to_list() + english["query"].to_list()
    vectors = QueryCache(embedder, asked)
    ranks: dict[str, list[int | None]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = build_index(movies, embedder, Path(tmp), index_cache(embedder.settings))
        with store.session():
            for name, frame in (("as written (es/fr/de/zh)", original), ("translated into English", english)):
                for movie, _language, query in frame.iter_rows():
                    got = [hit.movie_id for hit in search(store, vectors, query, top_k=K)]
                    ranks.setdefault(name, []).append(got.index(movie) + 1 if movie in got else None)
    print(f"\ncross-lingual tuning half: {original.height} queries of {original['movie_id'].n_unique()} movies")
    print("| queries | Recall@1 | Recall@10 | MRR@10 |\n|---|---|---|---|")
    for name, found in ranks.items():
        n = len(found)
        mrr = np.array([1.0 / r if r else 0.0 for r in found])
        hits1, hits10 = sum(r == 1 for r in found), sum(r is not None for r in found)
        print(f"| {name} | {wilson(hits1, n, digits=3)} | {wilson(hits10, n, digits=3)} | {mrr_interval(mrr)} |")
    written, translated = ranks.values()
    only_translated = sum(t is not None and w is None for w, t in zip(written, translated))
    only_written = sum(w is not None and t is None for w, t in zip(written, translated))
    print(f"found only when translated: {only_translated}; found only as written: {only_written}")
    missed = english.with_columns(pl.Series("rank", translated, dtype=pl.Int64)).filter(pl.col("rank").is_null())
    print("missed even in English:", ", ".join(sorted(set(missed["movie_id"].to_list()))))


if __name__ == "__main__":
    main()
