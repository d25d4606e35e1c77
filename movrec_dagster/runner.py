"""Run the asset graph from the CLI, recorded in the same Dagster instance the UI shows."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl
from dagster import DagsterInstance

from movrec_dagster.core.bluegreen import outdated_format
from movrec_dagster.core.catalogue import CATALOGUE_SUFFIXES
from movrec_dagster.core.home import MovrecHome, read_table
from movrec_dagster.core.indexing import partitions_to_index
from movrec_dagster.core.library import MEDIA_SUFFIXES
from movrec_dagster.core.vectorstore import StoreSettings, open_store
from movrec_dagster.defs.runs.sensors import fail_orphaned_runs, process_tags
from movrec_dagster.defs.settings import EMBEDDER


def instance_yaml() -> str:
    return resources.files("movrec_dagster").joinpath("dagster_local.yaml").read_text()


def dagster_instance(home: MovrecHome) -> DagsterInstance:
    """The persistent local instance at $DAGSTER_HOME (default: $MOVREC_HOME/dagster)."""
    dagster_home = Path(os.environ.setdefault("DAGSTER_HOME", str(home.dagster_home)))
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if not config.exists():
        config.write_text(instance_yaml())
    return DagsterInstance.get()


def _same_file(a: Path, b: Path) -> bool:
    sa, sb = a.stat(), b.stat()
    return sa.st_size == sb.st_size and int(sa.st_mtime) == int(sb.st_mtime)


def copy_uploads(source: Path, uploads: Path) -> tuple[list[Path], list[str]]:
    """Copy videos and their sidecars into the library; unchanged files are not copied again.
    Returns (files copied, why each skipped one was skipped).

    Each file lands under a temporary name and is renamed into place, so a watcher never sees a
    half-copied video. A symlink (or a file under a symlinked folder) that leads out of `source` is
    skipped and reported, never followed: `shutil.copy2` would copy whatever it points at (a link to
    /etc/passwd became a "video" in the library). Links that stay inside `source` are followed.
    """
    if not source.is_dir():
        raise NotADirectoryError(f"{source}: not a folder")
    root = source.resolve()
    copied, skipped = [], []
    for path in sorted(source.rglob("*")):
        if path.suffix.lower() not in MEDIA_SUFFIXES | {".json"}:
            continue
        if not path.resolve().is_relative_to(root):
            skipped.append(f"{path}: symlink to a file outside {source}; not followed")
            continue
        if not path.is_file():
            continue
        target = uploads / path.relative_to(source)
        if target.exists() and _same_file(path, target):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        shutil.copy2(path, partial)
        partial.replace(target)
        copied.append(target)
    return copied, skipped


def add_catalogue(source: Path, home: MovrecHome) -> Path | None:
    """Copy a catalogue file (CSV/Parquet) into MOVREC_HOME/catalogue; None when it is already there."""
    if source.suffix.lower() not in CATALOGUE_SUFFIXES:
        raise ValueError(f"{source}: a catalogue is a .csv or .parquet file")
    target = home.catalogue / source.name
    if target.exists() and _same_file(source, target):
        return None
    partial = target.with_name(f".{target.name}.partial")
    shutil.copy2(source, partial)
    partial.replace(target)
    return target


def add_ratings(source: Path, home: MovrecHome) -> list[Path]:
    """Copy a ratings folder's CSV files (ratings + links.csv, MovieLens shape) into MOVREC_HOME/ratings."""
    home.ratings.mkdir(parents=True, exist_ok=True)
    copied = []
    for path in sorted(source.glob("*.csv")):
        if path.name in ("movies.csv", "tags.csv"):
            continue
        target = home.ratings / path.name
        if not (target.exists() and _same_file(path, target)):
            shutil.copy2(path, target.with_name(f".{path.name}.partial"))
            target.with_name(f".{path.name}.partial").replace(target)
            copied.append(target)
    return copied


@dataclass
class IngestResult:
    runs: dict[str, bool] = field(default_factory=dict)  # job[partition] -> success
    failures: dict[str, str] = field(default_factory=dict)


def collect_failures(home: MovrecHome) -> dict[str, str]:
    """Every file or movie the pipeline could not use, with the cause, across all stages."""
    failures: dict[str, str] = {}
    tables = [home.table("videos"), home.table("audio"), home.table("spoken_languages")]
    tables += sorted((home.data / "transcripts").glob("*.parquet"))
    for path in tables:
        frame = read_table(path)
        if frame is None or "error" not in frame.columns:
            continue
        for row in frame.filter(pl.col("error").is_not_null()).iter_rows(named=True):
            failures.setdefault(row.get("file_name") or row.get("video_id") or row.get("movie_id"), row["error"])
        if "held_back_error" in frame.columns:
            for row in frame.filter(pl.col("held_back_error").is_not_null()).iter_rows(named=True):
                failures[row["file_name"]] = f"{row['held_back_error']}; still serving the last good version"
    return failures


def to_index(instance: DagsterInstance, home: MovrecHome) -> list[str]:
    """`partitions_to_index` (the one answer, in core/) with this instance's partition facts."""
    from dagster import AssetKey

    from movrec_dagster.defs.partitions import language_partitions

    known = set(instance.get_dynamic_partitions(language_partitions.name))
    return partitions_to_index(home, known, instance.get_materialized_partitions(AssetKey("qdrant_collection")))


QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_pipeline(home: MovrecHome, instance: DagsterInstance, run_config: dict | None = None) -> IngestResult:
    """Scan the library, then index the language partitions that changed, through the real Dagster jobs."""
    from movrec_dagster.definitions import defs

    index = defs.resolve_job_def("index_language")
    result = IngestResult()
    fail_orphaned_runs(instance)  # a killed earlier run is shown as failed; its pending work is redone below
    run_config = {
        **(QUIET if run_config is None else run_config),
        "resources": {"library": {"config": {"home": str(home.root)}}},
    }
    scan = defs.resolve_job_def("scan_library").execute_in_process(
        run_config=run_config, instance=instance, raise_on_error=False, tags=process_tags()
    )
    result.runs["scan_library"] = scan.success
    if scan.success:
        # another first model (MOVREC_MODEL changed) leaves live writes no version to go to until a
        # collection of its vectors serves: the rebuild comes first
        rebuild_if_outdated(home, instance, result)
        for language in to_index(instance, home):
            run = index.execute_in_process(
                run_config=run_config,
                instance=instance,
                partition_key=language,
                raise_on_error=False,
                tags=process_tags(),
            )
            result.runs[f"index_language[{language}]"] = run.success
        # a collection written by an older release is rebuilt blue/green (its vectors reused by text)
        rebuild_if_outdated(home, instance, result)
    if scan.success and (any(home.ratings.glob("*.csv")) or any_events(home)):
        learn_users(home, instance, run_config, result)
        taste = defs.resolve_job_def("learn_taste").execute_in_process(
            run_config=run_config, instance=instance, raise_on_error=False, tags=process_tags()
        )
        result.runs["learn_taste"] = taste.success
    result.failures = collect_failures(home)
    return result


def rebuild_if_outdated(home: MovrecHome, instance: DagsterInstance, result: IngestResult) -> None:
    """Rebuild blue/green when the serving collection is not what this release and these settings
    write (`bluegreen.outdated_format`); once a run (a failed rebuild is not tried again in it)."""
    if "rebuild_collection" in result.runs:
        return
    settings = EMBEDDER.settings()
    store = open_store(home.qdrant, StoreSettings.from_env())
    if outdated_format(store, settings.second_fingerprint, settings.fingerprint):
        result.runs["rebuild_collection"] = rebuild(home, instance)[0]


def any_events(home: MovrecHome) -> bool:
    from movrec_dagster.core.users.inbox import inbox_files, unprofiled_batches

    return bool(inbox_files(home) or unprofiled_batches(home))


def learn_users(home: MovrecHome, instance: DagsterInstance, run_config: dict, result: IngestResult) -> None:
    """The users jobs the events sensors would launch: take in events, re-embed the changed segments."""
    from movrec_dagster.core.pending import pending_partitions
    from movrec_dagster.definitions import defs

    if not any_events(home):
        return
    run = defs.resolve_job_def("ingest_events").execute_in_process(
        run_config=run_config, instance=instance, raise_on_error=False, tags=process_tags()
    )
    result.runs["ingest_events"] = run.success
    for segment in pending_partitions(home, kind="users") if run.success else []:
        profiled = defs.resolve_job_def("profile_users").execute_in_process(
            run_config=run_config, instance=instance, partition_key=segment, raise_on_error=False, tags=process_tags()
        )
        result.runs[f"profile_users[{segment}]"] = profiled.success


def ratings_as_events(home: MovrecHome, copied: list[Path]) -> int:
    """Newly copied MovieLens ratings become rating events too (users `ml-<userId>`)."""
    from movrec_dagster.core.collaborative import read_ratings
    from movrec_dagster.core.users.events import rating_events, store_frame

    if not copied:
        return 0
    ratings, _ = read_ratings(home.ratings)
    frame = rating_events(ratings)
    store_frame(home, frame)
    return len(frame)


def rebuild(home: MovrecHome, instance: DagsterInstance) -> tuple[bool, dict[str, str]]:
    """Run the blue/green rebuild job; returns success and each check's outcome."""
    from movrec_dagster.definitions import defs

    run_config = {**QUIET, "resources": {"library": {"config": {"home": str(home.root)}}}}
    result = defs.resolve_job_def("rebuild_collection").execute_in_process(
        run_config=run_config, instance=instance, raise_on_error=False, tags=process_tags()
    )
    checks = {
        e.check_name: ("passed" if e.passed else "FAILED: " + str(e.metadata["detail"].value))
        for e in result.get_asset_check_evaluations()
    }
    return result.success, checks


def evaluate(home: MovrecHome, instance: DagsterInstance, config: dict) -> tuple[bool, str]:
    """Run the evaluation job; returns success and the Markdown report (search, then recommendation)."""
    from movrec_dagster.definitions import defs

    run_config = {
        **QUIET,
        "resources": {"library": {"config": {"home": str(home.root)}}, "evaluation": {"config": config}},
    }
    result = defs.resolve_job_def("evaluate").execute_in_process(
        run_config=run_config, instance=instance, raise_on_error=False, tags=process_tags()
    )
    folder = home.data / "evaluation"
    parts = [(folder / name).read_text() for name in ("search.md", "recommendation.md") if (folder / name).exists()]
    return result.success, "\n".join(parts)


def adapt(home: MovrecHome, instance: DagsterInstance, config: dict) -> tuple[bool, dict[str, Any]]:
    """Run the `adapt_models` job (the `AdaptConfig` fields in `config`); returns success and the
    materialization's metadata values (`trained`, `MOVREC_MODEL`, `MOVREC_SECOND_MODEL`), else the
    step's error as `error`."""
    from movrec_dagster.definitions import defs

    run_config = {
        **QUIET,
        "resources": {"library": {"config": {"home": str(home.root)}}},
        "ops": {"adapted_models": {"config": config}},
    }
    result = defs.resolve_job_def("adapt_models").execute_in_process(
        run_config=run_config, instance=instance, raise_on_error=False, tags=process_tags()
    )
    if not result.success:
        errors = [e.step_failure_data.error for e in result.all_events if e.is_step_failure]
        error = errors[0] if errors else None
        error = error.cause if error and error.cause else error  # what the asset raised, not Dagster's wrapper
        return False, {"error": error.message.strip() if error else "the run failed"}
    (done,) = result.asset_materializations_for_node("adapted_models")
    return True, {key: value.value for key, value in done.metadata.items()}
