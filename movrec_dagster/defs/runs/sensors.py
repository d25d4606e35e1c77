"""Runs whose process died without a word (kill -9, the OOM killer, a machine restart) are marked
failed, so that run retries re-execute them and queued runs behind them move on.

Dagster's run monitoring does this for run launchers that can ask about their workers (Docker,
Kubernetes: see docker/dagster.yaml). The local launcher cannot, so a run whose worker was killed
would stay STARTED forever: its partition never indexed, and every scan queued behind it (the
`movrec/serial` limit in dagster.yaml) waiting for good.
"""

from __future__ import annotations

import os
import socket

import dagster as dg
import psutil

# runs executed in the CLI's own process (`movrec ingest`) carry its process id and host
PID_TAG = "movrec/pid"
HOST_TAG = "movrec/host"
ORPHAN_SENSOR_INTERVAL_S = 10


def process_tags() -> dict[str, str]:
    """Tags that let `fail_orphaned_runs` judge a run executed in this process."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def process_alive(pid: int, started_by: float) -> bool:
    """Whether `pid` is the process that was running at `started_by` (not a later one given its number)."""
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and process.create_time() <= started_by + 1.0
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # another user's process: it exists, and is not ours to judge
        return True


def run_worker(instance: dg.DagsterInstance, record: dg.RunRecord) -> tuple[int, float] | None:
    """The process executing a run, and a time it was known to run; None where this machine cannot tell."""
    run = record.dagster_run
    if PID_TAG in run.tags:
        if run.tags.get(HOST_TAG) != socket.gethostname():
            return None
        return int(run.tags[PID_TAG]), record.create_timestamp.timestamp()
    if not isinstance(instance.run_launcher, dg.DefaultRunLauncher):
        return None  # its workers live elsewhere; run monitoring asks the launcher
    events = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, ascending=False).records
    for event in events:
        entry = event.event_log_entry
        data = entry.dagster_event.engine_event_data if entry.dagster_event else None
        # "Started process for run (pid: N)"; events naming step keys may come from step processes
        if data and "pid" in data.metadata and "step_keys" not in data.metadata:
            return int(data.metadata["pid"].value), entry.timestamp
    return None


def fail_orphaned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed every STARTED run whose worker process on this machine is gone; returns their ids."""
    failed = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        worker = run_worker(instance, record)
        if worker is None or process_alive(*worker):
            continue
        run = record.dagster_run
        instance.report_run_failed(
            run,
            f"the process running it (pid {worker[0]}) is gone: killed or crashed mid-run. Its writes are "
            "idempotent and its partitions stay pending, so a retry or the next scan finishes the work.",
        )
        failed.append(run.run_id)
    return failed


@dg.sensor(minimum_interval_seconds=ORPHAN_SENSOR_INTERVAL_S, default_status=dg.DefaultSensorStatus.RUNNING)
def orphaned_runs(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Fails runs whose worker process died (kill -9, OOM, restart) so run retries pick them up."""
    failed = fail_orphaned_runs(context.instance)
    for run_id in failed:
        context.log.warning(f"run {run_id} lost its process; marked failed for a retry")
    return dg.SkipReason(f"marked {len(failed)} orphaned run(s) failed" if failed else "no orphaned runs")


run_sensors = [orphaned_runs]
