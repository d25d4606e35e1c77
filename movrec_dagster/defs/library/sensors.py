"""Near-real-time: notice uploads, then index only the language partitions that changed."""

import json
import time

import dagster as dg

from movrec_dagster.core.watch import diff_uploads
from movrec_dagster.defs.jobs import index_language_job, scan_library_job
from movrec_dagster.defs.resources import LibraryResource

SPOKEN_LANGUAGES = dg.AssetKey("spoken_languages")


@dg.sensor(job=scan_library_job, minimum_interval_seconds=5, default_status=dg.DefaultSensorStatus.RUNNING)
def upload_sensor(context: dg.SensorEvaluationContext, library: LibraryResource) -> dg.SensorResult:
    """New, changed and deleted uploads (and sidecar edits) launch a library scan; half-written files wait."""
    state = json.loads(context.cursor) if context.cursor else {}
    changes, new_state = diff_uploads(library.paths().uploads, state, now=time.time())
    cursor = json.dumps(new_state, sort_keys=True)
    if not changes.any:
        reason = f"waiting for {len(changes.waiting)} file(s) to finish" if changes.waiting else "no changes"
        return dg.SensorResult(skip_reason=reason, cursor=cursor)
    context.log.info(f"added {changes.added}, changed {changes.changed}, deleted {changes.deleted}")
    request = dg.RunRequest(
        run_key=changes.run_key(new_state["seen"]),
        tags={
            "movrec/added": str(len(changes.added)),
            "movrec/changed": str(len(changes.changed)),
            "movrec/deleted": str(len(changes.deleted)),
        },
    )
    return dg.SensorResult(run_requests=[request], cursor=cursor)


def changed_partitions_of_run(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The language partitions a scan run reported as changed (metadata of `spoken_languages`)."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    for record in records:
        materialization = record.event_log_entry.asset_materialization
        if materialization and materialization.asset_key == SPOKEN_LANGUAGES:
            return list(materialization.metadata["changed_partitions"].value)
    return []


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[scan_library_job],
    request_job=index_language_job,
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def index_changed_languages(context: dg.RunStatusSensorContext) -> list[dg.RunRequest] | dg.SkipReason:
    """After a successful scan, index each language partition whose movies changed (and no other)."""
    run_id = context.dagster_run.run_id
    changed = changed_partitions_of_run(context.instance, run_id)
    if not changed:
        return dg.SkipReason(f"scan {run_id[:8]} changed no language partition")
    return [dg.RunRequest(run_key=f"{run_id}:{lang}", partition_key=lang) for lang in changed]


library_sensors = [upload_sensor, index_changed_languages]
