"""How much should how widely known a movie is weigh in search? A plain simulation, before the product.

movrec's hybrid query fuses its lists (e5, BM25 and the second model a query's language asks for)
by DBSF in the engine. This script asks whether adding `w` x the movie's renown (0-1: the log of a
popularity figure between a fixed floor and ceiling, `vectorstore.types.renown`) to the fused score
finds more answers, which popularity figure to take (TMDB's `popularity`, a trending score of the
last weeks, or its `vote_count`), and which `w`. Same texts, query sets and held-out split as
bench/search_quality.py; the lists as bench/dense_lists.py builds them (e5 and MiniLM through the
product's int8 encoder, USE as packaged, TF-IDF in the place of the engine's BM25, the top 50 of each
fused by DBSF as Qdrant computes it), MiniLM's list for queries read as English and USE's for the
others, as movrec asks them. `w` is chosen on the tuning part only: the largest weight that costs
the description set (its answers drawn uniformly from the catalogue, so renown says nothing about
them) nothing there; the held-out part reports it. Reads the vectors bench/dense_lists.py cached
(encodes them if it has not run: ~3 min). ~1 min.
Usage: python bench/renown_prior.py [--data ../shared/data]
"""

from __future__ import annotations

import numpy as np
import polars as pl
from _shared import wilson
from dense_lists import DEPTH, K, arguments, corpus, dbsf_scores, model_vectors, tfidf_matrices, top
from search_quality import mrr_interval

from movrec_dagster.core.embedding import Embedder, EmbedderSettings
from movrec_dagster.core.vectorstore.types import renown

WEIGHTS = (0.0, 0.3, 0.5, 0.7, 1.0, 1.5)


def main() -> None:
    data, _ = arguments()
    queries, ids, texts, asked = corpus(data)
    vectors = model_vectors(texts, asked)
    english = Embedder(EmbedderSettings(model="all-MiniLM-L6-v2", second_model=None))  # who asks MiniLM
    tfidf_docs, tfidf_queries = tfidf_matrices(texts, asked)
    raw = pl.read_csv(data / "tmdb_top10k" / "top10K-TMDB-movies.csv")
    figures = {
        column: dict(zip(("tmdb-" + raw["id"].cast(pl.String)).to_list(), raw[column].to_list()))
        for column in ("popularity", "vote_count")
    }
    priors = {column: np.array([renown(values.get(m)) for m in ids]) for column, values in figures.items()}
    row, position = {q: i for i, q in enumerate(asked)}, {m: i for i, m in enumerate(ids)}
    ranks: dict[tuple[str, str, str, float], list[int | None]] = {}
    for group, movie, text, held_out in queries.iter_rows():
        i = row[text]
        second = "minilm" if english.asked(text) else "use"
        lists = [top(docs @ query[i]) for docs, query in (vectors["e5"], vectors[second])]
        lists.append(top((tfidf_docs @ tfidf_queries[i].T).toarray().ravel()))
        fused = dbsf_scores(lists)
        candidates = np.array(list(fused))
        scores = np.array([fused[c] for c in candidates])
        for column, prior in priors.items():
            for weight in WEIGHTS:
                ranked = candidates[np.argsort(-(scores + weight * prior[candidates]), kind="stable")][:K].tolist()
                rank = ranked.index(position[movie]) + 1 if position[movie] in ranked else None
                ranks.setdefault((group, "held-out" if held_out else "tuning", column, weight), []).append(rank)
    print(f"\nDBSF of the top {DEPTH} of e5, MiniLM or USE, and TF-IDF, + w x renown of a popularity figure\n")
    print("| query set | subset | queries | figure | w | Recall@10 | MRR@10 |")
    print("|---|---|---|---|---|---|---|")
    for (group, subset, column, weight), found in sorted(ranks.items()):
        mrr = np.array([1.0 / r if r else 0.0 for r in found])
        recall = wilson(sum(r is not None for r in found), len(found), digits=3)
        print(f"| {group} | {subset} | {len(found)} | {column} | {weight} | {recall} | {mrr_interval(mrr)} |")
    for column in priors:
        base = np.mean([r is not None for r in ranks[("descriptions", "tuning", column, 0.0)]])
        kept = [
            w for w in WEIGHTS if np.mean([r is not None for r in ranks[("descriptions", "tuning", column, w)]]) >= base
        ]
        print(f"\n{column}: the largest weight costing the descriptions' tuning part nothing: {max(kept)}")


if __name__ == "__main__":
    main()
