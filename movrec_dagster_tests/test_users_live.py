"""Near real time, for real: a running `dagster dev` (webserver + daemon, the shipped sensors) turns
events stored by the API into a user's vector, and a later event into an updated one, with no
command run by hand. Fake 8-d content vectors (no model to load); everything else is real."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from movrec_dagster.core.home import MovrecHome
from movrec_dagster.core.users.events import store_events, validate
from movrec_dagster.core.users.service import USERS_ALIAS, current_taste, pseudonym
from movrec_dagster.core.users.strategies import recommend_for_user
from movrec_dagster.core.vectorstore import EdgeStore, PayloadFilter
from movrec_dagster.devserver import DagsterDev

from .unit.fakes import indexed_home

MOVIES = [(i, f"Movie {i}", 2000 + i % 20, "en", float(100 - i)) for i in range(1, 31)]


@pytest.fixture
def home(tmp_path: Path) -> MovrecHome:
    return indexed_home(tmp_path / "home", *MOVIES)[0]


def _wait(check: object, timeout_s: float = 150.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if check():  # type: ignore[operator]
            return time.monotonic() - started
        time.sleep(0.5)
    raise TimeoutError("not within the time")


def test_the_running_sensors_re_embed_a_user_from_new_events(home: MovrecHome, tmp_path: Path) -> None:
    users = EdgeStore(home.qdrant, alias=USERS_ALIAS)
    key = pseudonym(home, "nrt")

    def point() -> dict | None:
        if users.serving_version() is None:
            return None
        found = users.scroll(PayloadFilter(user_ids=(key,)))
        return found[0].payload if found else None

    with DagsterDev(home.root, tmp_path / "dagster", tmp_path / "dev.log"):
        now = time.time()
        store_events(home, validate([{"user_id": "nrt", "movie_id": "tmdb-1", "event": "like", "timestamp": now}]))
        _wait(lambda: point() is not None)
        assert point()["watched"] == ["tmdb-1"]
        # a later event: the segment's next run (incremental) updates the same point
        store_events(home, validate([{"user_id": "nrt", "movie_id": "tmdb-2", "event": "like", "timestamp": now + 1}]))
        _wait(lambda: "tmdb-2" in (point() or {}).get("watched", []))
    assert users.count() == 1 and point()["events"] == 2
    store = EdgeStore(home.qdrant)
    recs = recommend_for_user(store, [], current_taste(home, store, users, "nrt"), top_k=5, strategy="profile")
    assert recs and not {"tmdb-1", "tmdb-2"} & {r.hit.movie_id for r in recs}
