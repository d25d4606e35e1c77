"""Offline evaluation of search on public data: known-item search from MovieLens tags (next-movie
recommendation is `recsys/evaluate.py`). No Dagster here.

Protocol (EVALUATION.md repeats it with the figures):
* catalogue: the MovieLens movies that have a TMDB overview (`joined/` file), embedded like any catalogue.
* search: a movie's MovieLens tags (>= MIN_TAGS distinct, most used first, at most MAX_TAGS) are the
  query; the movie is the answer. Recall@1/5/10 and MRR (over the top 10).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from .embedding import Embedder
from .search import search_many
from .vectorstore import VectorStore

MIN_TAGS, MAX_TAGS = 3, 8
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


def evaluate_search(
    store: VectorStore, embedder: Embedder, queries: pl.DataFrame, batch: int = 64
) -> dict[str, Scores]:
    """Every (movie, query) through the product's search, `batch` queries to an engine call."""
    out = {"hybrid (dense + BM25)": Scores(), "dense only": Scores()}
    rows = queries.rows()
    for start in range(0, len(rows), batch):
        movies, texts = zip(*rows[start : start + batch])
        for name, hybrid in (("hybrid (dense + BM25)", True), ("dense only", False)):
            for movie, hits in zip(movies, search_many(store, embedder, list(texts), K, hybrid=hybrid)):
                out[name].add(movie, [h.movie_id for h in hits])
    return out


def read_movielens(folder: Path, known: set[str], id_prefix: str = "tmdb") -> tuple[pl.DataFrame, pl.DataFrame]:
    """(ratings of known movies in catalogue ids, links) from a MovieLens folder."""
    from .collaborative import read_ratings

    ratings, failures = read_ratings(folder, id_prefix)
    if failures:
        raise ValueError(f"unreadable MovieLens files: {failures}")
    ratings = ratings.filter(pl.col("movie_id").is_in(list(known)))
    links = pl.read_csv(folder / "links.csv", schema_overrides={"tmdbId": pl.Float64})
    return ratings, links
