"""Queries at a steady 50/s from a second process while movies are ingested and a blue/green swap
happens: zero errors, zero empty results; latency percentiles reported."""

from __future__ import annotations

import multiprocessing
import shutil
import time
from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from movrec_dagster.core.home import MovrecHome
from movrec_dagster.core.vectorstore import EdgeStore, PayloadFilter
from movrec_dagster.runner import rebuild, run_pipeline

RATE = 50  # queries per second


def _steady_reader(root: str, vector: list[float], stop: str, out: multiprocessing.Queue) -> None:
    """Issues queries on a fixed 1/RATE schedule (a late query is sent at once, never skipped), through
    a store kept open between queries as the API keeps it."""
    store = EdgeStore(Path(root), keep_open=True)
    latencies: list[float] = []
    errors = empty = 0
    next_at = time.perf_counter()
    while not Path(stop).exists():
        next_at += 1 / RATE
        started = time.perf_counter()
        try:
            empty += not store.query(vector, PayloadFilter(kinds=("profile",)), limit=5)
        except Exception:  # noqa: BLE001 - every failure counts
            errors += 1
        latencies.append(time.perf_counter() - started)
        time.sleep(max(0.0, next_at - time.perf_counter()))
    out.put({"latencies": latencies, "errors": errors, "empty": empty})


@pytest.mark.slow
def test_steady_queries_during_ingestion_and_swap(
    tmp_path: Path, demo_library: Path, capsys: pytest.CaptureFixture
) -> None:
    home = MovrecHome(tmp_path).ensure()
    for movie in ("the-martian", "coco"):
        for suffix in (".mp4", ".json"):
            shutil.copy2(demo_library / f"{movie}{suffix}", home.uploads / f"{movie}{suffix}")
    with dg.instance_for_test() as instance:
        assert all(run_pipeline(home, instance).runs.values())
        store = EdgeStore(home.qdrant)
        vector = store.scroll(PayloadFilter(movie_ids=("coco",), kinds=("profile",)), with_vectors=True)[0].vector
        ctx = multiprocessing.get_context("spawn")
        queue, stop = ctx.Queue(), tmp_path / "stop"
        reader = ctx.Process(target=_steady_reader, args=(str(home.qdrant), vector, str(stop), queue))
        reader.start()
        time.sleep(2)
        started = time.perf_counter()
        for movie in ("amelie", "das-boot"):  # ingestion: two new movies, two new partitions
            for suffix in (".mp4", ".json"):
                shutil.copy2(demo_library / f"{movie}{suffix}", home.uploads / f"{movie}{suffix}")
        assert all(run_pipeline(home, instance).runs.values())
        ingested = time.perf_counter()
        ok, checks = rebuild(home, instance)  # blue/green: build beside, check, swap the alias
        swapped = time.perf_counter()
        time.sleep(1)
        stop.touch()
        stats = queue.get(timeout=60)
        reader.join(30)
    assert ok, checks
    assert store.count(PayloadFilter(movie_ids=("das-boot",))) > 0
    latencies = np.array(stats["latencies"]) * 1000
    seconds = swapped - started + 3
    with capsys.disabled():
        print(
            f"\n\nqueries during ingestion ({ingested - started:.0f} s) and swap ({swapped - ingested:.0f} s): "
            f"{len(latencies)} at {len(latencies) / seconds:.0f}/s, errors {stats['errors']}, "
            f"empty {stats['empty']}; latency ms p50 {np.percentile(latencies, 50):.1f} "
            f"p95 {np.percentile(latencies, 95):.1f} p99 {np.percentile(latencies, 99):.1f} max {latencies.max():.0f}"
        )
    assert len(latencies) > RATE * 5
    assert stats["errors"] == 0 and stats["empty"] == 0, stats
