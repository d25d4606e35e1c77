"""Recommendations from liked and disliked examples: movrec's `recommend()` (Qdrant's recommend query,
"best score"), the Rocchio vector it used before, and the engine's other strategy, same run, same
users, same index.

The TMDB top-10k catalogue is indexed by the product's code (bench/search_quality.py's index and
cache: overviews without their first sentence). MovieLens latest-small users are mapped onto it
through links.csv. For each user with >= 3 liked (rating >= 4) and >= 1 disliked (rating <= 2)
movies in the index: the examples are their first 5 liked and first 5 disliked movies by time, the
answers every other movie they liked. Each system ranks the catalogue minus the examples, top 10:
* movrec `recommend()`: the product's function, ids in, top 10 out (evidence lines included);
* Rocchio (movrec before): `recommend.user_vector`: mean(liked) - 0.5 x mean(disliked), nearest
  profiles; the direction of Qdrant server's `average_vector` strategy (2 x mean(liked) - mean(disliked));
* Rocchio, likes only: mean(liked), dislikes ignored (does the negative side help?);
* engine best score: qdrant-edge `Query.RecommendBestScore` over the profile vectors;
* engine sum of scores: `Query.RecommendSumScores`.
Recall@10 and NDCG@10 (all answers relevant) with bootstrap 95 % intervals, over the users whose
id is odd (held out; the even ones are the tuning half: pick there, report here), and latency p50.

Usage: python bench/recommend_examples.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
from _shared import build_index
from search_quality import CACHE, HERE, benchmark_movies

from movrec_dagster.core.embedding import Embedder, EmbedderSettings
from movrec_dagster.core.recommend import recommend, user_vector
from movrec_dagster.core.vectorstore import EdgeStore, PayloadFilter
from movrec_dagster.core.vectorstore.edge import edge_filter

EXAMPLES, K = 5, 10


def histories(data: Path, indexed: set[str]) -> list[tuple[int, list[str], list[str], set[str]]]:
    """(user, liked examples, disliked examples, answers) for users with enough of each."""
    ml = data / "ml-latest-small"
    links = pl.read_csv(ml / "links.csv", schema_overrides={"tmdbId": pl.Float64}).drop_nulls("tmdbId")
    ids = links.select("movieId", (pl.lit("tmdb-") + pl.col("tmdbId").cast(pl.Int64).cast(pl.String)).alias("movie"))
    ratings = pl.read_csv(ml / "ratings.csv").join(ids, on="movieId").filter(pl.col("movie").is_in(list(indexed)))
    out = []
    for (user,), rows in ratings.sort("userId", "timestamp", "movie").group_by(["userId"], maintain_order=True):
        liked = rows.filter(pl.col("rating") >= 4)["movie"].to_list()
        disliked = rows.filter(pl.col("rating") <= 2)["movie"].to_list()
        if len(liked) > EXAMPLES and disliked:
            out.append((int(user), liked[:EXAMPLES], disliked[:EXAMPLES], set(liked[EXAMPLES:])))
    return out


def ndcg(ranked: list[str], answers: set[str]) -> float:
    gain = sum(1 / np.log2(rank + 2) for rank, movie in enumerate(ranked) if movie in answers)
    ideal = sum(1 / np.log2(rank + 2) for rank in range(min(len(answers), K)))
    return gain / ideal


def interval(values: list[float], seed: int = 3) -> str:
    array = np.array(values)
    rng = np.random.default_rng(seed)
    means = array[rng.integers(0, len(array), size=(1000, len(array)))].mean(axis=1)
    return f"{array.mean():.4f} [{np.percentile(means, 2.5):.4f}, {np.percentile(means, 97.5):.4f}]"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    args = parser.parse_args()
    movies, _ = benchmark_movies(Path(args.data))
    with tempfile.TemporaryDirectory() as tmp:
        store: EdgeStore = build_index(movies, Embedder(EmbedderSettings()), Path(tmp), CACHE / "index")
        with store.session():
            profile = {
                h.payload["movie_id"]: np.asarray(h.vector, dtype=np.float32)
                for h in store.scroll(PayloadFilter(kinds=("profile",)), with_vectors=True)
            }
            users = histories(Path(args.data), set(profile))
            print(f"{len(profile)} movies, {len(users)} users ({sum(u % 2 for u, *_ in users)} held out)\n")

            def nearest(vector: np.ndarray, flt: PayloadFilter) -> list[str]:
                return [h.payload["movie_id"] for h in store.query(vector, flt, limit=K)]

            def engine(kind: str) -> Callable[[list[np.ndarray], list[np.ndarray], PayloadFilter], list[str]]:
                from qdrant_edge import Query, QueryRequest, RecommendQuery

                def run(liked: list[np.ndarray], disliked: list[np.ndarray], flt: PayloadFilter) -> list[str]:
                    examples = RecommendQuery([v.tolist() for v in liked], [v.tolist() for v in disliked])
                    query = getattr(Query, kind)(examples)
                    request = QueryRequest(limit=K, query=query, filter=edge_filter(flt), with_payload=True)
                    with store._shard(None) as shard:
                        return [p.payload["movie_id"] for p in shard.query(request)]

                return run

            movie_of = {id(v): m for m, v in profile.items()}

            def product(liked: list[np.ndarray], disliked: list[np.ndarray], flt: PayloadFilter) -> list[str]:
                ids = [[movie_of[id(v)] for v in vectors] for vectors in (liked, disliked)]
                return [r.hit.movie_id for r in recommend(store, ids[0], ids[1], top_k=K)]

            systems = {
                "movrec recommend()": product,
                "Rocchio (movrec before)": lambda liked, disliked, flt: nearest(user_vector(liked, disliked), flt),
                "Rocchio, likes only": lambda liked, disliked, flt: nearest(user_vector(liked, []), flt),
                "engine best score": engine("RecommendBestScore"),
                "engine sum of scores": engine("RecommendSumScores"),
            }
            print("| system | subset | users | Recall@10 | NDCG@10 | ms p50 |")
            print("|---|---|---|---|---|---|")
            for name, system in systems.items():
                scores: dict[str, tuple[list[float], list[float]]] = {"tuning": ([], []), "held-out": ([], [])}
                ms = []
                for user, liked, disliked, answers in users:
                    flt = PayloadFilter(kinds=("profile",), exclude_movie_ids=(*liked, *disliked))
                    started = time.perf_counter()
                    ranked = system([profile[m] for m in liked], [profile[m] for m in disliked], flt)
                    ms.append((time.perf_counter() - started) * 1000)
                    recall, gains = scores["held-out" if user % 2 else "tuning"]
                    recall.append(len(answers & set(ranked)) / min(len(answers), K))
                    gains.append(ndcg(ranked, answers))
                for subset, (recall, gains) in scores.items():
                    print(
                        f"| {name} | {subset} | {len(recall)} | {interval(recall)} | {interval(gains)} | "
                        f"{np.percentile(ms, 50):.2f} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
