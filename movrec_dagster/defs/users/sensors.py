"""Near real time for users: event files launch a take-in, and each segment it marked is re-embedded;
batches the API stored go straight to the re-embedding of their users' segments."""

import dagster as dg

from movrec_dagster.core.pending import pending_partitions
from movrec_dagster.core.users.inbox import inbox_files, mark_changed_segments, unprofiled_batches
from movrec_dagster.defs.jobs import ingest_events_job, profile_users_job
from movrec_dagster.defs.library.sensors import SENSOR_INTERVAL_S
from movrec_dagster.defs.partitions import user_segments
from movrec_dagster.defs.resources import LibraryResource


@dg.sensor(
    jobs=[ingest_events_job, profile_users_job],
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def events_sensor(context: dg.SensorEvaluationContext, library: LibraryResource) -> dg.SensorResult:
    """Event files in MOVREC_HOME/events (once unchanged between two looks): one take-in run. Batches
    the API stored that no take-in has seen: their users' segments are marked here and re-embedded at
    once, without a take-in run in between (measured: a run launch and a sensor tick, about 5 s of
    the near-real-time latency, saved for the path every API event takes)."""
    home = library.paths()
    files = {p.name: [p.stat().st_size, p.stat().st_mtime_ns] for p in inbox_files(home)}
    previous = dg.deserialize_value(context.cursor, dict) if context.cursor else {}
    settled = {name: stamp for name, stamp in files.items() if previous.get(name) == stamp}
    cursor = dg.serialize_value(files)
    if settled:
        key = "|".join(sorted(f"{n}:{s[0]}:{s[1]}" for n, s in settled.items()))
        request = dg.RunRequest(job_name=ingest_events_job.name, run_key=key)
        return dg.SensorResult(run_requests=[request], cursor=cursor)
    batches = [p.name for p in unprofiled_batches(home)]
    if not batches:
        waiting = len(files)
        return dg.SensorResult(
            skip_reason=f"waiting for {waiting} file(s) to settle" if waiting else "no new events", cursor=cursor
        )
    mark_changed_segments(home)  # pending first, then the batches recorded: crash-safe
    segments = pending_partitions(home, kind="users")
    known = set(context.instance.get_dynamic_partitions(user_segments.name))
    new = sorted(set(segments) - known)
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(job_name=profile_users_job.name, run_key=f"{batches[-1]}:{s}", partition_key=s)
            for s in segments
        ],
        dynamic_partitions_requests=[user_segments.build_add_request(new)] if new else [],
        cursor=cursor,
    )


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[ingest_events_job],
    request_job=profile_users_job,
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def profile_changed_segments(
    context: dg.RunStatusSensorContext, library: LibraryResource
) -> list[dg.RunRequest] | dg.SkipReason:
    """After a take-in, re-embed each user segment it marked (and any a killed run left pending)."""
    run_id = context.dagster_run.run_id
    segments = pending_partitions(library.paths(), kind="users")
    if not segments:
        return dg.SkipReason(f"take-in {run_id[:8]} changed no user segment")
    return [dg.RunRequest(run_key=f"{run_id}:{segment}", partition_key=segment) for segment in segments]


user_sensors = [events_sensor, profile_changed_segments]
