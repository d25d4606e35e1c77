"""Offline evaluation on public data: known-item search from MovieLens tags, and next-movie
recommendation from MovieLens watch histories (leave-last-out). No Dagster here.

Protocol (EVALUATION.md repeats it with the figures):
* catalogue: the MovieLens movies that have a TMDB overview (`joined/` file), embedded like any catalogue.
* search: a movie's MovieLens tags (>= MIN_TAGS distinct, most used first, at most MAX_TAGS) are the
  query; the movie is the answer. Recall@1/5/10 and MRR (over the top 10).
* recommendation: per user, the last rating in time is held out; the rest is the history (liked:
  rating >= LIKED, disliked: <= DISLIKED; everything rated counts as watched and is never
  recommended). Two histories: the RECENT most recent liked (and disliked) movies — what someone
  watching now would give — and all of them. Each model ranks the unwatched movies; Recall@10 and
  NDCG@10 of the held-out movie (one relevant item: 1/log2(rank+1)). Cold start: the users whose
  held-out movie nobody rated in the training split.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from .collaborative import ItemNeighbours, item_knn
from .embedding import Embedder
from .recommend import recommend
from .search import search
from .vectorstore import VectorStore

MIN_TAGS, MAX_TAGS = 3, 8
LIKED, DISLIKED = 3.5, 2.0
RECENT = 10
K = 10


@dataclass
class Scores:
    """Ranks (1-based, None = not in the top K) of each case's answer, and the metrics they give."""

    ranks: list[int | None] = field(default_factory=list)

    def add(self, answer: str, ranking: list[str]) -> None:
        self.ranks.append(ranking.index(answer) + 1 if answer in ranking[:K] else None)

    def recall(self, k: int) -> float:
        return sum(1 for r in self.ranks if r is not None and r <= k) / max(len(self.ranks), 1)

    def ndcg(self, k: int = K) -> float:
        gains = [1 / math.log2(r + 1) for r in self.ranks if r is not None and r <= k]
        return sum(gains) / max(len(self.ranks), 1)

    def mrr(self) -> float:
        return sum(1 / r for r in self.ranks if r is not None) / max(len(self.ranks), 1)


def tag_queries(tags: pl.DataFrame, links: pl.DataFrame, known: set[str], id_prefix: str = "tmdb") -> pl.DataFrame:
    """(movie_id, query): each movie's distinct MovieLens tags, most used first."""
    mapped = tags.join(links.select("movieId", "tmdbId"), on="movieId").drop_nulls("tmdbId")
    mapped = mapped.with_columns(
        (pl.lit(f"{id_prefix}-") + pl.col("tmdbId").cast(pl.Int64).cast(pl.String)).alias("movie_id"),
        pl.col("tag").str.to_lowercase().str.strip_chars().alias("tag"),
    ).filter(pl.col("movie_id").is_in(list(known)) & (pl.col("tag").str.len_chars() > 1))
    counts = mapped.group_by("movie_id", "tag").len().sort(["movie_id", "len", "tag"], descending=[False, True, False])
    grouped = counts.group_by("movie_id", maintain_order=True).agg(pl.col("tag").head(MAX_TAGS), pl.len().alias("n"))
    return grouped.filter(pl.col("n") >= MIN_TAGS).select("movie_id", pl.col("tag").list.join(", ").alias("query"))


def evaluate_search(store: VectorStore, embedder: Embedder, queries: pl.DataFrame) -> dict[str, Scores]:
    out = {"hybrid (dense + BM25)": Scores(), "dense only": Scores()}
    for movie, text in queries.iter_rows():
        for name, hybrid in (("hybrid (dense + BM25)", True), ("dense only", False)):
            out[name].add(movie, [h.movie_id for h in search(store, embedder, text, K, hybrid=hybrid)])
    return out


def leave_last_out(ratings: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(train, test): each user's latest rating (ties broken by movie id) is their test case."""
    ordered = ratings.sort("user_id", "timestamp", "movie_id")
    is_last = pl.col("timestamp").cum_count().over("user_id") == pl.len().over("user_id")
    ranked = ordered.with_columns(is_last.alias("last"))
    test = ranked.filter(pl.col("last")).drop("last")
    train = ranked.filter(~pl.col("last")).drop("last")
    return train, test.filter(pl.col("user_id").is_in(train["user_id"].unique().implode()))


@dataclass
class History:
    liked: list[str]
    disliked: list[str]
    watched: set[str]


def histories(train: pl.DataFrame, recent: int = 0) -> dict[str, History]:
    """Per user: liked and disliked movies, oldest first (the `recent` latest only, when given)."""
    out = {}
    for (user,), rows in train.sort("timestamp", "movie_id").partition_by("user_id", as_dict=True).items():
        liked = rows.filter(pl.col("rating") >= LIKED)["movie_id"].to_list()
        disliked = rows.filter(pl.col("rating") <= DISLIKED)["movie_id"].to_list() if liked else []
        watched = rows["movie_id"].to_list()
        liked = liked or watched
        if recent:
            liked, disliked = liked[-recent:], disliked[-recent:]
        out[user] = History(liked, disliked, set(watched))
    return out


Ranker = Callable[[History], list[str]]


def popularity_ranker(train: pl.DataFrame) -> Ranker:
    order = train.group_by("movie_id").len().sort(["len", "movie_id"], descending=[True, False])["movie_id"].to_list()

    def rank(history: History) -> list[str]:
        return [m for m in order[: K + len(history.watched)] if m not in history.watched][:K]

    return rank


def knn_ranker(neighbours: ItemNeighbours) -> Ranker:
    def rank(history: History) -> list[str]:
        scores = neighbours.scores(history.liked, history.disliked)
        ranked = sorted((m for m in scores if m not in history.watched and scores[m] > 0), key=lambda m: -scores[m])
        return ranked[:K]

    return rank


def store_ranker(store: VectorStore, neighbours: ItemNeighbours | None, weight: float) -> Ranker:
    def rank(history: History) -> list[str]:
        recs = recommend(
            store,
            history.liked,
            history.disliked,
            K,
            neighbours=neighbours,
            collaborative_weight=weight,
            pool=100,
            watched=sorted(history.watched),
        )
        return [r.hit.movie_id for r in recs]

    return rank


@dataclass
class RecommendationReport:
    users: int
    cold_users: int
    overall: dict[tuple[str, str], Scores]  # (model, history) -> scores
    cold: dict[tuple[str, str], Scores]
    seconds: dict[tuple[str, str], float]


def evaluate_recommendations(
    store: VectorStore, ratings: pl.DataFrame, collaborative_weight: float, max_users: int = 0
) -> RecommendationReport:
    """Popularity, item-kNN, content (our embeddings) and hybrid (content + item-kNN), leave-last-out,
    from the recent history and from the whole history."""
    train, test = leave_last_out(ratings)
    if max_users:
        test = test.sort("user_id").head(max_users)
    raters = set(train["movie_id"].unique().to_list())
    users = train.filter(pl.col("user_id").is_in(test["user_id"].implode()))
    variants = {f"last {RECENT} liked": histories(users, RECENT), "all liked": histories(users)}
    neighbours = item_knn(train)
    models: dict[str, Ranker] = {
        "popularity": popularity_ranker(train),
        "item-kNN": knn_ranker(neighbours),
        "content (embeddings)": store_ranker(store, None, 0.0),
        f"hybrid (content + item-kNN, c={collaborative_weight})": store_ranker(store, neighbours, collaborative_weight),
    }
    keys = [(model, variant) for variant in variants for model in models]
    overall = {key: Scores() for key in keys}
    cold = {key: Scores() for key in keys}
    seconds = dict.fromkeys(keys, 0.0)
    for user, answer in test.select("user_id", "movie_id").iter_rows():
        for model, variant in keys:
            started = time.perf_counter()
            ranking = models[model](variants[variant][user])
            seconds[(model, variant)] += time.perf_counter() - started
            overall[(model, variant)].add(answer, ranking)
            if answer not in raters:
                cold[(model, variant)].add(answer, ranking)
    cold_users = sum(1 for answer in test["movie_id"] if answer not in raters)
    return RecommendationReport(len(test), cold_users, overall, cold, seconds)


def read_movielens(folder: Path, known: set[str], id_prefix: str = "tmdb") -> tuple[pl.DataFrame, pl.DataFrame]:
    """(ratings of known movies in catalogue ids, links) from a MovieLens folder."""
    from .collaborative import read_ratings

    ratings, failures = read_ratings(folder, id_prefix)
    if failures:
        raise ValueError(f"unreadable MovieLens files: {failures}")
    ratings = ratings.filter(pl.col("movie_id").is_in(list(known)))
    links = pl.read_csv(folder / "links.csv", schema_overrides={"tmdbId": pl.Float64})
    return ratings, links
