"""The control room: a real `dagster dev` (webserver + daemon), a dropped video, the sensor-launched
runs, the movie searchable, and a screenshot of the asset graph in headless Chromium."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef
from PIL import Image

from movrec_dagster.core.vectorstore import EdgeStore, NoServingCollection, PayloadFilter
from movrec_dagster.devserver import DagsterDev, screenshot

pytestmark = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="needs Debian's chromium (make test installs it)"
)


def _searchable(store: EdgeStore, movie: str) -> bool:
    try:
        return store.count(PayloadFilter(movie_ids=(movie,))) > 0
    except NoServingCollection:
        return False


def test_drop_a_video_and_see_it_in_the_ui(tmp_path: Path, demo_library: Path) -> None:
    home, dagster_home = tmp_path / "home", tmp_path / "dagster"
    (home / "uploads").mkdir(parents=True)
    with DagsterDev(home, dagster_home, tmp_path / "dagster-dev.log") as dev:
        dev.graphql("mutation { setNuxSeen }")  # the first-visit pop-up would cover the page
        for suffix in (".mp4", ".json"):
            shutil.copy2(demo_library / f"coco{suffix}", home / "uploads" / f"coco{suffix}")
        store = EdgeStore(home / "qdrant")
        deadline = time.monotonic() + 300
        while not _searchable(store, "coco") and time.monotonic() < deadline:
            time.sleep(2)
        assert _searchable(store, "coco"), (tmp_path / "dagster-dev.log").read_text()[-3000:]

        graph = dev.graphql("{ assetNodes { assetKey { path } } }")
        keys = {node["assetKey"]["path"][0] for node in graph["data"]["assetNodes"]}
        assert {"videos", "transcripts", "qdrant_collection", "collection_candidate"} <= keys
        shot = Path(__file__).resolve().parents[1] / ".ui-screenshots" / "asset-graph.png"
        shot.parent.mkdir(exist_ok=True)
        screenshot(f"{dev.url}/asset-groups", shot)

    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home))) as instance:
        runs = instance.get_runs()
        by_job = {run.job_name: run for run in runs}
        # the sensor listened (coco's sidecar names no language) and launched one run into `es`
        run = by_job["ingest_uploads"]
        assert run.tags.get("dagster/sensor_name") == "upload_sensor" and run.tags["dagster/partition"] == "es"
        assert float(run.tags["movrec/sensor_listened_s"]) > 0
        assert all(run.is_success for run in runs) and "index_language" not in by_job
    image = Image.open(shot).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 16)
    assert image.size == (1600, 1000)
    assert colours is None or len(colours) > 200  # a rendered graph, not a blank or error page
