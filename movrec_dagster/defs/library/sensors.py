"""Near-real-time: notice uploads, then index only the language partitions that changed."""

import json
import time

import dagster as dg

from movrec_dagster.core.catalogue import find_catalogues
from movrec_dagster.core.home import MovrecHome, read_table
from movrec_dagster.core.indexing import partitions_to_index
from movrec_dagster.core.watch import diff_uploads, expected_language, listen_for_languages
from movrec_dagster.defs.jobs import index_language_job, ingest_uploads_job, scan_library_job
from movrec_dagster.defs.library.assets import SPECULATIVE_TAG
from movrec_dagster.defs.partitions import language_partitions
from movrec_dagster.defs.resources import LibraryResource, WhisperResource

# The daemon evaluates sensors in a 5 s loop and compares the elapsed time with the tick's own start,
# which lags the loop start: an interval of exactly 5 s skips every other loop (10 s ticks); 4 s
# gives a tick every loop.
SENSOR_INTERVAL_S = 4
# seconds the upload sensor spent detecting languages before it launched the run (shown on the run)
LISTENED_TAG = "movrec/sensor_listened_s"


@dg.sensor(
    jobs=[ingest_uploads_job, scan_library_job],
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def upload_sensor(
    context: dg.SensorEvaluationContext, library: LibraryResource, whisper: WhisperResource
) -> dg.SensorResult:
    """New, changed and deleted uploads (and sidecar edits) launch a library scan; half-written files wait.

    When the language partition can be named beforehand (sidecar, whisper's detection on the new
    upload, the movie's previous language, the library's usual language) the run also indexes that
    partition: one run from upload to searchable.
    """
    home = library.paths()
    state = json.loads(context.cursor) if context.cursor else {}
    now = time.time()
    changes, new_state = diff_uploads(home.uploads, state, now=now)
    # catalogue files are watched the same way; a change there re-reads the catalogue in the scan
    listed, new_state["catalogue"] = diff_uploads(
        home.catalogue, state.get("catalogue", {}), now=now, files=find_catalogues
    )
    cursor = json.dumps(new_state, sort_keys=True)
    if not (changes.any or listed.any):
        waiting = len(changes.waiting) + len(listed.waiting)
        reason = f"waiting for {waiting} file(s) to finish" if waiting else "no changes"
        return dg.SensorResult(skip_reason=reason, cursor=cursor)
    context.log.info(f"added {changes.added}, changed {changes.changed}, deleted {changes.deleted}")
    if listed.any:
        context.log.info(f"catalogue: added {listed.added}, changed {listed.changed}, deleted {listed.deleted}")
    known = filed_languages(home)
    listening = time.perf_counter()
    try:
        heard = listen_for_languages(
            home,
            changes,
            new_state["seen"],
            whisper.settings(),
            whisper.min_language_probability,
            budget_s=whisper.sensor_listen_s,
            max_bytes=whisper.sensor_listen_max_mb << 20,
        )
    except Exception as exc:  # noqa: BLE001 - a broken model must not stop uploads: guess instead
        context.log.warning(f"language detection in the sensor failed, guessing instead: {exc}")
        heard = {}
    listened_s = time.perf_counter() - listening
    if heard:
        context.log.info(f"whisper heard {heard} in {listened_s:.1f} s")
    language = expected_language(home.uploads, changes, known, heard)
    tags = {
        "movrec/added": str(len(changes.added)),
        "movrec/changed": str(len(changes.changed)),
        "movrec/deleted": str(len(changes.deleted)),
    }
    run_key = changes.run_key(new_state["seen"]) + listed.run_key(new_state["catalogue"]["seen"])[:8]
    if language is None:
        request = dg.RunRequest(run_key=run_key, job_name=scan_library_job.name, tags=tags)
        return dg.SensorResult(run_requests=[request], cursor=cursor)
    request = dg.RunRequest(
        run_key=run_key,
        job_name=ingest_uploads_job.name,
        partition_key=language,
        tags=tags | {SPECULATIVE_TAG: language, LISTENED_TAG: f"{listened_s:.2f}"},
    )
    new_partition = [] if context.instance.has_dynamic_partition(language_partitions.name, language) else [language]
    return dg.SensorResult(
        run_requests=[request],
        cursor=cursor,
        dynamic_partitions_requests=[language_partitions.build_add_request(new_partition)] if new_partition else [],
    )


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[scan_library_job, ingest_uploads_job],
    request_job=index_language_job,
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def index_changed_languages(
    context: dg.RunStatusSensorContext, library: LibraryResource
) -> list[dg.RunRequest] | dg.SkipReason:
    """After a successful scan, index each language partition whose movies changed (and no other),
    and any partition a failed or killed run left half-indexed: `partitions_to_index`, the one answer.

    A fast-path run has indexed its own partition already (and taken it off the pending list).
    """
    run_id = context.dagster_run.run_id
    instance = context.instance
    changed = partitions_to_index(
        library.paths(),
        set(instance.get_dynamic_partitions(language_partitions.name)),
        instance.get_materialized_partitions(dg.AssetKey("qdrant_collection")),
    )
    if not changed:
        return dg.SkipReason(f"scan {run_id[:8]} changed no language partition")
    return [dg.RunRequest(run_key=f"{run_id}:{lang}", partition_key=lang) for lang in changed]


library_sensors = [upload_sensor, index_changed_languages]


def filed_languages(home: MovrecHome) -> dict[str, str]:
    """The partition each movie and each video was filed under at the last scan (for guessing)."""
    movies, links = read_table(home.table("movies")), read_table(home.table("movie_videos"))
    if movies is None:
        return {}
    known = dict(movies.drop_nulls("language").select("movie_id", "language").iter_rows())
    if links is not None and "video_id" in links.columns:
        known |= {
            video: known[movie] for video, movie in links.select("video_id", "movie_id").iter_rows() if movie in known
        }
    return known
