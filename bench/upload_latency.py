"""Upload-to-searchable latency with the daemon running: drop a ~20 s clip, time until it is searchable.

Split into: sensor wait (drop -> scan run created, plus scan end -> index run created), launch
(run created -> run started, both runs) and processing (both runs' execution), from Dagster's own
run records. Usage: python bench/upload_latency.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import dagster as dg
from dagster._core.instance.ref import InstanceRef

from movrec_dagster.core.vectorstore import EdgeStore, NoServingCollection, PayloadFilter
from movrec_dagster.defs.library.sensors import upload_sensor
from movrec_dagster.devserver import DagsterDev

CLIPS = ("the-martian", "coco", "amelie", "das-boot", "apollo-13", "finding-nemo", "jurassic-park")


def searchable(store: EdgeStore, movie: str) -> bool:
    try:
        return store.count(PayloadFilter(movie_ids=(movie,))) > 0
    except NoServingCollection:
        return False


def drop(library: Path, uploads: Path, clip: str, movie_id: str) -> float:
    sidecar = json.loads((library / f"{clip}.json").read_text()) | {"id": movie_id}
    (uploads / f"{movie_id}.json").write_text(json.dumps(sidecar))
    staged = uploads / f".{movie_id}.partial"
    shutil.copy2(library / f"{clip}.mp4", staged)  # keeps the source mtime: complete on arrival
    dropped = time.time()
    staged.rename(uploads / f"{movie_id}.mp4")
    return dropped


def one_upload(dev: DagsterDev, home: Path, library: Path, clip: str, movie_id: str) -> dict[str, float]:
    store = EdgeStore(home / "qdrant")
    dropped = drop(library, home / "uploads", clip, movie_id)
    while not searchable(store, movie_id):
        time.sleep(0.2)
    done = time.time()
    time.sleep(2)  # let the run records settle
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(dev.env["DAGSTER_HOME"])) as instance:
        after = datetime.fromtimestamp(dropped - 1, tz=UTC)
        records = instance.get_run_records(filters=dg.RunsFilter(created_after=after), ascending=True)
    scan = next(r for r in records if r.dagster_run.job_name == "scan_library")
    index = next(r for r in records if r.dagster_run.job_name == "index_language")

    def ts(value: datetime | float) -> float:
        return value.timestamp() if isinstance(value, datetime) else float(value)

    sensor_wait = (ts(scan.create_timestamp) - dropped) + (ts(index.create_timestamp) - ts(scan.end_time))
    launch = (ts(scan.start_time) - ts(scan.create_timestamp)) + (ts(index.start_time) - ts(index.create_timestamp))
    processing = (ts(scan.end_time) - ts(scan.start_time)) + (ts(index.end_time) - ts(index.start_time))
    return {"total": done - dropped, "sensor_wait": sensor_wait, "launch": launch, "processing": processing}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    library = Path(str(resources.files("movrec_dagster.demo").joinpath("library")))
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        (home / "uploads").mkdir(parents=True)
        with DagsterDev(home, Path(tmp) / "dagster", Path(tmp) / "dev.log") as dev:
            one_upload(dev, home, library, "coco", "warm-up")  # first run builds the collection
            rows = [one_upload(dev, home, library, CLIPS[i % len(CLIPS)], f"clip-{i}") for i in range(args.repeats)]
    interval = upload_sensor.minimum_interval_seconds
    print(f"upload -> searchable, {args.repeats} clips of ~20 s, sensor interval {interval} s (median, min-max):")
    print("| part | median s | min s | max s |\n|---|---|---|---|")
    for key in ("sensor_wait", "launch", "processing", "total"):
        values = [r[key] for r in rows]
        print(f"| {key} | {statistics.median(values):.1f} | {min(values):.1f} | {max(values):.1f} |")
    overhead = statistics.median([r["sensor_wait"] + r["launch"] for r in rows])
    print(f"sensor wait + launch: {overhead:.1f} s (target <= interval + 5 = {interval + 5} s)")


if __name__ == "__main__":
    main()
