"""Every user's taste at once, for the batch path (the `user_profiles` asset): weights for all users
in one group-by, each user's segment, and a segment's taste vectors as one sparse-dense product
(users x movies weights @ movie profiles), instead of one user at a time. Same formulae as
`profiles.py`; no Dagster here."""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import sparse

from .profiles import DISLIKE_WEIGHT, event_weights

LIKED_KEPT = 50


def user_segments(events: pl.DataFrame, movie_language: dict[str, str]) -> pl.DataFrame:
    """(user_id, segment): the language the user gave last, else the majority language of the movies
    they have events about, else `und` (ties: the alphabetically first language)."""
    given = (
        events.drop_nulls("language")
        .sort("timestamp")
        .group_by("user_id")
        .agg(pl.col("language").last().alias("given"))
    )
    watched = events.select("user_id", "movie_id").unique()
    watched = watched.with_columns(pl.col("movie_id").replace_strict(movie_language, default=None).alias("lang"))
    majority = (
        watched.drop_nulls("lang")
        .group_by("user_id", "lang")
        .len()
        .sort(["user_id", "len", "lang"], descending=[False, True, False])
        .group_by("user_id", maintain_order=True)
        .agg(pl.col("lang").first().alias("majority"))
    )
    users = events.select("user_id").unique()
    return (
        users.join(given, on="user_id", how="left")
        .join(majority, on="user_id", how="left")
        .select("user_id", pl.coalesce("given", "majority", pl.lit("und")).alias("segment"))
        .sort("user_id")
    )


def histories(events: pl.DataFrame) -> dict[str, tuple[list[str], list[float]]]:
    """Per user: every movie they have events about, newest first, and its weight (what the
    users collection keeps so that serving a user never scans the events)."""
    weights = event_weights(events).sort(["user_id", "last", "movie_id"], descending=[False, True, False])
    return {
        user: (rows["movie_id"].to_list(), [round(w, 4) for w in rows["weight"].to_list()])
        for (user,), rows in weights.partition_by("user_id", as_dict=True).items()
    }


def segment_tastes(
    events: pl.DataFrame, users: list[str], profiles: dict[str, np.ndarray]
) -> tuple[list[str], np.ndarray, dict[str, list[str]], dict[str, int]]:
    """For `users`: (the ones with a vector, their unit taste vectors, their most-liked movies, their
    event counts). Users whose events touch no indexed movie get no vector."""
    mine = events.filter(pl.col("user_id").is_in(users))
    weights = event_weights(mine).filter(pl.col("movie_id").is_in(list(profiles)))
    counts = dict(mine.group_by("user_id").len().iter_rows())
    liked = {
        user: rows.sort("weight", descending=True)["movie_id"].head(LIKED_KEPT).to_list()
        for (user,), rows in weights.filter(pl.col("weight") > 0).partition_by("user_id", as_dict=True).items()
    }
    if weights.is_empty():
        return [], np.zeros((0, 0), dtype=np.float32), liked, counts
    movies = sorted(profiles)
    movie_index = {m: i for i, m in enumerate(movies)}
    with_vector = sorted(weights["user_id"].unique().to_list())
    user_index = {u: i for i, u in enumerate(with_vector)}
    scaled = weights.with_columns(
        pl.when(pl.col("weight") > 0).then(pl.col("weight")).otherwise(DISLIKE_WEIGHT * pl.col("weight")).alias("w")
    )
    matrix = sparse.csr_matrix(
        (
            scaled["w"].to_numpy(),
            ([user_index[u] for u in scaled["user_id"]], [movie_index[m] for m in scaled["movie_id"]]),
        ),
        shape=(len(with_vector), len(movies)),
    )
    vectors = np.asarray(matrix @ np.stack([profiles[m] for m in movies]), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1)
    keep = norms > 0
    kept_users = [u for u, k in zip(with_vector, keep) if k]
    return kept_users, (vectors[keep] / norms[keep, None]).astype(np.float32), liked, counts
