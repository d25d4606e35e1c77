"""GET /search at 10k movies, query encoding included: torch vs the int8 ONNX query encoder, same run.

The TMDB top-10k catalogue is indexed by the product's own code (as in bench/search_quality.py: each
overview without its first sentence; embeddings cached), then served by `movrec serve` (uvicorn) in a
process of its own, asked over HTTP on localhost by one client on a kept-alive connection; server
and client share the machine's cores. The queries are the removed first sentences, each asked once,
in the same order for both backends: no cache helps. Two kinds of query: the description sentences
(15-40 words) and MovieLens tag lists (2-8 words, what people type in a search box). For each
backend and kind it prints
* the query encoder alone, one query at a time, in this process, p50/p99 ms;
* GET /search?q=...&top_k=10, request sent to response read, p50/p99 ms;
* Recall@10 and MRR@10 of those searches (does int8 cost quality?), over all queries and over the
  held-out fifth (TMDB id divisible by 5);
* the cosine between the two backends' vectors of each query (min and p1);
* with the default encoder, GET /search for `--paced` queries asked `--pause` seconds apart, as a
  person searches (the server idles between them; an embedded shard given back after an idle second
  had to be reopened for each such query);
* with the default encoder, GET /search for the first 100 queries asked a second time (the same
  words searched again: their query vectors are remembered).

The index is built as the product builds it (passages through int8, both embedding models) and
shared with bench/search_quality.py's cache; the query encoders' time includes the second model for
the queries search asks it about (English ones).
Usage: python bench/search_latency.py [--data ../shared/data] [--queries 400] [--paced 40] [--pause 2]
       [--backends torch,onnx-int8]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import polars as pl
from _shared import build_index, wilson
from search_quality import CACHE, HERE, benchmark_movies, index_cache, mrr_interval, query_sets

from movrec_dagster.core.embedding import Embedder, EmbedderSettings
from movrec_dagster.core.home import MovrecHome

BACKENDS = ("torch", "onnx-int8")


@contextmanager
def served(
    home: MovrecHome, backend: str, port: int = 8765, code: Path | None = None
) -> Iterator[http.client.HTTPConnection]:
    """`movrec serve` over `home`, its queries encoded by `backend`; a connection once it answers.
    `code`: the root of another checkout to serve from (first on PYTHONPATH; bench/search_ab.py)."""
    env = os.environ | {"MOVREC_HOME": str(home.root), "MOVREC_EMBED_BACKEND": backend}
    env["MOVREC_API_RATE_LIMIT"] = "100000/second"  # one client asking as fast as it can is no abuse here
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "movrec_dagster.cli", "serve", "--port", str(port)]
    # run from `code`'s root: `python -m` puts the working directory first on sys.path, ahead of PYTHONPATH
    server = subprocess.Popen(command, env=env, cwd=code, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                get(connection, "/search", q="warm up")  # loads the model (and exports it, once)
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("movrec serve did not answer")
        yield connection
    finally:
        server.terminate()
        server.wait(timeout=30)


def get(connection: http.client.HTTPConnection, path: str, **params: object) -> list[dict]:
    connection.request("GET", f"{path}?{urlencode(params)}")
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status} {body[:200]!r}")
    return json.loads(body)


def percentiles(ms: list[float]) -> str:
    return f"{np.percentile(ms, 50):.1f} / {np.percentile(ms, 99):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--paced", type=int, default=40, help="queries asked --pause seconds apart (default encoder)")
    parser.add_argument("--pause", type=float, default=2.0)
    parser.add_argument("--backends", default=",".join(BACKENDS), help="query encoders to measure, the default last")
    args = parser.parse_args()
    backends = [b for b in BACKENDS if b in args.backends.split(",")]
    data = Path(args.data)
    movies, firsts = benchmark_movies(data)
    asked = query_sets(data, movies, firsts, args.queries).filter(pl.col("set").is_in(["descriptions", "tags"]))
    print(f"{len(movies)} movies;", asked.group_by("set").agg(pl.len(), pl.col("held_out").sum()).rows())

    with tempfile.TemporaryDirectory() as tmp:
        home = MovrecHome(Path(tmp))
        # the index as the product builds it (int8 passages, the configured second models: set
        # MOVREC_SECOND_MODEL for another profile), shared with search_quality.py
        settings = EmbedderSettings(backend="onnx-int8")
        build_index(movies, Embedder(settings), home.qdrant, index_cache(settings), reuse=CACHE / "index-onnx-int8")
        texts = asked["query"].to_list()
        vectors = {}
        print(
            "\n| query encoder | queries | encode p50 / p99 ms | GET /search p50 / p99 ms | Recall@10 all | "
            "Recall@10 held-out | MRR@10 held-out |"
        )
        print("|---|---|---|---|---|---|---|")
        for backend in backends:
            os.environ["MOVREC_EMBED_BACKEND"] = backend  # what the API's embedder reads
            embedder = Embedder(EmbedderSettings())
            second = embedder.second
            embedder.encode(texts[:4], kind="query")  # load (and for ONNX, export once) before timing
            if second is not None:
                second.encode(texts[:4], kind="query")
            encode_ms = []
            for text in texts:  # what a search encodes: e5, and each second model asked about the query
                started = time.perf_counter()
                embedder.encode([text], kind="query")
                for model in second.models if second is not None else []:
                    if model.asked(text):
                        model.encode([text], kind="query")
                encode_ms.append((time.perf_counter() - started) * 1000)
            vectors[backend] = embedder.encode(texts, kind="query")
            search_ms, ranks = [], []
            with served(home, backend) as connection:
                for movie, text in asked.select("movie_id", "query").iter_rows():
                    started = time.perf_counter()
                    got = [hit["movie_id"] for hit in get(connection, "/search", q=text, top_k=10)]
                    search_ms.append((time.perf_counter() - started) * 1000)
                    ranks.append(got.index(movie) + 1 if movie in got else None)
                if backend == backends[-1] and args.paced:
                    paced_ms = []
                    for text in texts[-args.paced :]:
                        time.sleep(args.pause)
                        started = time.perf_counter()
                        get(connection, "/search", q=text, top_k=10)
                        paced_ms.append((time.perf_counter() - started) * 1000)
                if backend == backends[-1]:
                    again_ms = []
                    for text in texts[:100]:
                        started = time.perf_counter()
                        get(connection, "/search", q=text, top_k=10)
                        again_ms.append((time.perf_counter() - started) * 1000)
            for kind in ("descriptions", "tags"):
                rows = [i for i, group in enumerate(asked["set"].to_list()) if group == kind]
                held = [i for i in rows if asked["held_out"][i]]
                found = sum(ranks[i] is not None for i in rows)
                held_found = sum(ranks[i] is not None for i in held)
                mrr = np.array([1 / ranks[i] if ranks[i] else 0.0 for i in held])
                print(
                    f"| {backend} | {kind} | {percentiles([encode_ms[i] for i in rows])} | "
                    f"{percentiles([search_ms[i] for i in rows])} | {wilson(found, len(rows), digits=3)} | "
                    f"{wilson(held_found, len(held), digits=3)} | {mrr_interval(mrr)} |",
                    flush=True,
                )
        if len(vectors) == 2:
            cosine = (vectors["torch"] * vectors["onnx-int8"]).sum(axis=1)
            print(f"\ncosine(torch, onnx-int8) per query: min {cosine.min():.4f}, p1 {np.percentile(cosine, 1):.4f}")
        print(f"{backends[-1]}, 100 queries asked again: GET /search p50 / p99 {percentiles(again_ms)} ms")
        if args.paced:
            print(
                f"{backends[-1]}, {len(paced_ms)} queries {args.pause:g} s apart: "
                f"GET /search p50 / p99 {percentiles(paced_ms)} ms"
            )


if __name__ == "__main__":
    main()
