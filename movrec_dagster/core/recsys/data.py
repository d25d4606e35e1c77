"""Interactions as the models see them: a catalogue of items (every movie with a content vector),
each user's sequence of items in time order, and the binary user x item matrix.

Every interaction counts as "watched" (a low rating too: that someone chose the movie is what
predicts the next choice; measured on MovieLens, EASE on all ratings beats EASE on liked ones).
Ties in time are broken by movie id, so a split is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import sparse

INTERACTIONS_SCHEMA = {"user_id": pl.String, "movie_id": pl.String, "timestamp": pl.Float64}


@dataclass
class Interactions:
    items: list[str]  # the catalogue: index -> movie id
    users: list[str]
    sequences: dict[str, np.ndarray]  # user -> item indices, oldest first, each item once (its last time)
    matrix: sparse.csr_matrix  # users x items, 1 where the user interacted

    @property
    def index(self) -> dict[str, int]:
        return {m: i for i, m in enumerate(self.items)}

    def popularity(self) -> np.ndarray:
        return np.asarray(self.matrix.sum(axis=0), dtype=np.float32).ravel()


def interactions(frame: pl.DataFrame, items: list[str]) -> Interactions:
    """`frame`: (user_id, movie_id, timestamp) rows; movies outside `items` are dropped."""
    index = {m: i for i, m in enumerate(items)}
    known = (
        frame.select(pl.col("user_id").cast(pl.String), pl.col("movie_id").cast(pl.String), "timestamp")
        .filter(pl.col("movie_id").is_in(items))
        .sort(["user_id", "timestamp", "movie_id"])
        .unique(["user_id", "movie_id"], keep="last", maintain_order=True)
        .with_columns(pl.col("movie_id").replace_strict(index, return_dtype=pl.Int32).alias("item"))
    )
    grouped = known.group_by("user_id", maintain_order=True).agg("item")
    users = grouped["user_id"].to_list()
    sequences = {u: np.asarray(s, dtype=np.int32) for u, s in zip(users, grouped["item"].to_list())}
    rows = np.repeat(np.arange(len(users)), [len(sequences[u]) for u in users])
    cols = np.concatenate([sequences[u] for u in users]) if users else np.zeros(0, dtype=np.int32)
    matrix = sparse.csr_matrix((np.ones(len(cols), dtype=np.float32), (rows, cols)), shape=(len(users), len(items)))
    return Interactions(list(items), users, sequences, matrix)


def hold_out_last(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(train, test): each user's latest interaction (ties: the larger movie id) is their test case;
    users with a single interaction stay whole in train."""
    ordered = frame.sort(["user_id", "timestamp", "movie_id"])
    last = pl.int_range(pl.len()).over("user_id") == pl.len().over("user_id") - 1
    several = pl.len().over("user_id") > 1
    marked = ordered.with_columns((last & several).alias("held"))
    return marked.filter(~pl.col("held")).drop("held"), marked.filter(pl.col("held")).drop("held")


def split_at(frame: pl.DataFrame, moment: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Global time split: (everything before `moment`, each user's first interaction after it). Users
    with nothing before it are the cold-start users: a model sees them with an empty history."""
    train = frame.filter(pl.col("timestamp") < moment)
    after = frame.filter(pl.col("timestamp") >= moment).sort(["user_id", "timestamp", "movie_id"])
    return train, after.unique("user_id", keep="first", maintain_order=True)
