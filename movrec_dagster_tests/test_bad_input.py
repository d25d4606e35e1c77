"""Messy uploads: every kind gets its defined outcome, none crashes the run, nothing indexed is lost."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from movrec_dagster.cli import main
from movrec_dagster.core.home import MovrecHome, read_table
from movrec_dagster.core.stages import extract_all_audio, scan_videos
from movrec_dagster.core.vectorstore import EdgeStore, PayloadFilter
from movrec_dagster.runner import QUIET, collect_failures, run_pipeline
from movrec_dagster_tests.badinput import PROCESSED, build_corpus, ffmpeg


def _check(instance: dg.DagsterInstance, asset: str, name: str) -> tuple[bool, str]:
    key = dg.AssetCheckKey(dg.AssetKey(asset), name)
    record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
    evaluation = record.event.dagster_event.event_specific_data
    return evaluation.passed, evaluation.metadata["files"].value


def test_bad_input_corpus(
    tmp_path: Path, demo_library: Path, dagster_instance: dg.DagsterInstance, capsys: pytest.CaptureFixture
) -> None:
    home = MovrecHome(tmp_path / "home").ensure()
    outside = tmp_path / "outside"
    outside.mkdir()
    for name in ("coco.mp4", "coco.json"):  # indexed before the mess arrives: must stay searchable
        shutil.copy2(demo_library / name, home.uploads / name)
    assert all(run_pipeline(home, dagster_instance).runs.values())
    store = EdgeStore(home.qdrant)
    coco_before = sorted(p.id for p in store.scroll(PayloadFilter(movie_ids=("coco",))))

    cases = build_corpus(home.uploads, demo_library, outside)
    assert len(cases) >= 20
    result = run_pipeline(home, dagster_instance)
    assert result.runs and all(result.runs.values()), result.runs  # no bad file takes a run down

    failures = collect_failures(home)
    status = json.loads(CliRunner().invoke(main, ["--home", str(home.root), "status", "--json"]).output)
    assert status["failures"] == failures  # `movrec status` shows exactly what failed and why
    rows, wrong = [], []
    for case in cases:
        reason = failures.get(case.file, "")
        if case.outcome == PROCESSED:
            points = store.count(PayloadFilter(movie_ids=(case.movie_id,)))
            got = PROCESSED if points and not reason else f"not processed ({reason or 'no points'})"
        else:
            # the reason names the file (the upload, or its sidecar) and the cause
            named = Path(case.file).stem in reason
            got = case.outcome if (case.cause in reason and named) else f"reason: {reason!r}"
        cause = reason.split(": ", 1)[-1]  # without the path prefix
        rows.append((case.kind, case.file, case.outcome, got if got != case.outcome else cause[:90] or "indexed"))
        if got != case.outcome:
            wrong.append((case.file, case.outcome, got))
    with capsys.disabled():
        print(f"\n\nbad-input corpus: {len(cases)} kinds")
        print("| kind | file | expected | outcome (reason, abridged) |\n|---|---|---|---|")
        for kind, file, expected, got in rows:
            print(f"| {kind} | `{file}` | {expected} | {got} |")
    assert not wrong, wrong

    # what was there before is untouched, and nothing escaped the home folder
    assert sorted(p.id for p in store.scroll(PayloadFilter(movie_ids=("coco",)))) == coco_before
    assert [p.name for p in outside.iterdir()] == ["secret.mp4"]
    assert not [p for p in home.root.rglob("*passwd*")]
    # Dagster shows the same failures on the asset checks (the UI's warning badges)
    passed, files = _check(dagster_instance, "videos", "all_uploads_usable")
    assert not passed and "truncated.mp4" in files and "escape.mp4" in files
    passed, files = _check(dagster_instance, "spoken_languages", "all_uploads_have_speech")
    assert not passed and "silence.mp4" in files and "blink.mp4" in files


def test_file_replaced_while_being_processed(tmp_path: Path, demo_library: Path) -> None:
    """The audio stage notices the upload changed under it: no audio is stored under the old hash."""
    home = MovrecHome(tmp_path).ensure()
    target = home.uploads / "coco.mp4"
    shutil.copy2(demo_library / "coco.mp4", target)
    videos, _ = scan_videos(home, None)
    shutil.copy2(demo_library / "amelie.mp4", target)  # replaced between the scan and the extraction
    _, report = extract_all_audio(home, videos)
    assert "changed while being processed" in report.failures["coco.mp4"]
    assert not list((home.data / "audio").glob("*.wav"))
    again, _ = scan_videos(home, videos)  # the next scan sees the new content and takes it
    fresh, report = extract_all_audio(home, again)
    assert not report.failures and fresh["content_hash"][0] != videos["content_hash"][0]


def test_uncertain_language_and_empty_partition(tmp_path: Path, demo_library: Path) -> None:
    home = MovrecHome(tmp_path).ensure()
    for name in ("amelie.mp4", "amelie.json", "coco.mp4", "coco.json"):
        shutil.copy2(demo_library / name, home.uploads / name)
    config = {**QUIET, "resources": {"library": {"config": {"home": str(home.root)}}}}
    # whisper is never this sure about these clips: both go to the `und` partition, transcribed there
    strict = {
        **config,
        "resources": {**config["resources"], "whisper": {"config": {"min_language_probability": 0.999}}},
    }
    from movrec_dagster.definitions import defs

    with dg.instance_for_test() as instance:
        scan = defs.resolve_job_def("scan_library").execute_in_process(run_config=strict, instance=instance)
        assert scan.success
        routes = read_table(home.table("spoken_languages"))
        assert set(routes["language"]) == {"und"} and routes["detected_language"].null_count() == 0
        index = defs.resolve_job_def("index_language")
        assert index.execute_in_process(run_config=strict, instance=instance, partition_key="und").success
        store = EdgeStore(home.qdrant)
        assert store.count(PayloadFilter(languages=("und",))) > 0
        before = store.count()
        # a partition with no movies at all: the run succeeds, indexes nothing, removes nothing
        instance.add_dynamic_partitions("language", ["xx"])
        assert index.execute_in_process(run_config=strict, instance=instance, partition_key="xx").success
        assert store.count() == before
        transcripts = read_table(home.table("transcripts", "xx"))
        assert transcripts is not None and transcripts.height == 0


@pytest.mark.longmedia
def test_long_media_thirty_minutes_of_silence_then_speech(tmp_path: Path, demo_library: Path) -> None:
    """Long media streams through ffmpeg and whisper's VAD; the speech after 30 min is found."""
    home = MovrecHome(tmp_path).ensure()
    silence = tmp_path / "silence.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "1800", str(silence))
    ffmpeg(
        "-i", str(silence), "-i", str(demo_library / "the-martian.mp4"),
        "-filter_complex", "[0:a][1:a]concat=n=2:v=0:a=1", "-c:a", "aac", str(home.uploads / "long-night.m4a"),
    )  # fmt: skip
    with dg.instance_for_test() as instance:
        assert all(run_pipeline(home, instance).runs.values())
    transcripts = pl.concat([read_table(p) for p in (home.data / "transcripts").glob("*.parquet")])
    row = transcripts.filter(pl.col("movie_id") == "long-night").row(0, named=True)
    assert row["duration_s"] > 1800 and row["segments"] and min(s["start"] for s in row["segments"]) >= 1790
    assert np.isclose(row["duration_s"], 1800 + 20, atol=5)
