"""Should a query not read as English fuse the lexical (BM25) list at all? The product's own search,
asked with its lexical list as it is, without it, or with only the query's names.

A query in Spanish, German or Chinese meets English overviews: BM25 reads it with every indexed
language's analyzer, and the words that match are names, cognates, or false friends (German
"Junge", boy, stems to "jung" as Carl Jung's name does). So this asks movrec's `search()` over the
search benchmark's index (bench/search_quality.py's texts, sets and held-out split; the index built
by the product's code from its cache) three ways for the queries that do not read as English, each
one's hybrid query otherwise as the product sends it (e5 and the second models' lists, DBSF, the
renown formula): the lexical list as it is; dropped (the engine's request rebuilt here without its
BM25 prefetch, which the product has no setting for); or made of the query's `names` alone (none:
dropped), or as it is only where the query names something (else dropped). English queries are
asked as they are, so descriptions and tags are the check that
nothing else moved. The rule, fixed before the run as for renown: take a change only if it finds
more on the tuning part of the cross-lingual or translated sets without costing another set's
tuning part. Usage: python bench/other_lexical.py [--data ../shared/data]   (~3 min after
bench/search_quality.py)
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from _shared import build_index
from dense_lists import arguments
from search_quality import benchmark_movies, index_cache, query_sets

import movrec_dagster.core.search as search_module
from movrec_dagster.core.embedding import Embedder, EmbedderSettings
from movrec_dagster.core.lexical import Vector, names, query_vector, written_in
from movrec_dagster.core.vectorstore import edge, types

SETS = ("descriptions", "tags", "cross-lingual", "translated descriptions")
MODES = ("as it is", "dropped", "names only", "kept where the query names something")
MODE = {"now": MODES[0]}
_REQUEST = edge.EdgeStore._request


def _other(search: types.Search) -> bool:
    """A query not read as English: MiniLM (the first second model) not asked, USE asked."""
    return len(search.seconds) > 1 and search.seconds[0] is None and search.seconds[1] is not None


def request(search: types.Search, copies: bool = False) -> Any:
    """The product's hybrid request (`EdgeStore._request`), without its BM25 prefetch for a query
    not read as English when the mode drops it or its lexical vector is empty."""
    from qdrant_edge import Fusion, Prefetch, Query, QueryRequest

    empty = not (search.sparse and search.sparse[0])
    if not (_other(search) and (MODE["now"] == "dropped" or empty)):
        return _REQUEST(search, copies)
    params, flt = edge._search_params(), edge.edge_filter(search.flt)
    depth = search.candidates or types.FUSION.prefetch(search.limit)
    lists = [(search.vector, "")] + [
        (vector, name)
        for name, vector in zip(types.second_names(len(search.seconds)), search.seconds)
        if vector is not None
    ]
    prefetches = [
        Prefetch(
            limit=depth,
            query=Query.Nearest(edge.as_list(vector), using=types.vector_for(name, search.flt, copies)),
            filter=flt,
            params=params,
        )
        for vector, name in lists
    ]
    fused = [Prefetch(limit=types.FUSION.rescored(search.limit), prefetches=prefetches, query=Fusion.Dbsf())]
    return QueryRequest(
        limit=search.limit,
        prefetches=fused,
        query=edge._renown_formula(types.FUSION.formula_weight(search)),
        with_payload=edge._payload(search),
        with_vector=search.with_vectors,
    )


def lexical(text: str, languages: Any, counts: types.TermCounts | None = None) -> Vector:
    """The product's lexical vector; for a query not read as English, in "names only" its names', and
    in both last modes none where it names nothing."""
    if MODE["now"] not in MODES[2:] or written_in(text, ("en",)):
        return query_vector(text, languages, counts)
    named = " ".join(names(text))
    if not named:
        return [], []
    return query_vector(named if MODE["now"] == "names only" else text, languages, counts)


def main() -> None:
    data, _ = arguments()
    movies, firsts = benchmark_movies(data)
    queries = query_sets(data, movies, firsts, 1000)
    queries = queries.filter(queries["set"].is_in(SETS))
    edge.EdgeStore._request = staticmethod(request)
    search_module.query_vector = lexical
    settings = EmbedderSettings()
    embedder = Embedder(settings)
    print("| non-English queries' lexical list | query set | part | queries | Recall@10 | MRR@10 |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        store = build_index(movies, embedder, Path(tmp), index_cache(settings))
        with store.session():
            for mode in MODES:
                MODE["now"] = mode
                found = search_module.search_many(store, embedder, queries["query"].to_list(), top_k=10)
                ranks: dict[tuple[str, str], list[int | None]] = {}
                for (group, movie, _, held_out), hits in zip(queries.iter_rows(), found):
                    ids = [h.movie_id for h in hits]
                    part = "held-out" if held_out else "tuning"
                    ranks.setdefault((group, part), []).append(ids.index(movie) + 1 if movie in ids else None)
                for (group, part), got in sorted(ranks.items()):
                    recall = np.mean([r is not None for r in got])
                    mrr = np.mean([1.0 / r if r else 0.0 for r in got])
                    print(f"| {mode} | {group} | {part} | {len(got)} | {recall:.3f} | {mrr:.3f} |", flush=True)


if __name__ == "__main__":
    main()
