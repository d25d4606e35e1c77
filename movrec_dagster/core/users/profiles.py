"""What a user's events say about them: a weight per movie, a segment, and a taste vector.

Weights per (user, movie), summed over the user's events:
  rating v -> (v - 3) / 2 (5 stars +1, 1 star -1); like +1; dislike -1; finish +0.5;
  progress p -> 0.5 * p; play +0.1.
A movie with a positive weight is *liked*, a negative one *disliked*; every movie with an event is
*watched* (never recommended back). The taste vector is the Rocchio vector recommendations already
use: normalise(mean of liked profiles weighted by their weight - 0.5 * the same for disliked).
The segment is the language the user gave (their latest event with one), else the language most of
their watched movies are filed under, else `und`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import polars as pl

DISLIKE_WEIGHT = 0.5
WEIGHTS = {"like": 1.0, "dislike": -1.0, "finish": 0.5, "play": 0.1}


@dataclass
class UserTaste:
    user_id: str
    weights: dict[str, float]  # movie -> summed weight
    recent: list[str]  # watched movies, most recent first
    segment: str
    events: int
    vector: np.ndarray | None = None
    through: float = 0.0  # the newest event batch (its stamp) this taste reflects
    last_event: float = 0.0  # the latest event timestamp it holds

    @property
    def liked(self) -> list[str]:
        return sorted((m for m, w in self.weights.items() if w > 0), key=lambda m: -self.weights[m])

    @property
    def disliked(self) -> list[str]:
        return [m for m, w in self.weights.items() if w < 0]

    @property
    def watched(self) -> list[str]:
        return list(self.weights)


def event_weights(events: pl.DataFrame) -> pl.DataFrame:
    """(user_id, movie_id, weight, last) per pair: the formula above."""
    kind, value = pl.col("event"), pl.col("value")
    weight = (
        pl.when(kind == "rating")
        .then((value - 3.0) / 2.0)
        .when(kind == "progress")
        .then(0.5 * value)
        .otherwise(kind.replace_strict(WEIGHTS, default=0.0, return_dtype=pl.Float64))
    )
    return events.group_by("user_id", "movie_id").agg(
        weight.sum().alias("weight"), pl.col("timestamp").max().alias("last")
    )


def segment_of(events: pl.DataFrame, languages: dict[str, str]) -> str:
    """The user's given language (latest), else the majority language of what they watched."""
    given = events.drop_nulls("language").sort("timestamp")
    if len(given):
        return str(given["language"][-1])
    counts = Counter(languages[m] for m in events["movie_id"].unique() if m in languages)
    return counts.most_common(1)[0][0] if counts else "und"


def taste_of(user_id: str, events: pl.DataFrame, languages: dict[str, str]) -> UserTaste:
    """One user's weights, recency and segment from their (deduplicated) events."""
    mine = events.filter(pl.col("user_id") == user_id)
    weights = event_weights(mine).sort(["last", "movie_id"], descending=[True, False])
    return UserTaste(
        user_id=user_id,
        weights=dict(zip(weights["movie_id"], weights["weight"])),
        recent=weights["movie_id"].to_list(),
        segment=segment_of(mine, languages),
        events=len(mine),
        last_event=float(mine["timestamp"].max() or 0.0) if len(mine) else 0.0,
    )


def taste_vector(taste: UserTaste, profiles: dict[str, np.ndarray]) -> np.ndarray | None:
    """The weighted Rocchio vector over the movies whose profiles are known; None without any."""
    vector, used = None, 0
    for movie, weight in taste.weights.items():
        profile = profiles.get(movie)
        if profile is None or weight == 0:
            continue
        term = (weight if weight > 0 else DISLIKE_WEIGHT * weight) * profile
        vector = term if vector is None else vector + term
        used += 1
    if vector is None or not used or not np.linalg.norm(vector):
        return None
    return (vector / np.linalg.norm(vector)).astype(np.float32)
