"""Training the served taste model from what a home holds: watch events (MovieLens ratings arrive as
events of users `ml-<id>`, see users/events.py; a ratings folder copied in without them counts too)
over the catalogue of movies that have a profile vector."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import polars as pl

from ..collaborative import read_ratings
from ..home import MovrecHome
from ..users.events import RATINGS_USER_PREFIX, event_batches, read_events
from ..users.segments import profile_vectors
from ..users.service import canonical_events
from . import artifact
from .blend import EASE_LAMBDAS, GRID, TasteModel, fit
from .models import KEEP, MAX_ITEMS, WINDOW

MIN_USERS = 2  # below this there is nothing to learn from: content and popularity serve
SETTINGS = {"max_items": MAX_ITEMS, "keep": KEEP, "window": WINDOW, "lambdas": EASE_LAMBDAS, "grid": GRID}


@dataclass
class Trained:
    version: str | None
    model: TasteModel | None
    reused: bool
    seconds: float
    interactions: int
    users: int


def catalogue_vectors(home: MovrecHome) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(movie ids, their profile vectors, which have one): every indexed movie, sorted by id."""
    profiles = profile_vectors(home)
    if profiles.is_empty():
        return [], np.zeros((0, 0), dtype=np.float32), np.zeros(0, dtype=bool)
    vectors = np.asarray(profiles["vector"].to_list(), dtype=np.float32)
    return profiles["movie_id"].to_list(), vectors, np.linalg.norm(vectors, axis=1) > 0


def training_frame(home: MovrecHome) -> pl.DataFrame:
    """(user_id, movie_id, timestamp) of every event and rating, movie ids canonical, each pair once."""
    events = read_events(home, files=event_batches(home)).select("user_id", "movie_id", "event", "timestamp")
    ratings, _ = read_ratings(home.ratings) if home.ratings.is_dir() else (None, [])
    frames = [events.select("user_id", "movie_id", "timestamp")]
    if ratings is not None and len(ratings):
        frames.append(
            ratings.select(
                (pl.lit(RATINGS_USER_PREFIX) + pl.col("user_id")).alias("user_id"),
                "movie_id",
                pl.col("timestamp").cast(pl.Float64),
            )
        )
    frame, _ = canonical_events(home, pl.concat(frames))
    return frame.sort(["user_id", "timestamp", "movie_id"]).unique(["user_id", "movie_id"], keep="last")


def train(home: MovrecHome) -> Trained:
    """A model for the home's current data, or the existing one when that data was seen already."""
    started = time.perf_counter()
    items, vectors, present = catalogue_vectors(home)
    frame = training_frame(home)
    frame = frame.filter(pl.col("movie_id").is_in(items))
    users = frame["user_id"].n_unique()
    if users < MIN_USERS or not items:
        return Trained(None, None, False, time.perf_counter() - started, len(frame), users)
    version = artifact.data_version(frame, items, SETTINGS)
    if (artifact.models_folder(home) / version).is_dir():  # this data was seen: serve that model again
        artifact.make_current(home, version)
        return Trained(version, artifact.read(home, version), True, time.perf_counter() - started, len(frame), users)
    model = fit(frame, items, vectors, present)
    model.info |= {"trained_at": time.time(), "events_through": _newest_batch(home)}
    artifact.save(home, model, version)
    return Trained(version, model, False, time.perf_counter() - started, len(frame), users)


def _newest_batch(home: MovrecHome) -> float:
    from ..users.events import batch_stamp

    return max((batch_stamp(p) for p in event_batches(home)), default=0.0)


def events_since_training(home: MovrecHome) -> int:
    """How many events were stored after the served model's data (what the retrain sensor counts)."""
    from ..users.events import batches_since

    model = artifact.served(home)
    through = float(model.info.get("events_through") or 0.0) if model is not None else 0.0
    newer = batches_since(home, through)
    return int(pl.scan_parquet(newer).select(pl.len()).collect().item()) if newer else 0
