"""Query latency (p50/p99) and recall@10 of the embedded engine vs exact search in numpy, with a payload filter.

The engine is measured twice per size: before `optimize()` (every point scanned exactly) and after it
(segments above the indexing threshold get their index: movrec's int8 copy, scanned and rescored, and
for a version of `DenseIndex.graph_points` points or more an HNSW graph, plus a copy of the vector
with a graph per language, which a query filtered to one language walks: `types.DenseIndex`), with
the time the index takes to build. After it, unfiltered queries and queries kept to two languages
(the main graph, walked with ACORN) are measured too (recall against the exact top 10 of the points
each query may return).

Synthetic clustered unit vectors of the real dimension (384) at 10k, 100k and 1M points, four languages; each query
filters one language (a quarter of the points), as a language-filtered search does. `--real`: the real
passage vectors of the 10k-movie index instead (bench/search_quality.py caches them), with their
languages (80 % English), resampled with noise beyond their 30k. Recall@10 is against
exact cosine top-10 over the same filtered points (a hit as close as the exact 10th counts: equal
vectors tie). Each measured pass follows as many other queries, untimed, as a serving process
has answered before. Timings are per query through `EdgeStore` inside one
`session()` (the shard held open, as the API and batch jobs hold it), and through a bare open-query-close
per call (what a CLI process pays).
Usage: python bench/query.py [--sizes 10000,100000,1000000] [--queries 200] [--threshold-kb N] [--m M]
       [--payload-m M] [--ef-construct N] [--ef N] [--graph-points N] [--no-acorn] [--real] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from movrec_dagster.core.vectorstore import EdgeStore, PayloadFilter, VectorPoint, point_id, types

DIM = 384
LANGUAGES = ("en", "es", "fr", "de")


def synthetic(size: int, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    # clustered, like real embeddings (a centre per 50 points, plus noise): uniformly random 384-d
    # vectors have no near neighbours to find, and any graph index fails there (measured: HNSW
    # recall@10 0.14 at 100k), which says nothing about sentence embeddings
    centres = rng.standard_normal((max(size // 50, 1), DIM)).astype(np.float32)
    vectors = centres[rng.integers(0, len(centres), size)] + 0.6 * rng.standard_normal((size, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, [LANGUAGES[i % 4] for i in range(size)]


def real(size: int, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """The real passage vectors of the TMDB top-10k index that bench/search_quality.py caches (one
    table per spoken language: 80 % English), resampled with a little noise to `size` points."""
    import polars as pl

    tables = sorted((Path.home() / ".cache/movrec/bench/search_quality/index-onnx-int8").glob("embeddings_*.parquet"))
    if not tables:
        raise SystemExit("--real: run bench/search_quality.py first (it caches the index's vectors)")
    parts = [np.asarray(pl.read_parquet(t)["vector"].to_list(), dtype=np.float32) for t in tables]
    vectors = np.concatenate(parts)
    languages = np.concatenate([[t.stem.split("_", 1)[1]] * len(v) for t, v in zip(tables, parts)])
    picks = rng.permutation(len(vectors))[:size] if size <= len(vectors) else rng.integers(0, len(vectors), size)
    vectors = vectors[picks] + (rng.normal(0, 0.03, (size, DIM)).astype(np.float32) if size > len(vectors) else 0)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), languages[picks].tolist()


def build(root: Path, size: int, vectors: np.ndarray, languages: list[str]) -> EdgeStore:
    store = EdgeStore(root)
    graph = types.DENSE_INDEX.wants_graph(size)  # as a blue/green rebuild of this size decides
    version = store.create_version(f"movies__bench-{size}", DIM, "bench", graph=graph).name
    points = [
        VectorPoint(
            point_id(f"m{i}", "profile", 0),
            vectors[i],
            {"movie_id": f"m{i}", "language": languages[i], "kind": "profile"},
        )
        for i in range(size)
    ]
    for start in range(0, size, 100_000):  # the bench's own point objects are most of its memory
        store.upsert(points[start : start + 100_000], version=version)
    store.switch(version)
    return store


def run(size: int, queries: int, root: Path, real_vectors: bool = False, efs: tuple[int, ...] = ()) -> dict:
    rng = np.random.default_rng(size)
    vectors, languages = (real if real_vectors else synthetic)(size, rng)
    started = time.perf_counter()
    store = build(root, size, vectors, languages)
    build_s = time.perf_counter() - started
    order = [lang for lang, _ in Counter(languages).most_common()]  # a two-language filter adds the next
    mask = {lang: np.array([x == lang for x in languages]) for lang in order}
    # queries near real points (a perturbed point), like a query that has good answers
    picks = rng.integers(0, size, queries)
    qs = vectors[picks] + 0.5 * rng.standard_normal((queries, DIM)).astype(np.float32) / np.sqrt(DIM)
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    # other queries first, untimed: the first queries after opening or optimizing a large version
    # page its graph and memory-mapped vectors in (measured at 100k: 2.0 ms p50 cold, 1.1 warm)
    other_picks = rng.integers(0, size, queries)
    others = vectors[other_picks] + 0.5 * rng.standard_normal((queries, DIM)).astype(np.float32) / np.sqrt(DIM)
    others /= np.linalg.norm(others, axis=1, keepdims=True)

    def kept(pick: int, filtered: int) -> tuple[str, ...]:
        first = order.index(languages[pick])
        return tuple(order[(first + j) % len(order)] for j in range(filtered))

    def measure(filtered: int = 1) -> tuple[list[float], list[float], list[float]]:
        """`filtered`: how many languages the filter keeps (0: no filter; one reads the per-language
        graphs of a version that has them, more the main graph)."""
        # the engine's queries back to back, then numpy's: interleaved, numpy's pass over every vector
        # evicted the engine's from the CPU caches before each query (11 ms instead of 1.7 at 1M)
        edge_ms, exact_ms, recalls, found = [], [], [], []
        with store.session():
            for q, pick in zip(others, other_picks):  # as a serving process is: the index's pages in memory
                store.query(q, PayloadFilter(languages=kept(pick, filtered)) if filtered else None, limit=10)
            for q, pick in zip(qs, picks):
                flt = PayloadFilter(languages=kept(pick, filtered)) if filtered else None
                t = time.perf_counter()
                hits = store.query(q, flt, limit=10)
                edge_ms.append(1000 * (time.perf_counter() - t))
                found.append([int(h.payload["movie_id"][1:]) for h in hits])
        for q, pick, got in zip(qs, picks, found):
            members = np.logical_or.reduce([mask[lang] for lang in kept(pick, filtered)]) if filtered else slice(None)
            t = time.perf_counter()
            scores = vectors[members] @ q
            tenth = np.partition(scores, len(scores) - 10)[len(scores) - 10] if len(scores) > 10 else -1.0
            exact_ms.append(1000 * (time.perf_counter() - t))
            # a hit scoring as high as the exact 10th counts: points with equal vectors (a movie's
            # title and its overview share one) tie, and either is a right answer
            recalls.append(sum(float(vectors[i] @ q) >= tenth - 1e-5 for i in got) / min(10, len(scores)))
        return edge_ms, exact_ms, recalls

    def p50(ms: list[float]) -> float:
        return round(float(np.percentile(ms, 50)), 2)

    scan_ms, _, scan_recalls = measure()
    started = time.perf_counter()
    store.optimize()
    index_s = time.perf_counter() - started
    cold_ms = []
    for q, pick in list(zip(qs, picks))[:20]:  # open, query, close: what one CLI call pays
        t = time.perf_counter()
        store.query(q, PayloadFilter(languages=(languages[pick],)), limit=10)
        cold_ms.append(1000 * (time.perf_counter() - t))
    row = {
        "points": size,
        "vectors": "real" if real_vectors else "synthetic",
        "graph": types.DENSE_INDEX.wants_graph(size),
        "build_s": round(build_s, 1),
        "scan_p50_ms": p50(scan_ms),
        "scan_recall_at_10": round(float(np.mean(scan_recalls)), 3),
        "hnsw_build_s": round(index_s, 1),
        "open_query_close_p50_ms": round(float(np.percentile(cold_ms, 50)), 1),
    }
    print(json.dumps(row), flush=True)
    for ef in efs:  # the search beam: a query-time setting, measured over the same index
        types.DENSE_INDEX = replace(types.DENSE_INDEX, ef=ef)
        edge_ms, exact_ms, recalls = measure()
        all_ms, _, all_recalls = measure(filtered=0)
        two_ms, _, two_recalls = measure(filtered=2)
        row = {
            "points": size,
            "ef": ef,
            "edge_p50_ms": p50(edge_ms),
            "edge_p99_ms": round(float(np.percentile(edge_ms, 99)), 2),
            "numpy_exact_p50_ms": p50(exact_ms),
            "recall_at_10": round(float(np.mean(recalls)), 3),
            "unfiltered_p50_ms": p50(all_ms),
            "unfiltered_recall_at_10": round(float(np.mean(all_recalls)), 3),
            "two_languages_p50_ms": p50(two_ms),
            "two_languages_recall_at_10": round(float(np.mean(two_recalls)), 3),
        }
        print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--real", action="store_true", help="the 10k index's real vectors and languages, resampled")
    parser.add_argument(
        "--threshold-kb", type=int, default=0, help="index segments above this size (default: movrec's setting)"
    )
    parser.add_argument(
        "--m", type=int, default=-1, help="HNSW graph links per point (default: movrec's, 0: no graph, the int8 scan)"
    )
    parser.add_argument(
        "--payload-m", type=int, default=-1, help="links of the per-language copy's graphs (default: movrec's)"
    )
    parser.add_argument("--ef-construct", type=int, default=0, help="HNSW build beam (default: movrec's)")
    parser.add_argument("--ef", default="", help="HNSW search beams, comma-separated (default: movrec's)")
    parser.add_argument("--graph-points", type=int, default=0, help="versions of this size get a graph (movrec's)")
    parser.add_argument("--no-acorn", action="store_true", help="walk the graph under a filter without ACORN")
    args = parser.parse_args()
    if args.threshold_kb:
        types.DENSE_INDEX = replace(types.DENSE_INDEX, threshold_kb=args.threshold_kb)
    if args.m >= 0:
        types.DENSE_INDEX = replace(types.DENSE_INDEX, m=args.m)
    if args.payload_m >= 0:
        types.DENSE_INDEX = replace(types.DENSE_INDEX, payload_m=args.payload_m)
    if args.ef_construct:
        types.DENSE_INDEX = replace(types.DENSE_INDEX, ef_construct=args.ef_construct)
    if args.graph_points:
        types.DENSE_INDEX = replace(types.DENSE_INDEX, graph_points=args.graph_points)
    if args.no_acorn:
        types.DENSE_INDEX = replace(types.DENSE_INDEX, acorn_selectivity=0.0)
    print(f"dense index: {types.DENSE_INDEX}", flush=True)
    sizes = [200] if args.smoke else [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            efs = tuple(int(ef) for ef in args.ef.split(",")) if args.ef else (types.DENSE_INDEX.ef,)
            run(size, 20 if args.smoke else args.queries, Path(tmp) / str(size), args.real, efs)


if __name__ == "__main__":
    main()
