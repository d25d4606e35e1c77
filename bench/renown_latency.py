"""What the renown score formula costs a search: the same queries with and without it, interleaved.

The TMDB top-10k index as bench/search_quality.py builds it (the product's code, embeddings cached),
then movrec's `search()` for each description and tag query (vectors encoded once beforehand, so
only the engine and the code around it are timed), once with `Fusion.renown_weight` at its default
(the fused list rescored by the engine's `Formula`) and once at 0 (the fused list as it comes),
alternating which goes first per query so that the machine's drift falls on both alike.
Usage: python bench/renown_latency.py [--data ../shared/data] [--rounds 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from _shared import QueryCache, build_index
from search_quality import CACHE, HERE, benchmark_movies, query_sets

from movrec_dagster.core.embedding import Embedder, EmbedderSettings
from movrec_dagster.core.search import search
from movrec_dagster.core.vectorstore import types as vtypes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    data = Path(args.data)
    movies, firsts = benchmark_movies(data)
    queries = query_sets(data, movies, firsts, 400)
    asked = [q for s, _, q, _ in queries.iter_rows() if s in ("descriptions", "tags")]
    embedder = Embedder(EmbedderSettings())
    encoded = QueryCache(embedder, asked)
    with_formula, without = vtypes.FUSION, replace(vtypes.FUSION, renown_weight=0.0)
    timings: dict[str, list[float]] = {"with the renown formula": [], "without (weight 0)": []}
    with tempfile.TemporaryDirectory() as tmp:
        store = build_index(movies, embedder, Path(tmp), CACHE / f"index-{embedder.settings.backend}")
        with store.session():
            for text in asked[:20]:  # warm: the shard's pages, the analyzers
                search(store, encoded, text)
            for round_ in range(args.rounds):
                for i, text in enumerate(asked):
                    order = [("with the renown formula", with_formula), ("without (weight 0)", without)]
                    for name, fusion in order if (i + round_) % 2 == 0 else order[::-1]:
                        vtypes.FUSION = fusion
                        started = time.perf_counter()
                        search(store, encoded, text)
                        timings[name].append((time.perf_counter() - started) * 1000)
            vtypes.FUSION = with_formula
    print(f"\nsearch() at {len(movies)} movies, {len(asked)} queries x {args.rounds} rounds, query vectors precomputed")
    print("| search | p50 ms | p90 ms | p99 ms |\n|---|---|---|---|")
    for name, ms in timings.items():
        p50, p90, p99 = np.percentile(ms, [50, 90, 99])
        print(f"| {name} | {p50:.2f} | {p90:.2f} | {p99:.2f} |")
    paired = np.array(timings["with the renown formula"]) - np.array(timings["without (weight 0)"])
    print(f"paired difference per query: median {np.median(paired):+.2f} ms")


if __name__ == "__main__":
    main()
