"""kill -9 at each stage, then rerun: the collection ends up exactly as an uninterrupted run leaves
it (no duplicates, no gaps), partial files are never taken for finished work, and the embedded
Qdrant store reopens after a kill."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from movrec_dagster.core.home import MovrecHome
from movrec_dagster.core.pending import pending_partitions
from movrec_dagster.core.vectorstore import EdgeStore, NoServingCollection, PayloadFilter
from movrec_dagster.defs.runs.sensors import process_alive, run_worker
from movrec_dagster.devserver import DagsterDev
from movrec_dagster.runner import instance_yaml, run_pipeline

MOVIES = ("the-martian", "coco")
# step -> seconds to wait after it starts before the kill (long enough to land inside the slow ones)
CRASH_POINTS = {"audio": 0.0, "spoken_languages": 0.5, "transcripts": 2.0, "embeddings": 1.0, "qdrant_collection": 0.0}
MOVREC = Path(sys.executable).parent / "movrec"


def _library(root: Path, demo_library: Path) -> MovrecHome:
    home = MovrecHome(root).ensure()
    for movie in MOVIES:
        for suffix in (".mp4", ".json"):
            shutil.copy2(demo_library / f"{movie}{suffix}", home.uploads / f"{movie}{suffix}")
    return home


def _state(home: MovrecHome) -> dict[str, tuple]:
    """Every point: id -> (movie, kind, content hash, text)."""
    points = EdgeStore(home.qdrant).scroll()
    return {
        p.id: (p.payload["movie_id"], p.payload["kind"], p.payload["content_hash"], p.payload["text"]) for p in points
    }


def _ingest(home: MovrecHome, log: Path) -> subprocess.Popen:
    home.dagster_home.mkdir(parents=True, exist_ok=True)
    if not (home.dagster_home / "dagster.yaml").exists():
        (home.dagster_home / "dagster.yaml").write_text(instance_yaml())
    return subprocess.Popen([str(MOVREC), "ingest"], env=_env(home), stdout=log.open("a"), stderr=subprocess.STDOUT)


def _env(home: MovrecHome) -> dict[str, str]:
    return {**os.environ, "MOVREC_HOME": str(home.root), "DAGSTER_HOME": str(home.dagster_home)}


def _kill_at(home: MovrecHome, step: str, delay: float, log: Path) -> str:
    """Runs `movrec ingest` and kills it -9 once `step` has started; returns where it died."""
    process = _ingest(home, log)
    deadline = time.monotonic() + 240
    seen_runs: set[str] = set()
    with dg.DagsterInstance.from_config(str(home.dagster_home)) as instance:
        started_before = {r.run_id for r in instance.get_runs()}
        while time.monotonic() < deadline:
            assert process.poll() is None, f"ingest finished before reaching {step}: see {log}"
            for run in instance.get_runs(limit=3):
                if run.run_id in started_before:
                    continue
                seen_runs.add(run.run_id)
                records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_START).records
                if any(r.event_log_entry.step_key == step for r in records):
                    time.sleep(delay)
                    process.send_signal(signal.SIGKILL)
                    process.wait(30)
                    done = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_SUCCESS).records
                    finished = any(r.event_log_entry.step_key == step for r in done)
                    return f"after {step} finished" if finished else f"inside {step}"
            time.sleep(0.1)
    process.kill()
    raise AssertionError(f"{step} never started within 240 s: see {log}")


@pytest.mark.slow
def test_kill_9_at_each_stage_then_rerun(tmp_path: Path, demo_library: Path, capsys: pytest.CaptureFixture) -> None:
    reference_home = _library(tmp_path / "reference", demo_library)
    with dg.instance_for_test() as instance:
        assert all(run_pipeline(reference_home, instance).runs.values())
    reference = _state(reference_home)
    assert {movie for movie, *_ in reference.values()} == set(MOVIES)

    home = _library(tmp_path / "crashed", demo_library)
    log = tmp_path / "ingest.log"
    rows = []
    for step, delay in CRASH_POINTS.items():  # each run resumes the last and dies one stage further on
        where = _kill_at(home, step, delay, log)
        rows.append((step, where))
    final = subprocess.run([str(MOVREC), "ingest"], env=_env(home), capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stdout + final.stderr  # the store reopened after every kill
    with dg.DagsterInstance.from_config(str(home.dagster_home)) as instance:
        # each kill left its run STARTED; the next `movrec ingest` found its process gone and failed it
        assert not instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        assert len(instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))) >= len(CRASH_POINTS)
    state = _state(home)
    duplicates = len(state) - len(set(state.values()))
    missing = sorted(set(reference) - set(state))
    extra = sorted(set(state) - set(reference))
    assert state == reference, {"missing": missing[:5], "extra": extra[:5]}
    assert duplicates == 0 and not missing and not extra
    assert pending_partitions(home) == []

    # a change to a movie already indexed, killed while its points are rewritten: the rerun finishes it
    sidecar = home.uploads / "coco.json"
    sidecar.write_text(sidecar.read_text().replace('"Coco"', '"Coco (re-edited)"'))
    rows.append(("qdrant_collection, re-indexing an edit", _kill_at(home, "qdrant_collection", 0.0, log)))
    # the killed run left its partition on the to-do list (unless it died after writing every point)
    assert set(pending_partitions(home)) <= {"es"}
    rerun = subprocess.run([str(MOVREC), "ingest"], env=_env(home), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    titles = {p.payload["title"] for p in EdgeStore(home.qdrant).scroll() if p.payload["movie_id"] == "coco"}
    assert titles == {"Coco (re-edited)"} and pending_partitions(home) == []
    assert set(_state(home)) == set(reference)  # same points, none lost, none doubled
    with capsys.disabled():
        print("\n\n| crash point (kill -9) | where it died | duplicates after rerun | gaps after rerun |")
        print("|---|---|---|---|")
        for step, where in rows:
            print(f"| {step} | {where} | 0 | 0 |")
    # no half-written file was left where a finished one belongs
    assert not [p for p in home.data.rglob("*") if p.is_file() and ".partial" in p.name and p.suffix == ".parquet"]


def _searchable(store: EdgeStore, movie: str) -> bool:
    try:
        return store.count(PayloadFilter(movie_ids=(movie,))) > 0
    except NoServingCollection:
        return False


def _wait_for_step(instance: dg.DagsterInstance, step: str, timeout_s: float = 180) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for run in instance.get_runs(limit=3):
            records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_START).records
            if any(r.event_log_entry.step_key == step for r in records):
                return run
        time.sleep(0.2)
    raise AssertionError(f"no run reached {step} within {timeout_s} s")


@pytest.mark.slow
def test_kill_9_of_dagster_dev_mid_run_then_restart(
    tmp_path: Path, demo_library: Path, capsys: pytest.CaptureFixture
) -> None:
    """The whole local stack (daemon, code server, run worker) dies mid-run, as in a machine crash.
    After a restart the orphaned run is failed and retried, the runs queued behind it go on, and the
    collection holds every upload exactly once."""
    home, dagster_home = MovrecHome(tmp_path / "home").ensure(), tmp_path / "dagster"

    def upload(movie: str) -> None:
        for suffix in (".json", ".mp4"):
            shutil.copy2(demo_library / f"{movie}{suffix}", home.uploads / f".{movie}{suffix}.partial")
            (home.uploads / f".{movie}{suffix}.partial").rename(home.uploads / f"{movie}{suffix}")

    dev = DagsterDev(home.root, dagster_home, tmp_path / "dev.log").__enter__()
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        try:
            upload("coco")
            orphan = _wait_for_step(instance, "transcripts")
            time.sleep(1.0)
        finally:
            dev.kill()
        record = instance.get_run_records(dg.RunsFilter(run_ids=[orphan.run_id]))[0]
        worker = run_worker(instance, record)
        assert worker is not None
        # SIGKILL takes a process down when it next leaves the kernel: on a loaded machine a worker
        # inside a long system call was seen alive just after the group was signalled
        deadline = time.monotonic() + 10
        while process_alive(*worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not process_alive(*worker)
        assert record.dagster_run.status == dg.DagsterRunStatus.STARTED  # what the crash leaves behind
        assert not _searchable(EdgeStore(home.qdrant), "coco")

        with DagsterDev(home.root, dagster_home, tmp_path / "dev-restarted.log"):
            upload("amelie")  # queued behind the orphan's `movrec/serial` slot until the orphan is failed
            store = EdgeStore(home.qdrant)
            deadline = time.monotonic() + 300
            while not all(_searchable(store, m) for m in ("coco", "amelie")) and time.monotonic() < deadline:
                time.sleep(2)
            assert all(_searchable(store, m) for m in ("coco", "amelie")), (tmp_path / "dev-restarted.log").read_text()[
                -3000:
            ]
        failed = instance.get_run_by_id(orphan.run_id)
        assert failed is not None and failed.status == dg.DagsterRunStatus.FAILURE
        failure = instance.get_records_for_run(orphan.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
        assert "is gone" in (failure[0].event_log_entry.dagster_event.message or "")
        retries = [r for r in instance.get_runs() if r.tags.get("dagster/parent_run_id") == orphan.run_id]
        assert retries and retries[0].status == dg.DagsterRunStatus.SUCCESS
        assert not instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.QUEUED]))

    points = EdgeStore(home.qdrant).scroll()
    keys = [(p.payload["movie_id"], p.payload["kind"], p.payload["video_id"], p.payload["chunk"]) for p in points]
    assert len(keys) == len(set(keys))  # no duplicates
    indexed = {(m, k) for m, k, _, _ in keys}
    assert indexed == {(m, k) for m in ("coco", "amelie") for k in ("title", "transcript", "overview", "profile")}
    tables = [pl.read_parquet(path) for path in sorted((home.data / "embeddings").glob("*.parquet"))]
    assert {p.id for p in points} == set(pl.concat(tables)["point_id"])
    assert pending_partitions(home) == []
    with capsys.disabled():
        print("\n\n| crash point (kill -9) | where it died | duplicates after restart | gaps after restart |")
        print("|---|---|---|---|")
        print("| the whole `dagster dev` stack (daemon, code server, run worker) | inside transcripts | 0 | 0 |")


def test_a_reused_pid_is_not_taken_for_the_dead_worker() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert process_alive(child.pid, time.time())
        # the same number, but a process that started after the run's worker was seen: not the worker
        assert not process_alive(child.pid, time.time() - 3600)
    finally:
        child.kill()
        child.wait()
    assert not process_alive(child.pid, time.time())
