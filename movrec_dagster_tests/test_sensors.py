"""Near-real-time: the upload sensor and the index sensor, evaluated for real against a real instance.

Model calls are counted with spies that call straight through to the real models.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from movrec_dagster.core.embedding import Embedder, EmbedderSettings
from movrec_dagster.core.home import MovrecHome
from movrec_dagster.core.library import file_hash
from movrec_dagster.core.stages import languages, transcripts
from movrec_dagster.core.vectorstore import EdgeStore, PayloadFilter
from movrec_dagster.definitions import defs
from movrec_dagster.defs.library.sensors import index_changed_languages, upload_sensor
from movrec_dagster.defs.resources import LibraryResource, WhisperResource
from movrec_dagster.runner import QUIET


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter:
    counter: Counter = Counter()

    def spy(name: str, real):  # noqa: ANN001, ANN202
        def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            counter[name] += 1
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(transcripts, "transcribe", spy("transcribe", transcripts.transcribe))
    monkeypatch.setattr(languages, "detect_language", spy("detect_language", languages.detect_language))
    monkeypatch.setattr(Embedder, "encode", spy("encode", Embedder.encode))
    return counter


class Driver:
    """Evaluates the sensors and executes the runs they request, like the daemon would."""

    def __init__(self, home: MovrecHome, instance: dg.DagsterInstance) -> None:
        self.home, self.instance, self.cursor = home, instance, None
        self.listen_s = WhisperResource().sensor_listen_s
        self.runs: list[tuple[str, str | None]] = []
        self.config = {**QUIET, "resources": {"library": {"config": {"home": str(home.root)}}}}

    def tick(self) -> list[str]:
        """One upload-sensor tick; returns the language partitions indexed as a consequence."""
        resources = {
            "library": LibraryResource(home=str(self.home.root)),
            "whisper": WhisperResource(sensor_listen_s=self.listen_s),
        }
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor, resources=resources)
        result = upload_sensor(context)
        self.cursor = result.cursor
        self.runs = []  # (job, partition) of every run this tick launched
        for partitions in result.dynamic_partitions_requests or []:
            self.instance.add_dynamic_partitions(partitions.partitions_def_name, list(partitions.partition_keys))
        indexed: list[str] = []
        for request in result.run_requests or []:
            run = self.execute(
                request.job_name, request.partition_key, {**request.tags, "dagster/run_key": request.run_key}
            )
            if request.partition_key and run.asset_materializations_for_node("transcripts"):
                indexed.append(request.partition_key)
            status_context = dg.build_run_status_sensor_context(
                sensor_name="index_changed_languages",
                dagster_event=run.get_run_success_event(),
                dagster_instance=self.instance,
                dagster_run=run.dagster_run,
                resources={"library": LibraryResource(home=str(self.home.root))},
            )
            follow_up = index_changed_languages(status_context)
            for index_request in follow_up if isinstance(follow_up, list) else []:
                self.execute("index_language", index_request.partition_key, {})
                indexed.append(index_request.partition_key)
        return indexed

    def execute(self, job: str, partition: str | None, tags: dict[str, str]) -> dg.ExecuteInProcessResult:
        self.runs.append((job, partition))
        return defs.resolve_job_def(job).execute_in_process(
            run_config=self.config, instance=self.instance, partition_key=partition, tags=tags
        )


def _points(store: EdgeStore, movie: str) -> list:
    return store.scroll(PayloadFilter(movie_ids=(movie,)))


def test_new_unchanged_half_written_sidecar_changed_deleted(
    tmp_path: Path, demo_library: Path, dagster_instance: dg.DagsterInstance, calls: Counter
) -> None:
    home = MovrecHome(tmp_path).ensure()
    driver = Driver(home, dagster_instance)
    store = EdgeStore(home.qdrant)

    # new upload: processed and searchable without anyone pressing a button
    for name in ("coco.mp4", "coco.json"):
        shutil.copy2(demo_library / name, home.uploads / name)
    assert driver.tick() == ["es"]
    assert _points(store, "coco") and calls["transcribe"] == 1
    # the sensor listened (no sidecar language, empty library): one run from upload to searchable,
    # and the scan took whisper's detection from the sensor instead of listening again
    assert driver.runs == [("ingest_uploads", "es")]
    assert calls["detect_language"] == 1

    # unchanged: no run, no model called
    before = dict(calls)
    assert driver.tick() == [] and dict(calls) == before

    # half-written: not picked up until size and mtime hold still (and, with the sensor not
    # listening, the run that picks it up has to guess the language)
    driver.listen_s = 0
    data = (demo_library / "apollo-13.mp4").read_bytes()
    target = home.uploads / "apollo-13.mp4"
    target.write_bytes(data[: len(data) // 3])
    assert driver.tick() == []
    with target.open("ab") as handle:
        handle.write(data[len(data) // 3 :])
    assert driver.tick() == []  # changed since the last look: still waiting
    assert driver.tick() == ["en"] and _points(store, "apollo-13")
    # the fast path guessed the library's usual language (es) and was wrong: its es steps did
    # nothing (es unchanged) and the en partition was indexed right after
    assert driver.runs == [("ingest_uploads", "es"), ("index_language", "en")]
    driver.listen_s = WhisperResource().sensor_listen_s

    # sidecar edit: payload updated without transcribing; only the new title text is embedded
    before = dict(calls)
    sidecar = json.loads((home.uploads / "coco.json").read_text()) | {"title": "Coco (2017)", "genres": ["Music"]}
    (home.uploads / "coco.json").write_text(json.dumps(sidecar))
    assert driver.tick() == []  # just written: one more look to be sure it is complete
    assert driver.tick() == ["es"]
    assert driver.runs == [("ingest_uploads", "es")]  # known movie: one run from upload to searchable
    models = 1 + len(EmbedderSettings().second_models)  # the embedder's model, and each second one
    assert dict(calls) == before | {"encode": before["encode"] + models}  # one call each: the title point
    assert {p.payload["title"] for p in _points(store, "coco")} == {"Coco (2017)"}

    # changed content: re-processed, old points replaced, nothing stale left behind
    shutil.copy2(demo_library / "el-laberinto-del-fauno.mp4", home.uploads / "coco.mp4")
    os.utime(home.uploads / "coco.mp4", (time.time() - 60, time.time() - 60))
    assert driver.tick() == ["es"]
    assert calls["transcribe"] == before["transcribe"] + 1
    assert calls["detect_language"] == before["detect_language"] + 1  # by the sensor, reused by the scan
    points = _points(store, "coco")
    assert {p.payload["content_hash"] for p in points} == {file_hash(home.uploads / "coco.mp4")}
    assert any("fauno" in p.payload["text"].lower() or "laberinto" in p.payload["text"].lower() for p in points)

    # deleted: its points leave the collection, the other language is untouched
    es_points = {p.id for p in store.scroll(PayloadFilter(languages=("es",)))}
    target.unlink()
    assert driver.tick() == ["en"]
    assert driver.runs == [("ingest_uploads", "en")]  # the partition the deleted movie leaves
    assert _points(store, "apollo-13") == []
    assert {p.id for p in store.scroll(PayloadFilter(languages=("es",)))} == es_points

    # a catalogue file dropped in: read at the next scan, its movies indexed in their partitions
    catalogue = home.catalogue / "mine.csv"
    catalogue.write_text("id,title,genre,original_language,overview\n9001,Der Test,Drama,de,Ein Film.\n")
    os.utime(catalogue, (time.time() - 60, time.time() - 60))
    assert driver.tick() == ["de"]
    assert driver.runs == [("scan_library", None), ("index_language", "de")]
    assert _points(store, "tmdb-9001") and calls["transcribe"] == before["transcribe"] + 1
    assert driver.tick() == []  # seen: nothing more to do


def test_nightly_refresh_requests_every_language_once_per_day() -> None:
    from movrec_dagster.defs.schedules import nightly_language_refresh

    night = datetime(2026, 11, 23, 3, tzinfo=UTC)
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=night)
        assert isinstance(nightly_language_refresh(context), dg.SkipReason)
        instance.add_dynamic_partitions("language", ["en", "es"])
        requests = nightly_language_refresh(context)
        assert [r.partition_key for r in requests] == ["en", "es"]
        assert len({r.run_key for r in requests}) == 2
    assert defs.resolve_schedule_def("nightly_language_refresh").default_status == dg.DefaultScheduleStatus.STOPPED


def test_a_broken_whisper_in_the_sensor_falls_back_to_guessing(tmp_path: Path, demo_library: Path) -> None:
    home = MovrecHome(tmp_path).ensure()
    for name in ("coco.mp4", "coco.json"):
        shutil.copy2(demo_library / name, home.uploads / name)
        os.utime(home.uploads / name, (time.time() - 60, time.time() - 60))
    resources = {
        "library": LibraryResource(home=str(home.root)),
        "whisper": WhisperResource(model=str(tmp_path / "no-such-model")),
    }
    with dg.instance_for_test() as instance:
        result = upload_sensor(dg.build_sensor_context(instance=instance, resources=resources))
    # nothing to guess from in an empty library: the plain scan, which reports the model problem
    assert [r.job_name for r in result.run_requests] == ["scan_library"]
