"""Should the names a query writes weigh more on the lexical side? The product's search, weight by weight.

A description sentence names who and where ("banker Andy Dufresne", "at Shawshank"), and the rest of
the movie's overview, which movrec indexes, names them again; the dense models read a name as one
more word. `lexical.query_vector` multiplies the weight of a query's terms that come from words
written with a capital where no sentence begins (`lexical.names`) by `lexical.NAME_WEIGHT`. A weight
applied to every term alike changes nothing (DBSF rescales each list), so a query in capitals or a
tag list in lower case reads as before. A plain simulation first (TF-IDF for the engine's BM25, the
lists of bench/dense_lists.py) put descriptions at 0.587 -> 0.600 (tuning part) with 1.5.

This measures it in the product: movrec's `search()` over the same real embedded index as
bench/search_quality.py (its cached vectors; built in ~1 min), every query set but titles (the
exact-title lookup answers them), each weight in turn over the same index in the same run. The
rule, as for renown: the largest gain on the descriptions' tuning part that costs no other set's
tuning part any Recall@10; the held-out parts decide nothing. ~6 min.
`--unseen 4648` adds the descriptions no script had asked (EVALUATION.md) as a set of their own.
Usage: python bench/name_weight.py [--data ../shared/data] [--weights 1,1.5,2] [--unseen 4648]
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
    parser.add_argument("--weights", default="1,1.5,2", help="NAME_WEIGHT values, the first the reference")
    parser.add_argument("--unseen", type=int, default=0, help="as bench/search_quality.py's: more descriptions")
    args = parser.parse_args()
    data = Path(args.data)
    movies, firsts = benchmark_movies(data)
    queries = query_sets(data, movies, firsts, 1000, args.unseen).filter(pl.col("set") != "titles")
    named = sum(bool(lexical.names(q)) for q in queries["query"])
    print(f"{named} of {queries.height} queries name something (a capital where no sentence begins)")
    settings = EmbedderSettings()
    vectors = QueryCache(Embedder(settings), list(dict.fromkeys(queries["query"].to_list())))
    print("\n| query set | part | queries | name weight | Recall@10 | MRR@10 |\n|---|---|---|---|---|---|")
    rows: dict[tuple[str, str], list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = build_index(movies, Embedder(settings), Path(tmp), index_cache(settings))
        with store.session():
            for weight in (float(w) for w in args.weights.split(",")):
                lexical.NAME_WEIGHT = weight
                for part, row in product_rows(store, vectors, queries, f"{weight:g}").items():
                    rows.setdefault(part, []).append(row)
    for part in sorted(rows):
        print("\n".join(rows[part]))


if __name__ == "__main__":
    main()
