"""Near real time for users through the real sensors and jobs: event files and API batches are taken
in, and only the segments whose users changed are re-embedded into the users collection."""

from __future__ import annotations

import json
import time

import dagster as dg
import polars as pl
import pytest

from movrec_dagster.core.home import MovrecHome
from movrec_dagster.core.users.events import store_events, validate
from movrec_dagster.core.users.service import USERS_ALIAS, pseudonym
from movrec_dagster.core.vectorstore import EdgeStore, PayloadFilter
from movrec_dagster.definitions import defs
from movrec_dagster.defs.resources import LibraryResource
from movrec_dagster.defs.users.sensors import events_sensor, profile_changed_segments
from movrec_dagster.runner import QUIET, add_catalogue, run_pipeline

from .conftest import SHARED_DATA

TMDB = SHARED_DATA / "tmdb_top10k" / "top10K-TMDB-movies.csv"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[MovrecHome, dg.DagsterInstance]:
    """A catalogue of English and French movies, indexed (no videos: no whisper)."""
    home = MovrecHome(tmp_path_factory.mktemp("users_home")).ensure()
    tmdb = pl.read_csv(TMDB)
    rows = pl.concat([tmdb.filter(pl.col("original_language") == lang).head(8) for lang in ("en", "fr")])
    source = tmp_path_factory.mktemp("cat")
    rows.write_csv(source / "tmdb.csv")
    add_catalogue(source / "tmdb.csv", home)
    with dg.instance_for_test() as instance:
        assert all(run_pipeline(home, instance).runs.values())
        yield home, instance, rows


def _tick(home: MovrecHome, instance: dg.DagsterInstance, cursor: str | None) -> tuple[str | None, list[str]]:
    """One events-sensor tick and the runs it leads to; returns the cursor and the segments profiled."""
    resources = {"library": LibraryResource(home=str(home.root))}
    result = events_sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources))
    config = {**QUIET, "resources": {"library": {"config": {"home": str(home.root)}}}}
    profiled = []
    for request in result.run_requests or []:
        assert request.run_key
        if request.job_name == "profile_users":  # batches the API stored: straight to their segments
            for add in result.dynamic_partitions_requests or []:
                instance.add_dynamic_partitions(add.partitions_def_name, list(add.partition_keys))
            follow = [request]
        else:
            run = defs.resolve_job_def("ingest_events").execute_in_process(run_config=config, instance=instance)
            follow = profile_changed_segments(
                dg.build_run_status_sensor_context(
                    sensor_name="profile_changed_segments",
                    dagster_event=run.get_run_success_event(),
                    dagster_instance=instance,
                    dagster_run=run.dagster_run,
                    resources=resources,
                )
            )
        for segment_request in follow if isinstance(follow, list) else []:
            defs.resolve_job_def("profile_users").execute_in_process(
                run_config=config, instance=instance, partition_key=segment_request.partition_key
            )
            profiled.append(segment_request.partition_key)
    return result.cursor, profiled


def test_files_and_api_batches_re_embed_only_the_segments_that_changed(library) -> None:  # noqa: ANN001
    home, instance, rows = library
    en = [f"tmdb-{i}" for i in rows.filter(pl.col("original_language") == "en")["id"]]
    fr = [f"tmdb-{i}" for i in rows.filter(pl.col("original_language") == "fr")["id"]]
    now = time.time()
    lines = [{"user_id": "en-1", "movie_id": m, "event": "like", "timestamp": now - i} for i, m in enumerate(en[:3])]
    lines += [{"user_id": "fr-1", "movie_id": m, "event": "finish", "timestamp": now - i} for i, m in enumerate(fr[:2])]
    lines += [{"user_id": "en-2", "movie_id": en[5], "event": "like", "timestamp": now}]
    inbox = home.root / "events"
    inbox.mkdir()
    (inbox / "day1.jsonl").write_text("\n".join(json.dumps(line) for line in lines))
    (inbox / "broken.csv").write_text("user_id,movie_id,event,timestamp\nx,tmdb-1,binge,1\n")
    cursor, profiled = _tick(home, instance, None)
    assert profiled == []  # a new file waits until it is unchanged between two looks
    cursor, profiled = _tick(home, instance, cursor)
    assert sorted(profiled) == ["en", "fr"]
    assert [p.name for p in inbox.iterdir()] == ["broken.csv"]  # taken in and removed; the bad one stays
    event = instance.get_latest_materialization_event(dg.AssetKey("user_events")).asset_materialization
    assert (
        "broken.csv" in event.metadata["failed_files"].value
        and "events[0].event" in event.metadata["failed_files"].value
    )
    users = EdgeStore(home.qdrant, alias=USERS_ALIAS)
    french = {p.id: p.vector for p in users.scroll(PayloadFilter(languages=("fr",)), with_vectors=True)}
    assert users.count() == 3 and len(french) == 1
    other = users.scroll(PayloadFilter(user_ids=(pseudonym(home, "en-2"),)))[0].payload

    # a new event for the English user, as the API stores it: only the English segment re-embeds
    store_events(home, validate([{"user_id": "en-1", "movie_id": en[4], "event": "like", "timestamp": now}]))
    (inbox / "broken.csv").unlink()
    cursor, profiled = _tick(home, instance, cursor)
    assert profiled == ["en"]
    assert {p.id: p.vector for p in users.scroll(PayloadFilter(languages=("fr",)), with_vectors=True)} == french
    english = users.scroll(PayloadFilter(user_ids=(pseudonym(home, "en-1"),)))[0].payload
    assert english["events"] == 4 and en[4] in english["liked"]
    # within the segment, only the user with new events was re-embedded
    assert users.scroll(PayloadFilter(user_ids=(pseudonym(home, "en-2"),)))[0].payload == other
    event = instance.get_latest_materialization_event(dg.AssetKey("user_profiles")).asset_materialization
    assert event.metadata["mode"].value == "incremental" and event.metadata["users"].value == 1
    assert "en-1" not in json.dumps(english)  # the store holds a pseudonym, never the id
    _, profiled = _tick(home, instance, cursor)
    assert profiled == []  # nothing new: nothing runs


def test_user_metadata_holds_counts_only(library) -> None:  # noqa: ANN001
    _, instance, _ = library
    for key in ("user_events", "user_profiles"):
        event = instance.get_latest_materialization_event(dg.AssetKey(key)).asset_materialization
        assert "en-1" not in json.dumps({k: str(v.value) for k, v in event.metadata.items()})


def test_movrec_ingest_ratings_populates_users(library, tmp_path) -> None:  # noqa: ANN001
    from click.testing import CliRunner

    from movrec_dagster.cli import main
    from movrec_dagster.core.users.service import profile_user
    from movrec_dagster.core.users.strategies import recommend_for_user

    home, _, rows = library
    first, second = rows["id"][0], rows["id"][1]
    (tmp_path / "ratings.csv").write_text(f"userId,tmdbId,rating,timestamp\n41,{first},5.0,10\n41,{second},4.5,11\n")
    out = CliRunner().invoke(main, ["--home", str(home.root), "ingest", "--ratings", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "stored 2 ratings as watch events" in out.output and "profile_users[en]" in out.output
    taste = profile_user(home, EdgeStore(home.qdrant), "ml-41")
    recs = recommend_for_user(EdgeStore(home.qdrant), [], taste, top_k=3)
    assert recs and recs[0].strategy != "popular" and f"tmdb-{first}" not in [r.hit.movie_id for r in recs]
