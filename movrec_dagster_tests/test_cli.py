"""The `movrec` CLI and the Dagster command line against the real code location."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
from click.testing import CliRunner
from dagster._core.instance.ref import InstanceRef

from movrec_dagster.cli import main
from movrec_dagster.core.sentences import excerpt
from movrec_dagster.runner import instance_yaml

ROOT = Path(__file__).resolve().parents[1]
DAGSTER = str(Path(sys.executable).parent / "dagster")  # the venv's, whether or not it is activated


def _run(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DAGSTER_HOME", "MOVREC_HOME"}}
    return subprocess.run(
        [sys.executable, "-m", "movrec_dagster.cli", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


def _dagster(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """The `dagster` command line of this environment, run from the repository root."""
    return subprocess.run([DAGSTER, *args], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT, check=False)


def test_search_json(indexed) -> None:  # noqa: ANN001
    home, _, _ = indexed
    out = CliRunner().invoke(
        main, ["--home", str(home.root), "search", "NASA tries to rescue an astronaut stranded on Mars", "--json"]
    )
    assert out.exit_code == 0, out.output
    hits = json.loads(out.output)
    assert hits[0]["movie_id"] == "the-martian" and hits[0]["title"] == "The Martian"
    assert {"movie_id", "title", "language", "score"} <= set(hits[0])


def test_search_filters_and_similar(indexed) -> None:  # noqa: ANN001
    home, _, _ = indexed
    runner = CliRunner()
    out = runner.invoke(
        main, ["--home", str(home.root), "search", "music", "--language", "es", "--top-k", "2", "--json"]
    )
    assert out.exit_code == 0 and {h["language"] for h in json.loads(out.output)} == {"es"}
    out = runner.invoke(main, ["--home", str(home.root), "similar", "the-martian", "--json"])
    ids = [h["movie_id"] for h in json.loads(out.output)]
    assert ids and "the-martian" not in ids
    out = runner.invoke(main, ["--home", str(home.root), "similar", "no-such-movie"])
    assert out.exit_code != 0 and "not in the index" in out.output


def test_status_lists_failures(indexed) -> None:  # noqa: ANN001
    home, _, bad = indexed
    out = CliRunner().invoke(main, ["--home", str(home.root), "status", "--json"])
    info = json.loads(out.output)
    assert info["serving"] and set(info["failures"]) == set(bad)
    assert info["movies_by_language"]["en"] >= 3 and info["pending_partitions"] == []
    assert info["disk_bytes"]["qdrant"] > 0 and info["versions"][0]["points"] > 0


def test_doctor_reports_what_is_wrong_and_what_to_do(indexed, tmp_path: Path) -> None:  # noqa: ANN001
    home, _, bad = indexed
    out = CliRunner().invoke(main, ["--home", str(home.root), "doctor"])
    assert out.exit_code == 1  # the bad uploads of the fixture
    lines = {line.split(":")[0].split(maxsplit=1)[1]: line for line in out.output.splitlines()}
    assert lines["failed files"].startswith("FAIL") and f"{len(bad)}: see `movrec status`" in lines["failed files"]
    for check in ("ffmpeg", "collection", "pending partitions", "disk"):
        assert lines[check].startswith("ok"), lines[check]
    empty = CliRunner().invoke(main, ["--home", str(tmp_path / "new"), "doctor"])
    assert empty.exit_code == 1 and "nothing is serving yet: run `movrec ingest`" in empty.output


def test_ingest_twice_adds_nothing_twice(tmp_path: Path, demo_library: Path) -> None:
    source = tmp_path / "incoming"
    source.mkdir()
    for name in ("coco.mp4", "coco.json"):
        shutil.copy2(demo_library / name, source / name)
    env_home = tmp_path / "home"
    first = _run(env_home, "ingest", str(source))
    assert first.returncode == 0, first.stderr
    assert "copied 2" in first.stdout and "ok     index_language[es]" in first.stdout
    second = _run(env_home, "ingest", str(source))
    assert second.returncode == 0 and "copied 0" in second.stdout
    status = json.loads(_run(env_home, "status", "--json").stdout)
    assert [v["points"] for v in status["versions"]] == [status["versions"][0]["points"]] and status["versions"][0][
        "points"
    ] > 0
    # runs are recorded in the persistent instance the UI reads; the second ingest only rescans
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(env_home / "dagster"))) as instance:
        jobs = sorted(run.job_name for run in instance.get_runs())
    assert jobs == ["index_language", "scan_library", "scan_library"]


def test_dagster_cli_materializes_from_module(tmp_path: Path, demo_library: Path) -> None:
    home = tmp_path / "home"
    (home / "uploads").mkdir(parents=True)
    shutil.copy2(demo_library / "amelie.mp4", home / "uploads" / "amelie.mp4")
    env = {**os.environ, "MOVREC_HOME": str(home), "DAGSTER_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text(instance_yaml())
    done = _dagster(["asset", "materialize", "-m", "movrec_dagster.definitions", "--select", "videos"], env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (home / "data" / "videos.parquet").exists()


def test_workspace_loads_the_code_location(tmp_path: Path) -> None:
    done = _dagster(["definitions", "validate", "-w", "workspace.yaml"], {**os.environ, "DAGSTER_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Validation successful" in done.stdout + done.stderr


def test_root_instance_yaml_is_the_packaged_default() -> None:
    assert (ROOT / "dagster.yaml").read_text() == instance_yaml()


def test_explain_gives_the_evidence(indexed) -> None:  # noqa: ANN001
    home, _, _ = indexed
    runner = CliRunner()
    out = runner.invoke(main, ["--home", str(home.root), "recommend", "--liked", "the-martian", "--explain", "--json"])
    assert out.exit_code == 0, out.output
    recs = json.loads(out.output)
    transcripts = {
        r["movie_id"]: r for r in recs if r["matched_kind"] == "transcript"
    }  # evidence is a real line of the movie, with its time
    assert recs and all(r["explanation"].startswith("because you liked The Martian (the-martian)") for r in recs)
    assert all(r["because_of_title"] == "The Martian" for r in recs)
    assert all(r["matched_kind"] in ("transcript", "overview") and r["matched_text"] for r in recs)
    for movie, rec in transcripts.items():  # the line sharing The Martian's words, or the chunk's start
        quoted = rec["matched_sentence"] or excerpt(rec["matched_text"])
        assert rec["start"] is not None and f'"{quoted}"' in rec["explanation"], movie
        assert quoted.rstrip("…") in rec["matched_text"], movie
    # Apollo 13's trailer: its line with "astronauts" (The Martian's overview has "astronaut")
    assert "astronauts" in transcripts["apollo-13"]["matched_sentence"]
    out = runner.invoke(main, ["--home", str(home.root), "similar", "THE MARTIAN", "--explain", "--top-k", "2"])
    assert out.exit_code == 0 and out.output.count("why: ") == 2
    out = runner.invoke(main, ["--home", str(home.root), "recommend", "--liked", "the-martian", "--top-k", "2"])
    assert out.exit_code == 0 and out.output.count("because you liked The Martian (the-martian)") == 2, out.output


def test_adapt_trains_on_the_homes_catalogue_and_says_how_to_use_it(tmp_path: Path) -> None:
    """`movrec adapt`: refused with the fix before anything is ingested; then one step on the demo
    catalogue's overviews for each configured model adaptation was measured on (e5, MiniLM), run as
    the `adapt_models` Dagster job (its materialization names the settings the CLI prints), the
    models saved in the home (named with --home, MOVREC_HOME unset), and the settings and the rebuild
    that put them to use printed."""
    import polars as pl

    from movrec_dagster.core.home import MovrecHome, write_table

    home = tmp_path / "home"
    empty = _run(home, "adapt")
    assert empty.returncode != 0 and "movrec ingest --catalogue" in empty.stderr
    catalogue = pl.read_csv(ROOT / "movrec_dagster" / "demo" / "catalogue.csv").select("title", "overview")
    write_table(catalogue, MovrecHome(home).table("movies"))
    done = _run(home, "adapt", "--steps", "1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    first = next(line for line in lines if "export MOVREC_MODEL=" in line).split("=", 1)[1]
    seconds = next(line for line in lines if "export MOVREC_SECOND_MODEL=" in line).split("=", 1)[1].split(",")
    assert first.startswith("multilingual-e5-small-adapted-") and "movrec rebuild" in done.stdout
    assert seconds[0].startswith("all-MiniLM-L6-v2-adapted-") and seconds[1:] == ["use-multilingual-v3"]
    for name in (first, seconds[0]):
        assert (home / "models" / name / ".complete").exists()
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home / "dagster"))) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("adapted_models"))
    assert event is not None and event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    assert metadata["MOVREC_MODEL"].value == first and metadata["MOVREC_SECOND_MODEL"].value == ",".join(seconds)
    assert [m["model"] for m in metadata["trained"].value] == [first, seconds[0]]
    again = _run(home, "adapt", "--steps", "1", "--model", "all-MiniLM-L6-v2")  # the same pairs and settings
    assert again.returncode == 0 and f"{seconds[0]}: " in again.stdout and "(trained before: reused)" in again.stdout
    refused = _run(home, "adapt", "--model", "use-multilingual-v3")
    assert refused.returncode != 0 and "cannot be adapted" in refused.stderr
