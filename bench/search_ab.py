"""GET /search of two checkouts of movrec, asked the same queries in turn: which code is faster.

`search_latency.py` runs one server after the other, and on these VMs the speed of the hour moves a
p50 by more than a code change does (the same code measured 14.1 and 15.5 ms ten minutes apart).
Here both servers run at once, each over its own copy of the same index, and every query goes to
both, in a random order per query, so both meet the same hour; the per-query difference is paired.
Each server's query vectors are its own (a query is new to each), and nothing else runs.

`--baseline`: the root of the other checkout (e.g. `git worktree add /tmp/base <commit>`); its
`movrec serve` runs this interpreter from that root (`search_latency.served`).
Usage: python bench/search_ab.py --baseline /tmp/base [--data ../shared/data] [--queries 400] [--rounds 1]
"""

from __future__ import annotations

import argparse
import http.client
import random
import shutil
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import polars as pl
from _shared import build_index
from search_latency import get, percentiles, served
from search_quality import CACHE, HERE, benchmark_movies, index_cache, query_sets

from movrec_dagster.core.embedding import Embedder, EmbedderSettings
from movrec_dagster.core.home import MovrecHome


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", required=True, help="root of the other checkout")
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=1, help="passes over the queries (each a new server pair)")
    args = parser.parse_args()
    data = Path(args.data)
    movies, firsts = benchmark_movies(data)
    asked = query_sets(data, movies, firsts, args.queries).filter(pl.col("set").is_in(["descriptions", "tags"]))
    with tempfile.TemporaryDirectory() as tmp:
        built = MovrecHome(Path(tmp) / "built")
        settings = EmbedderSettings(backend="onnx-int8")
        build_index(movies, Embedder(settings), built.qdrant, index_cache(settings), reuse=CACHE / "index-onnx-int8")
        ms: dict[str, dict[str, list[float]]] = {"this": {}, "baseline": {}}
        rng = random.Random(7)
        for round_ in range(args.rounds):
            ports = {"this": 8771, "baseline": 8772}
            with ExitStack() as stack:
                for name, code in (("this", None), ("baseline", Path(args.baseline))):
                    root = Path(tmp) / f"{name}-{round_}"
                    shutil.copytree(built.root, root)
                    stack.enter_context(served(MovrecHome(root), "onnx-int8", ports[name], code))
                # connected again once both answer: uvicorn closes a connection idle for 5 s
                connections = {
                    name: http.client.HTTPConnection("127.0.0.1", port, timeout=60) for name, port in ports.items()
                }
                for kind, text in asked.select("set", "query").iter_rows():
                    for name in rng.sample(list(connections), 2):
                        started = time.perf_counter()
                        get(connections[name], "/search", q=text, top_k=10)
                        ms[name].setdefault(kind, []).append((time.perf_counter() - started) * 1000)
        print(f"\nbaseline: {args.baseline}; {args.rounds} round(s); GET /search p50 / p99 ms, each query to both\n")
        print("| queries | n | this checkout | baseline | this - baseline, median per query [95% bootstrap] |")
        print("|---|---|---|---|---|")
        for kind in ("descriptions", "tags"):
            a, b = np.array(ms["this"][kind]), np.array(ms["baseline"][kind])
            diff = a - b
            boot = np.random.default_rng(7).choice(diff, size=(2000, len(diff)))
            low, high = np.percentile(np.median(boot, axis=1), [2.5, 97.5])
            print(
                f"| {kind} | {len(a)} | {percentiles(list(a))} | {percentiles(list(b))} | "
                f"{np.median(diff):+.2f} [{low:+.2f}, {high:+.2f}] |"
            )


if __name__ == "__main__":
    main()
