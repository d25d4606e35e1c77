"""Blue/green rebuilds: atomic swap under concurrent reads, blocking checks, rollback, live writes, GC."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from movrec_dagster.cli import main
from movrec_dagster.core.bluegreen import collect_garbage, outdated_format, promote, start_rebuild
from movrec_dagster.core.embedding import Embedder, EmbedderSettings
from movrec_dagster.core.home import MovrecHome, read_table, write_table
from movrec_dagster.core.search import search
from movrec_dagster.core.vectorstore import EdgeStore, PayloadFilter, VectorPoint, point_id, version_name
from movrec_dagster.core.vectorstore.types import LEXICAL_VERSION
from movrec_dagster.runner import QUIET, rebuild, run_pipeline

MOVIES = ("the-martian", "coco", "amelie")
SECOND = EmbedderSettings().second_fingerprint  # the second model this release configures
MARTIAN = "an astronaut stranded alone on another planet"


@pytest.fixture(scope="module")
def library(
    tmp_path_factory: pytest.TempPathFactory, demo_library: Path
) -> Iterator[tuple[MovrecHome, dg.DagsterInstance]]:
    home = MovrecHome(tmp_path_factory.mktemp("bluegreen")).ensure()
    for movie in MOVIES:
        for suffix in (".mp4", ".json"):
            shutil.copy2(demo_library / f"{movie}{suffix}", home.uploads / f"{movie}{suffix}")
    with dg.instance_for_test() as instance:
        assert all(run_pipeline(home, instance).runs.values())
        yield home, instance


def _reader(root: str, vector: list[float], stop: str, out: multiprocessing.Queue) -> None:
    """A second process querying the serving alias as fast as it can until told to stop."""
    store = EdgeStore(Path(root))
    queries = errors = empty = 0
    versions = set()
    while not Path(stop).exists():
        try:
            versions.add(store.serving_version())
            hits = store.query(vector, PayloadFilter(kinds=("profile",)), limit=3)
            empty += not hits
        except Exception:  # noqa: BLE001 - every failure counts
            errors += 1
        queries += 1
    out.put({"queries": queries, "errors": errors, "empty": empty, "versions": sorted(versions)})


@contextlib.contextmanager
def reading(home: MovrecHome, tmp_path: Path) -> Iterator[dict]:
    """A second process querying the serving alias while the block runs; its counts after it."""
    store = EdgeStore(home.qdrant)
    vector = store.scroll(PayloadFilter(movie_ids=("coco",), kinds=("profile",)), with_vectors=True)[0].vector
    ctx = multiprocessing.get_context("spawn")
    queue, stop = ctx.Queue(), tmp_path / "stop"
    reader = ctx.Process(target=_reader, args=(str(home.qdrant), vector, str(stop), queue))
    reader.start()
    time.sleep(3)  # the reader is querying before the block starts
    stats: dict = {}
    try:
        yield stats
        time.sleep(1)
    finally:
        stop.touch()
        stats.update(queue.get(timeout=60))
        reader.join(30)


def test_swap_is_atomic_under_concurrent_reads(library, tmp_path: Path) -> None:  # noqa: ANN001
    home, instance = library
    store = EdgeStore(home.qdrant)
    old = store.serving_version()
    with reading(home, tmp_path) as stats:
        ok, checks = rebuild(home, instance)
    assert ok and set(checks.values()) == {"passed"}, checks
    new = store.serving_version()
    assert new != old and store.pointer("previous") == old and store.pointer("building") is None
    assert store.count(version=new) == store.count(version=old)
    assert stats["queries"] > 10 and stats["errors"] == 0 and stats["empty"] == 0, stats
    assert stats["versions"] == sorted([old, new]), stats  # it read both sides of the swap


def test_rollback_restores_previous(library) -> None:  # noqa: ANN001
    home, _ = library
    store = EdgeStore(home.qdrant)
    current, previous = store.serving_version(), store.pointer("previous")
    out = CliRunner().invoke(main, ["--home", str(home.root), "rollback"])
    assert out.exit_code == 0, out.output
    assert store.serving_version() == previous and store.pointer("previous") == current
    CliRunner().invoke(main, ["--home", str(home.root), "rollback"])
    assert store.serving_version() == current


def test_failing_blocking_check_keeps_the_live_alias(library) -> None:  # noqa: ANN001
    home, instance = library
    store = EdgeStore(home.qdrant)
    live = store.serving_version()
    movies = read_table(home.table("movies"))
    # an inconsistent movies table: embeddings exist for a movie the library no longer describes
    write_table(movies.filter(pl.col("movie_id") != "amelie"), home.table("movies"))
    try:
        ok, checks = rebuild(home, instance)
    finally:
        write_table(movies, home.table("movies"))
    assert not ok and checks["point_count"].startswith("FAILED"), checks
    assert store.serving_version() == live and store.pointer("building") is None


def test_live_writes_during_a_rebuild_reach_both_versions(library) -> None:  # noqa: ANN001
    from movrec_dagster.definitions import defs

    home, instance = library
    store = EdgeStore(home.qdrant)
    live = store.serving_version()
    info = next(v for v in store.versions() if v.name == live)
    second = (info.second, info.seconds) if info.second else None
    building = start_rebuild(store, info.dimension, info.model, "multilingual-e5-small", second)
    config = {**QUIET, "resources": {"library": {"config": {"home": str(home.root)}}}}
    run = defs.resolve_job_def("index_language").execute_in_process(
        run_config=config, instance=instance, partition_key="fr"
    )
    written = run.asset_materializations_for_node("qdrant_collection")[0].metadata["written_to"].value
    assert written == [live, building]
    amelie = PayloadFilter(movie_ids=("amelie",))
    assert store.count(amelie, version=building) == store.count(amelie, version=live) > 0
    store.set_pointers({"building": None})


def test_a_collection_of_an_older_lexical_format_is_rebuilt_blue_green(library, tmp_path: Path) -> None:  # noqa: ANN001
    """A collection written by the release before Qdrant's BM25 (no `lexical` in its metadata: format
    1) is noticed by the sensor and rebuilt by the next run, reusing every vector; reads go on."""
    from movrec_dagster.defs.index.sensors import outdated_collection_sensor

    home, instance = library
    store = EdgeStore(home.qdrant)
    old = store.serving_version()
    meta = home.qdrant / "collections" / old / "movrec.json"
    written = json.loads(meta.read_text())
    meta.write_text(json.dumps({k: v for k, v in written.items() if k != "lexical"}))
    assert outdated_format(store, SECOND) == old
    resources = _sensor_resources(home)
    asked = outdated_collection_sensor(dg.build_sensor_context(instance=instance, resources=resources))
    assert [r.job_name for r in asked.run_requests] == ["rebuild_collection"]

    with reading(home, tmp_path) as stats:
        result = run_pipeline(home, instance)  # nothing new uploaded: only the upgrade to do
    assert result.runs["rebuild_collection"], result.runs
    new = store.serving_version()
    assert new != old and store.pointer("previous") == old
    assert next(v for v in store.versions() if v.name == new).lexical == LEXICAL_VERSION
    assert outdated_format(store, SECOND) is None and store.count(version=new) == store.count(version=old)
    # the rebuilt version holds its term counts (which weigh query terms): a document per text point
    texts = store.count(PayloadFilter(kinds=("overview", "transcript")), version=new)
    assert 0 < store.terms(new).documents <= texts
    assert stats["errors"] == 0 and stats["empty"] == 0 and stats["queries"] > 10, stats
    skipped = outdated_collection_sensor(dg.build_sensor_context(instance=instance, resources=resources))
    assert not skipped.run_requests
    assert "rebuild_collection" not in run_pipeline(home, instance).runs  # current now: nothing to redo


def _sensor_resources(home: MovrecHome) -> dict:
    from movrec_dagster.defs.resources import EmbedderResource, LibraryResource, QdrantResource

    return {"library": LibraryResource(home=str(home.root)), "qdrant": QdrantResource(), "embedder": EmbedderResource()}


def test_a_collection_without_the_second_models_vectors_is_rebuilt_blue_green(
    library,  # noqa: ANN001
    tmp_path: Path,
    embedder: Embedder,
) -> None:
    """A collection written before the second model (the release before it, or MOVREC_SECOND_MODEL=
    none): live writes still land in it, search reads it as it was built (e5 and BM25), and the
    sensor and the next run rebuild it with both models' vectors, encoding no text again."""
    from movrec_dagster.definitions import defs
    from movrec_dagster.defs.index.sensors import outdated_collection_sensor
    from movrec_dagster.defs.partitions import language_partitions

    home, instance = library
    store = EdgeStore(home.qdrant)
    live = store.serving_info()
    assert live.second == SECOND and SECOND is not None
    # the version as the release before wrote it: one dense vector, no record of a second model
    old = store.create_version(version_name(store.alias, "e5"), live.dimension, live.model).name
    store.set_pointers({"serving": old, "previous": live.name})
    config = {**QUIET, "resources": {"library": {"config": {"home": str(home.root)}}}}
    for language in instance.get_dynamic_partitions(language_partitions.name):
        run = defs.resolve_job_def("index_language").execute_in_process(
            run_config=config, instance=instance, partition_key=language
        )
        assert run.success, language  # written to, without the vectors it has no place for
    assert store.count(version=old) == store.count(version=live.name) > 0
    hits = search(store, embedder, MARTIAN, top_k=3)
    assert hits[0].movie_id == "the-martian" and hits[0].relevance is not None and hits[0].relevance <= 1.0
    assert outdated_format(store, SECOND) == old
    asked = outdated_collection_sensor(dg.build_sensor_context(instance=instance, resources=_sensor_resources(home)))
    assert [r.job_name for r in asked.run_requests] == ["rebuild_collection"]

    with reading(home, tmp_path) as stats:
        result = run_pipeline(home, instance)
    assert result.runs["rebuild_collection"], result.runs
    new = store.serving_info()
    assert new.name not in (old, live.name) and new.second == SECOND and outdated_format(store, SECOND) is None
    assert store.count(version=new.name) == store.count(version=old)
    candidate = instance.get_latest_materialization_event(dg.AssetKey("collection_candidate"))
    assert candidate is not None and candidate.asset_materialization is not None
    assert candidate.asset_materialization.metadata["encoded_texts"].value == 0  # every vector reused
    assert stats["errors"] == 0 and stats["empty"] == 0 and stats["queries"] > 10, stats
    assert (
        search(store, embedder, "an astronaut stranded alone on another planet", top_k=3)[0].movie_id == "the-martian"
    )


def test_a_collection_of_another_first_model_is_rebuilt_blue_green(
    library,  # noqa: ANN001
    tmp_path: Path,
    embedder: Embedder,
) -> None:
    """MOVREC_MODEL changed (to a model `movrec adapt` made, or back from one): the serving version
    holds the other model's vectors, so the sensor asks for a rebuild and the next run builds one for
    the configured model before its live writes, reads going on."""
    from movrec_dagster.defs.index.sensors import outdated_collection_sensor

    home, instance = library
    store = EdgeStore(home.qdrant)
    live = store.serving_info()
    other = f"st:multilingual-e5-small-adapted-{'0' * 12}:seq256"  # as `movrec adapt` names one
    dimension, second = embedder.layout()
    with reading(home, tmp_path) as stats:  # from here on reads may find nothing: the old version is empty
        old = store.create_version(version_name(store.alias, "adapted"), dimension, other, second).name
        store.set_pointers({"serving": old, "previous": live.name})
        assert outdated_format(store, SECOND) is None  # in today's format...
        assert outdated_format(store, SECOND, live.model) == old  # ...but not the configured model's
        context = dg.build_sensor_context(instance=instance, resources=_sensor_resources(home))
        assert [r.job_name for r in outdated_collection_sensor(context).run_requests] == ["rebuild_collection"]
        result = run_pipeline(home, instance)
    assert result.runs["rebuild_collection"] and all(result.runs.values()), result.runs
    new = store.serving_info()
    assert new.name not in (old, live.name) and new.model == live.model
    assert outdated_format(store, SECOND, new.model) is None
    assert store.count(version=new.name) == store.count(version=live.name)
    assert stats["errors"] == 0, stats
    assert search(store, embedder, MARTIAN, top_k=3)[0].movie_id == "the-martian"


def test_a_collection_that_outgrew_its_scan_is_rebuilt_with_a_graph(
    library,  # noqa: ANN001
    tmp_path: Path,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Versions are built without a graph until they are large (`DenseIndex.graph_points`); one that
    grew past it is noticed by the sensor and rebuilt blue/green with its graphs, reads going on. A
    version with graphs from before the per-language copies (`VersionInfo.language_graphs`) counts as
    one without."""
    from dataclasses import replace

    from movrec_dagster.core.vectorstore import types

    home, instance = library
    store = EdgeStore(home.qdrant)
    old = store.serving_info()
    assert not old.graph and outdated_format(store, SECOND) is None
    assert store.size(version=old.name) == store.count(version=old.name) > 0  # as of its last optimize()
    monkeypatch.setattr(types, "DENSE_INDEX", replace(types.DENSE_INDEX, graph_points=store.count(version=old.name)))
    assert outdated_format(store, SECOND) == old.name
    with reading(home, tmp_path) as stats:
        result = run_pipeline(home, instance)
    assert result.runs["rebuild_collection"], result.runs
    new = store.serving_info()
    assert new.name != old.name and new.graph and new.language_graphs and outdated_format(store, SECOND) is None
    assert store.count(version=new.name) == store.count(version=old.name)
    assert stats["errors"] == 0 and stats["empty"] == 0 and stats["queries"] > 10, stats
    assert search(store, embedder, MARTIAN, top_k=3)[0].movie_id == "the-martian"
    english = PayloadFilter(languages=("en",))  # through the English graph of the per-language copies
    assert search(store, embedder, MARTIAN, top_k=3, flt=english)[0].movie_id == "the-martian"

    record = home.qdrant / "collections" / new.name / "movrec.json"  # as the release before wrote it
    record.write_text(json.dumps({k: v for k, v in json.loads(record.read_text()).items() if k != "language_graphs"}))
    assert outdated_format(EdgeStore(home.qdrant), SECOND) == new.name


def test_garbage_collection_keeps_pointed_versions(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path)
    names = []
    for i in range(5):
        name = store.create_version(f"movies__m__{i}", 4, "m").name
        store.upsert([VectorPoint(point_id("x", "profile", 0), np.ones(4), {"movie_id": "x"})], version=name)
        names.append(name)
        time.sleep(0.01)
    store.switch(names[0])
    promote(store, names[3], keep=2)  # serving 3, previous 0
    assert sorted(v.name for v in store.versions()) == sorted([names[0], names[3], names[4]])
    assert collect_garbage(store, keep=1) == []  # the older two are serving and previous
    store.set_pointers({"previous": None})
    assert collect_garbage(store, keep=1) == [names[0]]
    assert store.serving_version() == names[3] and store.count() == 1
