"""Diverse recommendations: Qdrant's own MMR against movrec's hand-written one, same run, same pools.

Over the TMDB top-10k catalogue (indexed by the product's code as in bench/search_quality.py, whose
cached embeddings it reuses), for 200 seed movies (a fixed sample; the first 100 are the tuning half,
the rest held out) the query is the seed's profile and the pool its 40 nearest other movies. For
each lambda it prints, averaged over the held-out seeds:
* relevance: the mean cosine between the query and the 10 movies picked;
* list similarity: the mean cosine between two of the 10 (lower: more varied);
* ms: the query and the re-ranking together, p50.
Systems: `rerank` (hand-written, over the pool the plain query returned; what movrec uses when
ratings, a taste model, sentiment or the recommend query score the candidates), the same before
this release (raw cosines against a min-max relevance: `rerank_before` below) and the engine's MMR
(qdrant-edge `Mmr`, which diversifies by similarity to one query vector). A better MMR keeps more relevance for the
same drop in list similarity.

Usage: python bench/diversity.py [--data ../shared/data] [--seeds 200]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _shared import build_index
from search_quality import CACHE, HERE, benchmark_movies

from movrec_dagster.core.embedding import Embedder, EmbedderSettings
from movrec_dagster.core.recommend import rerank
from movrec_dagster.core.vectorstore import EdgeStore, Hit, PayloadFilter
from movrec_dagster.core.vectorstore.edge import edge_filter, vector_of

POOL, TOP_K = 40, 10


def rerank_before(hits: list, top_k: int, mmr_lambda: float) -> list:
    """movrec's MMR until this release: min-max relevance against raw cosine redundancy."""
    scores = np.array([h.score for h in hits])
    relevance = (scores - scores.min()) / (np.ptp(scores) or 1.0)
    vectors = np.array([h.vector for h in hits], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    picked: list[int] = []
    left = list(range(len(hits)))
    while left and len(picked) < top_k:
        redundancy = (vectors[left] @ vectors[picked].T).max(axis=1) if picked else np.zeros(len(left))
        best = left[int(np.argmax(mmr_lambda * relevance[left] - (1 - mmr_lambda) * redundancy))]
        picked.append(best)
        left.remove(best)
    return [hits[i] for i in picked]


def engine_mmr(store: EdgeStore, query: np.ndarray, flt: PayloadFilter, lam: float) -> list[Hit]:
    """qdrant-edge's MMR: `TOP_K` of the `POOL` nearest, lambda x similarity to the query - (1 -
    lambda) x the highest similarity to one picked before."""
    from qdrant_edge import Mmr, QueryRequest

    request = QueryRequest(
        limit=TOP_K, query=Mmr(query.tolist(), lam, POOL), filter=edge_filter(flt), with_payload=True, with_vector=True
    )
    with store._shard(None) as shard:
        found = shard.query(request)
    return [Hit(str(p.id), float(p.score), dict(p.payload or {}), vector_of(p.vector)) for p in found]


def describe(query: np.ndarray, vectors: list[np.ndarray]) -> tuple[float, float]:
    stacked = np.array(vectors, dtype=np.float32)
    within = (stacked @ stacked.T)[np.triu_indices(len(stacked), 1)]
    return float((stacked @ query).mean()), float(within.mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    parser.add_argument("--seeds", type=int, default=200)
    args = parser.parse_args()
    movies, _ = benchmark_movies(Path(args.data))
    with tempfile.TemporaryDirectory() as tmp:
        store = build_index(movies, Embedder(EmbedderSettings()), Path(tmp), CACHE / "index")
        with store.session():
            profiles = store.scroll(PayloadFilter(kinds=("profile",)), with_vectors=True)
            order = np.random.default_rng(11).permutation(len(profiles))[: args.seeds]
            held_out = [profiles[i] for i in order[len(order) // 2 :]]
            print(f"{len(profiles)} movies, {len(held_out)} held-out seeds, pool {POOL}, top {TOP_K}\n")
            spreads = []
            for seed in held_out:
                flt = PayloadFilter(kinds=("profile",), exclude_movie_ids=(seed.payload["movie_id"],))
                scores = [h.score for h in store.query(np.asarray(seed.vector), flt, limit=POOL)]
                spreads.append(max(scores) - min(scores))
            # what a score formula would weigh sentiment against: raw cosines of the pool
            print(f"cosine spread within a pool (max - min): p50 {np.percentile(spreads, 50):.3f}\n")
            print("| lambda | system | relevance | list similarity | ms p50 |")
            print("|---|---|---|---|---|")
            for lam in (1.0, 0.9, 0.7, 0.5, 0.3, 0.0):
                systems = ("hand-written, before", "hand-written", "engine MMR")
                rows: dict[str, list[tuple[float, float]]] = {name: [] for name in systems}
                ms: dict[str, list[float]] = {name: [] for name in systems}
                for seed in held_out:
                    query = np.asarray(seed.vector, dtype=np.float32)
                    flt = PayloadFilter(kinds=("profile",), exclude_movie_ids=(seed.payload["movie_id"],))
                    started = time.perf_counter()
                    pool = store.query(query, flt, limit=POOL, with_vectors=True)
                    hand = rerank(pool, TOP_K, mmr_lambda=lam)
                    ms["hand-written"].append((time.perf_counter() - started) * 1000)
                    before = rerank_before(pool, TOP_K, lam)
                    started = time.perf_counter()
                    engine = engine_mmr(store, query, flt, lam)
                    ms["engine MMR"].append((time.perf_counter() - started) * 1000)
                    rows["hand-written"].append(describe(query, [np.asarray(h.vector) for h in hand]))
                    rows["hand-written, before"].append(describe(query, [np.asarray(h.vector) for h in before]))
                    rows["engine MMR"].append(describe(query, [np.asarray(h.vector) for h in engine]))
                for system, values in rows.items():
                    relevance, within = np.mean(values, axis=0)
                    took = f"{np.percentile(ms[system], 50):.2f}" if ms[system] else "-"
                    print(f"| {lam} | {system} | {relevance:.4f} | {within:.4f} | {took} |")


if __name__ == "__main__":
    main()
