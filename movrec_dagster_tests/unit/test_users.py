"""Users from watch events: validation, storage, taste, the three strategies, cold start and a
complete forget, on the real embedded engine with fake vectors (no model: the fast tier)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import polars as pl
import pytest

from movrec_dagster.core.home import MovrecHome
from movrec_dagster.core.users.events import EventError, read_events, store_events, validate
from movrec_dagster.core.users.profiles import event_weights
from movrec_dagster.core.users.service import (
    USERS_ALIAS,
    drop_forgotten,
    forget_user,
    profile_user,
    save_user,
    similar_users,
)
from movrec_dagster.core.users.strategies import recommend_for_user
from movrec_dagster.core.vectorstore import EdgeStore

from .fakes import indexed_home

NOW = 1_800_000_000.0
MOVIES = [(i, f"Movie {i}", 2000 + i % 20, "en" if i % 3 else "fr", float(100 - i)) for i in range(1, 41)]


@pytest.fixture
def library(tmp_path: Path) -> tuple[MovrecHome, EdgeStore, EdgeStore]:
    home, store = indexed_home(tmp_path / "home", *MOVIES)
    return home, store, EdgeStore(home.qdrant, alias=USERS_ALIAS)


def _event(user: str, movie: str, event: str = "like", value: float | None = None, t: float = NOW - 100) -> dict:
    return {"user_id": user, "movie_id": movie, "event": event, "value": value, "timestamp": t}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"movie_id": "m", "event": "like", "timestamp": 1}, "events[0].user_id: user_id must be a non-empty string"),
        (_event("u", "m", "rating", 7), "events[0].value: a rating is a number from 0.5 to 5"),
        (_event("u", "m", "progress", None), "events[0].value: progress is the fraction watched"),
        (_event("u", "m", "binge"), "events[0].event: must be one of"),
        (_event("u", "m", t=NOW + 86_400), "is before 1970 or in the future"),
        (_event("u", "m", t=-5), "is before 1970 or in the future"),
        (_event("u", "m") | {"timestamp": "yesterday"}, "events[0].timestamp: must be seconds since 1970"),
        ("not an object", "events[0]: must be an object"),
    ],
)
def test_a_bad_event_names_its_index_and_field(bad: object, message: str) -> None:
    with pytest.raises(EventError) as caught:
        validate([bad], now=NOW)
    assert message in str(caught.value)


def test_a_batch_is_stored_whole_or_not_at_all_and_duplicates_count_once(library: tuple) -> None:
    home, _, _ = library
    with pytest.raises(EventError, match=r"events\[1\]"):
        validate([_event("u", "tmdb-1"), _event("u", "tmdb-2", "rating", 9)], now=NOW)
    assert read_events(home).is_empty()  # nothing of the bad batch was stored
    good = validate([_event("u", "tmdb-1"), _event("u", "tmdb-1"), _event("u", "tmdb-2", "finish")], now=NOW)
    store_events(home, good)
    store_events(home, good[:1])  # the same event again, in another batch
    assert len(read_events(home)) == 2
    assert validate([_event("u", "tmdb-1") | {"timestamp": "2026-11-30T12:00:00Z"}], now=NOW)[0].timestamp > 0


def test_weights_follow_the_formula() -> None:
    events = pl.DataFrame(
        {
            "user_id": ["u"] * 5,
            "movie_id": ["a", "a", "b", "c", "d"],
            "event": ["rating", "finish", "dislike", "progress", "play"],
            "value": [5.0, None, None, 0.5, None],
            "timestamp": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    weights = dict(event_weights(events).select("movie_id", "weight").iter_rows())
    assert weights == pytest.approx({"a": 1.5, "b": -1.0, "c": 0.25, "d": 0.1})


def test_each_strategy_recommends_unwatched_movies_with_its_evidence(library: tuple) -> None:
    home, store, users = library
    events = [_event("ana", f"tmdb-{i}", t=NOW - 100 + i) for i in (1, 2, 4, 5)]
    events += [_event("ana", "tmdb-3", "dislike"), _event("bo", "tmdb-1"), _event("bo", "tmdb-2")]
    events += [_event("bo", "tmdb-7"), _event("bo", "tmdb-8", "rating", 5.0)]
    store_events(home, validate(events, now=NOW))
    tastes = {user: profile_user(home, store, user) for user in ("ana", "bo")}
    for taste in tastes.values():
        assert save_user(home, users, taste, "fake")
    ana = tastes["ana"]
    assert ana.segment == "en" and ana.disliked == ["tmdb-3"] and ana.vector is not None
    neighbours = [(u, liked) for u, _, liked in similar_users(home, users, ana, 10)]
    assert [u for u, _ in neighbours] == ["bo"]
    watched = set(ana.watched)
    for strategy in ("profile", "recent", "similar_users", "blend"):
        recs = recommend_for_user(store, neighbours, ana, top_k=4, strategy=strategy)
        assert recs and not watched & {r.hit.movie_id for r in recs}, strategy
        assert len({r.hit.movie_id for r in recs}) == len(recs)
    similar = recommend_for_user(store, neighbours, ana, top_k=4, strategy="similar_users")
    assert {r.hit.movie_id for r in similar} == {"tmdb-7", "tmdb-8"} and similar[0].evidence == {"users": ["bo"]}
    recent = recommend_for_user(store, neighbours, ana, top_k=4, strategy="recent")
    assert recent[0].evidence == {"liked": "tmdb-5"}  # the most recent like leads
    blend = recommend_for_user(store, neighbours, ana, top_k=6)
    assert {r.strategy for r in blend} == {"recent", "profile", "similar_users"}


def test_cold_start_gets_the_popular_movies_of_the_language(library: tuple) -> None:
    home, store, users = library
    nobody = profile_user(home, store, "new-user")
    recs = recommend_for_user(store, [], nobody, top_k=5)
    assert [r.strategy for r in recs] == ["popular"] * 5
    assert recs[0].hit.movie_id == "tmdb-1"  # the most popular overall
    store_events(home, validate([_event("fr-fan", "tmdb-3") | {"language": "fr"}], now=NOW))
    fan = profile_user(home, store, "fr-fan")
    assert fan.segment == "fr"
    one = recommend_for_user(store, [], fan, top_k=3)
    assert one and one[0].strategy in ("recent", "profile")  # one event already personalises


def test_forgetting_a_user_leaves_no_trace_and_refuses_their_later_events(library: tuple) -> None:
    home, store, users = library
    store_events(home, validate([_event("zz-secret-user", "tmdb-1"), _event("keep-me", "tmdb-2")], now=NOW))
    for user in ("zz-secret-user", "keep-me"):
        save_user(home, users, profile_user(home, store, user), "fake")
    assert forget_user(home, users, "zz-secret-user") == 1
    found = subprocess.run(["grep", "-rl", "zz-secret-user", str(home.root)], capture_output=True, text=True)
    assert found.stdout == ""  # not in the events, the directory, the store's segments or its log
    assert read_events(home)["user_id"].to_list() == ["keep-me"]
    assert users.count() == 1  # the others are still there
    later, dropped = drop_forgotten(home, validate([_event("zz-secret-user", "tmdb-9")], now=NOW))
    assert later == [] and dropped == 1


def test_movielens_ratings_become_users_and_forgetting_one_scrubs_the_ratings_files(library: tuple) -> None:
    from movrec_dagster.core.collaborative import read_ratings
    from movrec_dagster.core.users.events import rating_events, store_frame

    home, store, users = library
    home.ratings.mkdir(parents=True, exist_ok=True)
    (home.ratings / "ratings.csv").write_text("userId,tmdbId,rating,timestamp\n7,1,5.0,10\n7,2,4.0,11\n8,2,1.0,12\n")
    ratings, _ = read_ratings(home.ratings)
    store_frame(home, rating_events(ratings))
    taste = profile_user(home, store, "ml-7")
    assert taste.liked == ["tmdb-1", "tmdb-2"] and taste.events == 2
    assert forget_user(home, users, "ml-7") == 4  # two events and two rows of ratings.csv
    assert (home.ratings / "ratings.csv").read_text().splitlines() == ["userId,tmdbId,rating,timestamp", "8,2,1.0,12"]


def test_serving_a_user_reads_their_point_and_only_the_batches_since(library: tuple) -> None:
    from movrec_dagster.core.users.service import current_taste

    home, store, users = library
    store_events(home, validate([_event("eve", "tmdb-1", t=NOW - 100), _event("eve", "tmdb-2", t=NOW - 50)], now=NOW))
    save_user(home, users, profile_user(home, store, "eve"), "fake")
    point = current_taste(home, store, users, "eve")
    assert point.watched == ["tmdb-2", "tmdb-1"] and point.vector is not None
    time.sleep(0.01)
    store_events(home, validate([_event("eve", "tmdb-4", t=NOW - 1)], now=NOW))  # no profile run since
    later = current_taste(home, store, users, "eve")
    assert later.recent[0] == "tmdb-4" and "tmdb-4" in later.watched
    recs = recommend_for_user(store, [], later, top_k=10)
    assert "tmdb-4" not in [r.hit.movie_id for r in recs]  # watched a moment ago: never recommended back


def test_real_time_updates_count_each_event_once(library: tuple) -> None:
    """Incremental updates (the point plus the batches since) equal a profile from all events, also
    when a client sends an event again or several updates follow each other."""
    from movrec_dagster.core.users.service import current_taste, refresh_user

    home, store, users = library
    sent = [_event("ann", "tmdb-1", t=NOW - 100), _event("ann", "tmdb-2", "rating", 4.5, t=NOW - 90)]
    for i, event in enumerate([*sent, sent[0], _event("ann", "tmdb-5", "dislike", t=NOW - 10)]):
        store_events(home, validate([event], now=NOW))
        refresh_user(home, store, users, "ann", "fake")
        time.sleep(0.002 * (i + 1))
    served, truth = current_taste(home, store, users, "ann"), profile_user(home, store, "ann")
    assert served.weights == pytest.approx(truth.weights) and served.events == truth.events == 3
    assert served.vector == pytest.approx(truth.vector, abs=1e-5)


def test_the_directory_appends_new_users_and_survives_a_torn_line(library: tuple) -> None:
    from movrec_dagster.core.users.directory import _log, compact, directory, remember

    home, _, _ = library
    keys = remember(home, ["a", "b"])
    assert directory(home) == {keys["a"]: "a", keys["b"]: "b"}
    with _log(home).open("a") as handle:
        handle.write('{"k": "half')  # a crash mid-append
    assert len(directory(home)) == 2
    compact(home, without=keys["a"])
    assert directory(home) == {keys["b"]: "b"} and "a" not in _log(home).read_text()


def test_a_new_embedding_model_rebuilds_users_beside_the_serving_version(library: tuple) -> None:
    """Blue/green for users: the old version serves until every segment is in the new one."""
    from movrec_dagster.core.users.segments import sync_segment

    home, _, users = library
    store_events(home, validate([_event("ann", "tmdb-1"), _event("bob", "tmdb-3")], now=NOW))
    for segment in ("en", "fr"):
        assert sync_segment(home, users, segment, "fake")["mode"] == "full"
    before = users.serving_version()
    result = sync_segment(home, users, "en", "fake-v2")
    assert result["mode"] == "rebuild" and result["with_vector"] == 2
    assert users.serving_version() != before and users.pointer("previous") == before
    assert next(v.model for v in users.versions() if v.name == users.serving_version()) == "fake-v2"
    assert users.count() == 2
    assert sync_segment(home, users, "en", "fake-v2")["mode"] == "incremental"
