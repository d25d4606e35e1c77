"""Would one vector per overview sentence find more than one per overview? A plain simulation first.

A description query is one sentence; an overview is several, each about one thing (who, where, what
goes wrong). A movie's best-matching sentence can be closer to the query than the average of all of
them that one overview vector is, and the engine could serve it as it is (a multivector per point with
`MultiVectorComparator.MaxSim` over sentence vectors, or a point per sentence grouped by movie). So
this measures, before any product change, lists scored by each movie's best sentence (the title
heading each: "Title. sentence"), by e5 and by MiniLM, against and beside movrec's lists of whole
overviews. The first stage is movrec's as bench/dense_lists.py builds it (e5, MiniLM or USE by the
query's language, TF-IDF in the place of the engine's BM25, DBSF of the top 50 of each, `+ 0.8 x
renown`). Same texts, query sets and held-out split as bench/search_quality.py; a variant is chosen
on the tuning part's descriptions (Recall@10, then MRR@10) and reported on the held-out part.
Sentence vectors are cached in ~/.cache/movrec/bench/dense_lists (first run: ~8 min on 2 cores, after
bench/dense_lists.py's ~3).
Usage: python bench/sentence_vectors.py [--data ../shared/data]
"""

from __future__ import annotations

import numpy as np
from dense_lists import (
    FIRST_STAGE,
    Ranked,
    arguments,
    cached,
    encoders,
    first_stage,
    print_chosen,
    print_ranks,
    ranked,
    renown_fused,
    top,
)
from search_quality import benchmark_movies

from movrec_dagster.core.embedding import Embedder, EmbedderSettings
from movrec_dagster.core.sentences import sentences


def sentence_texts(data_movies: list[tuple[str, str | None]]) -> tuple[list[str], np.ndarray]:
    """("Title. sentence" for every sentence of every overview, the movie index of each)."""
    texts, owner = [], []
    for i, (title, overview) in enumerate(data_movies):
        for sentence in sentences(overview or "") or ("",):
            texts.append(f"{title}. {sentence}".strip())
            owner.append(i)
    return texts, np.array(owner)


def best_sentence(vectors: np.ndarray, owner: np.ndarray, movies: int, query: np.ndarray) -> np.ndarray:
    """Each movie's score: the cosine of its best sentence to the query."""
    scores = np.full(movies, -1.0, dtype=np.float32)
    np.maximum.at(scores, owner, vectors @ query)
    return scores


def variants(
    whole: dict[str, np.ndarray], best: dict[str, np.ndarray], second: str, words: Ranked
) -> dict[str, list[Ranked]]:
    """Each system's lists for one query: movrec's, and the best sentence in place of or beside the
    whole overview (MiniLM's only for the queries MiniLM is asked about)."""
    out = {
        FIRST_STAGE: [top(whole["e5"]), top(whole[second]), words],
        "best sentence in place of the whole, e5": [top(best["e5"]), top(whole[second]), words],
        "best sentence beside the whole, e5": [top(whole["e5"]), top(best["e5"]), top(whole[second]), words],
        "mean of whole and best sentence, e5": [top((whole["e5"] + best["e5"]) / 2), top(whole[second]), words],
    }
    minilm = {  # MiniLM is not asked about this query: the first stage stands for its variants
        "best sentence in place of the whole, MiniLM": out[FIRST_STAGE],
        "best sentence beside the whole, MiniLM": out[FIRST_STAGE],
        "mean of whole and best sentence, MiniLM": out[FIRST_STAGE],
        "mean of whole and best sentence, both": out[FIRST_STAGE],
    }
    if second == "minilm":
        mean = {name: top((whole[name] + best[name]) / 2) for name in ("e5", "minilm")}
        minilm = {
            "best sentence in place of the whole, MiniLM": [top(whole["e5"]), top(best["minilm"]), words],
            "best sentence beside the whole, MiniLM": [
                top(whole["e5"]),
                top(whole["minilm"]),
                top(best["minilm"]),
                words,
            ],
            "mean of whole and best sentence, MiniLM": [top(whole["e5"]), mean["minilm"], words],
            "mean of whole and best sentence, both": [mean["e5"], mean["minilm"], words],
        }
    return out | minilm


def main() -> None:
    data, _ = arguments()
    stage = first_stage(data)
    queries, ids, asked, vectors = stage.queries, stage.ids, stage.asked, stage.vectors
    tfidf_docs, tfidf_queries, prior = stage.tfidf_docs, stage.tfidf_queries, stage.prior
    movies, _ = benchmark_movies(data)
    pieces, owner = sentence_texts(list(movies.select("title", "overview").iter_rows()))
    print(f"{len(pieces)} sentences of {len(ids)} overviews", flush=True)
    encode = encoders()
    by_sentence = {
        name: cached(f"{name}_sentences", pieces, lambda batch, f=encode[name]: f(batch, "passage"))
        for name in ("e5", "minilm")
    }
    english = Embedder(EmbedderSettings(model="all-MiniLM-L6-v2", second_model=None))  # who asks MiniLM
    row = {q: i for i, q in enumerate(asked)}
    position = {m: i for i, m in enumerate(ids)}
    ranks: dict[tuple[str, str, str], list[int | None]] = {}

    for group, movie, text, held_out in queries.iter_rows():
        subset, i = "held-out" if held_out else "tuning", row[text]
        second = "minilm" if english.asked(text) else "use"
        whole = {name: vectors[name][0] @ vectors[name][1][i] for name in ("e5", second)}
        best = {
            name: best_sentence(by_sentence[name], owner, len(ids), vectors[name][1][i])
            for name in ("e5", second)
            if name in by_sentence
        }
        words = top((tfidf_docs @ tfidf_queries[i].T).toarray().ravel())
        for system, lists in variants(whole, best, second, words).items():
            got = ranked(*renown_fused(lists, prior))
            rank = got.index(position[movie]) + 1 if position[movie] in got else None
            ranks.setdefault((group, subset, system), []).append(rank)
    print_ranks(ranks)
    print_chosen(ranks, ("",))


if __name__ == "__main__":
    main()
