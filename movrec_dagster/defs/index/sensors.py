"""Upgrades of the index itself: a collection written by an older release is rebuilt blue/green."""

import dagster as dg

from movrec_dagster.core.bluegreen import outdated_format
from movrec_dagster.core.vectorstore.types import LEXICAL_VERSION
from movrec_dagster.defs.jobs import rebuild_collection_job
from movrec_dagster.defs.resources import LibraryResource, QdrantResource


@dg.sensor(job=rebuild_collection_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def outdated_collection_sensor(
    context: dg.SensorEvaluationContext, library: LibraryResource, qdrant: QdrantResource
) -> dg.SensorResult:
    """The serving collection's sparse vectors are in an older lexical format: rebuild it beside the
    live one (re-embedding nothing: the vectors are reused by text) and swap when its checks pass.
    Search keeps answering from the old version meanwhile, from its dense side."""
    serving = outdated_format(qdrant.store(library.paths()))
    if serving is None:
        return dg.SensorResult(skip_reason="the serving collection is in this release's format")
    context.log.info(f"{serving} holds an older lexical format than {LEXICAL_VERSION}: rebuilding it")
    # one request per outdated version: a rebuild that fails its checks is not retried in a loop
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=f"format-upgrade:{serving}:{LEXICAL_VERSION}", job_name=rebuild_collection_job.name)
        ]
    )


index_sensors = [outdated_collection_sensor]
