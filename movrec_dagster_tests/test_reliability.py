"""Nothing already indexed is lost: a good upload replaced by a broken file keeps serving its last good version."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg

from movrec_dagster.core.home import MovrecHome
from movrec_dagster.core.vectorstore import EdgeStore, PayloadFilter
from movrec_dagster.runner import collect_failures, run_pipeline


def test_broken_replacement_keeps_the_last_good_version(
    tmp_path: Path, demo_library: Path, dagster_instance: dg.DagsterInstance
) -> None:
    home = MovrecHome(tmp_path).ensure()
    for name in ("coco.mp4", "coco.json"):
        shutil.copy2(demo_library / name, home.uploads / name)
    assert all(run_pipeline(home, dagster_instance).runs.values())
    store = EdgeStore(home.qdrant)
    before = {p.id: p.payload["content_hash"] for p in store.scroll(PayloadFilter(movie_ids=("coco",)))}
    assert before

    good = (home.uploads / "coco.mp4").read_bytes()
    (home.uploads / "coco.mp4").write_bytes(good[: len(good) // 5])  # an interrupted re-download
    again = run_pipeline(home, dagster_instance)
    assert all(again.runs.values()) and set(again.runs) == {"scan_library"}  # nothing to re-index
    assert {p.id: p.payload["content_hash"] for p in store.scroll(PayloadFilter(movie_ids=("coco",)))} == before
    cause = collect_failures(home)["coco.mp4"]
    assert "coco.mp4" in cause and "still serving the last good version" in cause
    check = dagster_instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("videos"), "all_uploads_usable")]
    )
    evaluation = next(iter(check.values())).event.dagster_event.event_specific_data
    assert evaluation.passed is False and "last good version" in evaluation.metadata["files"].value

    (home.uploads / "coco.mp4").write_bytes(good)  # fixed: the good file is back, the warning goes
    assert all(run_pipeline(home, dagster_instance).runs.values())
    assert "coco.mp4" not in collect_failures(home)
