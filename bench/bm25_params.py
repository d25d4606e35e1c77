"""BM25's k (term-frequency saturation) and b (length normalisation): the engine's defaults or others?

movrec's lexical side is the engine's own BM25 (`lexical`, qdrant-edge `Bm25Config`), run with its
defaults, k 1.2 and b 0.75, over chunks of about 60 tokens (a title heading its overview). These
were never measured against other settings. A setting changes the documents' sparse vectors, so
each is its own index: the product's `search()` over a real embedded index built by the product's
code from bench/search_quality.py's cached vectors (~1 min a build), every query set but titles
(the exact-title lookup answers them), each setting in turn in the same run. The rule, fixed before
the run as for renown and names: the largest gain on the descriptions' tuning part that costs no
other set's tuning part any Recall@10; the held-out parts decide nothing. ~4 min a setting.
Usage: python bench/bm25_params.py [--data ../shared/data] [--settings 1.2:0.75,1.2:0.5,1.2:1.0,0.9:0.75,2.0:0.75]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import polars as pl
from _shared import QueryCache, build_index
from search_quality import HERE, benchmark_movies, index_cache, product_rows, query_sets

from movrec_dagster.core import lexical
from movrec_dagster.core.embedding import Embedder, EmbedderSettings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    parser.add_argument(
        "--settings", default="1.2:0.75,1.2:0.5,1.2:1.0,0.9:0.75,2.0:0.75", help="k:b pairs, the first the reference"
    )
    args = parser.parse_args()
    data = Path(args.data)
    movies, firsts = benchmark_movies(data)
    queries = query_sets(data, movies, firsts, 1000, 0).filter(pl.col("set") != "titles")
    settings = EmbedderSettings()
    vectors = QueryCache(Embedder(settings), list(dict.fromkeys(queries["query"].to_list())))
    print("\n| query set | part | queries | BM25 k:b | Recall@10 | MRR@10 |\n|---|---|---|---|---|---|", flush=True)
    rows: dict[tuple[str, str], list[str]] = {}
    for setting in args.settings.split(","):
        k, b = (float(x) for x in setting.split(":"))
        lexical.BM25_K, lexical.BM25_B = k, b
        lexical.analyzer.cache_clear()  # each language's analyzer is built once with the settings it saw
        with tempfile.TemporaryDirectory() as tmp:
            store = build_index(movies, Embedder(settings), Path(tmp), index_cache(settings))
            with store.session():
                for part, row in product_rows(store, vectors, queries, f"{k:g}:{b:g}").items():
                    rows.setdefault(part, []).append(row)
        print(f"  {k:g}:{b:g} done", flush=True)
    for part in sorted(rows):
        print("\n".join(rows[part]))


if __name__ == "__main__":
    main()
