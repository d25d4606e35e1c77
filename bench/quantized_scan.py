"""The embedded engine's dense scan: movrec's earlier graph configuration against int8 quantization.

Qdrant ships scalar quantization; this asked whether it does the vector part of a search better than
movrec's HNSW-above-a-threshold configuration of before 2026-12-02 (it did, and is now movrec's:
`vectorstore.types.DenseIndex`). The vectors are the real
ones of the TMDB top-10k index that bench/search_quality.py caches (about 30k points, passages
through the int8 encoder), or `--points N` of them resampled with noise (to reach 100k). Queries are
200 points plus noise; recall@10 is against numpy's exact cosine top 10 (title points share their
document's vector, so ties keep even an exact scan a little under 1.0). Each configuration is a
fresh qdrant-edge shard, written in 1,000-point batches and then `optimize()`d, as movrec does after
a partition sync:

* movrec before: HNSW m 32 / ef_construct 256 / search ef 512, indexing threshold 100 MB (collections
  below it stay exact scans);
* no graph (m 0), int8 scalar quantization (quantile 0.99, in RAM) built for every segment above
  10 KB, searched with rescoring of 2x oversampled candidates by the original vectors (movrec now);
* the same without rescoring, and with the quantized vectors ignored (the float scan).

Usage: python bench/quantized_scan.py [--points 100000]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from search_quality import CACHE


def shard(root: Path, vectors: np.ndarray, m: int, ef_construct: int, threshold_kb: int, quantized: bool) -> Any:
    import qdrant_edge as q

    shutil.rmtree(root, ignore_errors=True)
    quantization = q.ScalarQuantizationConfig(q.ScalarType.Int8, quantile=0.99, always_ram=True) if quantized else None
    config = q.EdgeConfig(
        vectors=q.EdgeVectorParams(size=vectors.shape[1], distance=q.Distance.Cosine),
        hnsw_config=q.HnswIndexConfig(m=m, ef_construct=ef_construct, full_scan_threshold=threshold_kb),
        quantization_config=quantization,
        optimizers=q.EdgeOptimizersConfig(indexing_threshold=threshold_kb),
    )
    store = q.EdgeShard.create(str(root), config)
    for start in range(0, len(vectors), 1000):
        batch = range(start, min(start + 1000, len(vectors)))
        store.update(q.UpdateOperation.upsert_points([q.Point(i, {"": vectors[i].tolist()}, {}) for i in batch]))
    started = time.perf_counter()
    store.optimize()
    print(f"  built in {time.perf_counter() - started:.1f} s", flush=True)
    return store


def measure(store: Any, queries: np.ndarray, exact: list[set[int]], params: Any) -> tuple[float, float, float]:
    import qdrant_edge as q

    ms, recall = [], []
    for vector, truth in zip(queries, exact):
        started = time.perf_counter()
        found = store.query(q.QueryRequest(limit=10, query=q.Query.Nearest(vector.tolist()), params=params))
        ms.append((time.perf_counter() - started) * 1000)
        recall.append(len({p.id for p in found} & truth) / 10)
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), float(np.mean(recall))


def main() -> None:
    import qdrant_edge as q

    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=0, help="resample the real vectors to this many (0: as they are)")
    args = parser.parse_args()
    tables = sorted((CACHE / "index-onnx-int8").glob("embeddings_*.parquet"))
    if not tables:
        raise SystemExit("run bench/search_quality.py first (it caches the index's vectors)")
    vectors = np.concatenate([np.asarray(pl.read_parquet(t)["vector"].to_list(), dtype=np.float32) for t in tables])
    rng = np.random.default_rng(0)
    if args.points:
        vectors = vectors[rng.integers(0, len(vectors), args.points)]
        vectors = vectors + rng.normal(0, 0.03, vectors.shape).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[rng.integers(0, len(vectors), 200)] + rng.normal(0, 0.02, (200, vectors.shape[1]))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    exact = [set(np.argsort(-(vectors @ v))[:10].tolist()) for v in queries]
    print(f"{len(vectors)} points, {len(queries)} queries")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        now = shard(Path(tmp) / "now", vectors, 32, 256, 100_000, quantized=False)
        rows.append(
            ("movrec before (HNSW above 100 MB, else exact)", measure(now, queries, exact, q.SearchParams(hnsw_ef=512)))
        )
        now.close()
        int8 = shard(Path(tmp) / "int8", vectors, 0, 100, 10, quantized=True)
        rescored = q.SearchParams(quantization=q.QuantizationSearchParams(rescore=True, oversampling=2.0))
        rows.append(("no graph, int8, rescored x2 (movrec now)", measure(int8, queries, exact, rescored)))
        plain = q.QuantizationSearchParams(rescore=False)
        rows.append(("no graph, int8, not rescored", measure(int8, queries, exact, q.SearchParams(quantization=plain))))
        ignored = q.QuantizationSearchParams(ignore=True)
        rows.append(("no graph, float scan", measure(int8, queries, exact, q.SearchParams(quantization=ignored))))
        int8.close()
    print("\n| configuration | p50 ms | p99 ms | recall@10 |")
    print("|---|---|---|---|")
    for name, (p50, p99, recall) in rows:
        print(f"| {name} | {p50:.2f} | {p99:.2f} | {recall:.3f} |")


if __name__ == "__main__":
    main()
