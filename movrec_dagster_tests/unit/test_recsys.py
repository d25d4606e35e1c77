"""The learned taste model (core/recsys): deterministic training, no leakage from held-out data,
weights that come from the validation split, and a retrain a running API picks up. Real numpy,
scipy and the embedded engine; fake 8-d content vectors (the fast tier)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from fastapi.testclient import TestClient

from movrec_dagster.core.home import MovrecHome
from movrec_dagster.core.recsys import artifact
from movrec_dagster.core.recsys.blend import components_of, fit, tune, validation_cases
from movrec_dagster.core.recsys.data import hold_out_last, interactions, split_at
from movrec_dagster.core.recsys.models import als
from movrec_dagster.core.recsys.training import train
from movrec_dagster.core.users.events import store_events, validate

from .fakes import FakeEmbedder, indexed_home

MOVIES = [(i, f"Movie {i}", 2000 + i % 20, "en", float(100 - i)) for i in range(1, 61)]


def synthetic(users: int = 80, seed: int = 5) -> pl.DataFrame:
    """Sessions that walk the catalogue in order (movie k, then k+1, ...): order carries signal."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(users):
        start, length = int(rng.integers(1, 40)), int(rng.integers(4, 12))
        for step in range(length):
            rows.append((f"u{u}", f"tmdb-{start + step}", float(1_000 * u + step)))
    return pl.DataFrame(rows, schema=["user_id", "movie_id", "timestamp"], orient="row")


def vectors(items: list[str]) -> tuple[np.ndarray, np.ndarray]:
    out = FakeEmbedder().encode(items)
    return out, np.ones(len(items), dtype=bool)


ITEMS = [f"tmdb-{i}" for i, *_ in MOVIES]


def test_training_is_deterministic() -> None:
    frame = synthetic()
    vecs, present = vectors(ITEMS)
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=3)
    first, second = fit(frame, ITEMS, vecs, present), fit(shuffled, ITEMS, vecs, present)
    assert first.weights == second.weights and first.info == second.info
    assert (first.ease != second.ease).nnz == 0 and (first.transitions != second.transitions).nnz == 0
    matrix = interactions(frame, ITEMS).matrix
    assert np.array_equal(als(matrix, factors=8, seed=3)[1], als(matrix, factors=8, seed=3)[1])


def test_no_held_out_item_reaches_training() -> None:
    """Each user's last movie is one nobody else watched; a wrong split would let it into training."""
    frame = synthetic()
    secrets = [f"tmdb-{100 + k}" for k in range(frame["user_id"].n_unique())]
    last = frame.group_by("user_id").agg(pl.col("timestamp").max() + 1).sort("user_id")
    held = last.with_columns(pl.Series("movie_id", secrets)).select(frame.columns)
    items = ITEMS + secrets
    train_part, test_part = hold_out_last(pl.concat([frame, held]))
    assert sorted(test_part["movie_id"]) == sorted(secrets)
    pairs = set(zip(train_part["user_id"], train_part["movie_id"]))
    assert not set(zip(test_part["user_id"], test_part["movie_id"])) & pairs
    vecs, present = vectors(items)
    model = fit(train_part, items, vecs, present)
    secret = model.indices(secrets)
    assert model.popularity[secret].sum() == 0  # never seen
    assert model.ease[secret].nnz == 0 and model.ease[:, secret].nnz == 0 and model.transitions[:, secret].nnz == 0
    # and the time split: nothing at or after the moment is trained on
    before, after = split_at(pl.concat([frame, held]), 50_002.5)  # inside user u50's session
    assert before["timestamp"].max() < 50_002.5 <= after["timestamp"].min()
    assert after.filter(pl.col("user_id") == "u50")["timestamp"].to_list() == [50_003.0]  # the first after


def test_the_blend_weights_come_from_the_validation_split() -> None:
    frame = synthetic()
    vecs, present = vectors(ITEMS)
    served = fit(frame, ITEMS, vecs, present)
    fitting, validation = hold_out_last(frame)  # what fit must carve from its own data
    data = interactions(fitting, ITEMS)
    from movrec_dagster.core.recsys.blend import EASE_LAMBDAS

    tuned = tune(*components_of(data, vecs, present, EASE_LAMBDAS), validation_cases(data, validation))
    assert served.weights == tuned.weights and served.info["validation_ndcg"] == tuned.info["validation_ndcg"]
    assert served.weights["sequential"] > 0 or served.weights["recent_collaborative"] > 0  # order carries signal here


@pytest.fixture
def home(tmp_path: Path) -> MovrecHome:
    return indexed_home(tmp_path / "home", *MOVIES)[0]


def _store(home: MovrecHome, frame: pl.DataFrame) -> None:
    now = time.time()
    rows = [
        {"user_id": u, "movie_id": m, "event": "finish", "timestamp": now - 86_400 + t / 1000}
        for u, m, t in frame.iter_rows()
    ]
    store_events(home, validate(rows))


def test_a_running_api_picks_up_a_retrain(home: MovrecHome) -> None:
    from movrec_dagster.api import create_app

    _store(home, synthetic(users=40))
    first = train(home)
    assert first.model is not None and not first.reused and train(home).reused  # same data: same version
    client = TestClient(create_app(home))
    answer = client.get("/users/u3/recommendations", params={"top_k": 5})
    assert answer.status_code == 200 and answer.headers["X-Movrec-Model"] == first.version
    results = answer.json()
    assert results and all(r["strategy"] == "blend" and r["evidence"]["signal"] for r in results)
    watched = set(synthetic(users=40).filter(pl.col("user_id") == "u3")["movie_id"])
    assert not watched & {r["movie_id"] for r in results}
    _store(home, synthetic(users=40, seed=9).with_columns(pl.col("user_id") + "b"))
    second = train(home)
    assert second.version != first.version
    again = client.get("/users/u3/recommendations", params={"top_k": 5})
    assert again.headers["X-Movrec-Model"] == second.version  # no restart
    similar = client.get("/movies/tmdb-10/similar", params={"top_k": 3})
    assert similar.status_code == 200 and "tmdb-10" not in [h["movie_id"] for h in similar.json()]
    assert artifact.current_version(home) == second.version
