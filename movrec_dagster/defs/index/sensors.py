"""Upgrades of the index itself: a collection written by an older release is rebuilt blue/green."""

import dagster as dg

from movrec_dagster.core.bluegreen import outdated_format
from movrec_dagster.core.vectorstore import types
from movrec_dagster.core.vectorstore.types import LEXICAL_VERSION
from movrec_dagster.defs.jobs import rebuild_collection_job
from movrec_dagster.defs.resources import EmbedderResource, LibraryResource, QdrantResource


@dg.sensor(job=rebuild_collection_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def outdated_collection_sensor(
    context: dg.SensorEvaluationContext, library: LibraryResource, qdrant: QdrantResource, embedder: EmbedderResource
) -> dg.SensorResult:
    """The serving collection holds another first model's vectors (MOVREC_MODEL changed), its
    points are in an older format (`LEXICAL_VERSION`: their sparse
    vectors, or a payload without what search reads), its second dense vectors are not the
    configured second models' (USE added beside MiniLM, say), or it grew large enough for graphs it
    lacks (`DenseIndex.graph_points`; graphs from before the per-language copies count as lacking):
    rebuild it beside the live one (re-embedding only what a model never read: vectors are reused by
    text) and swap when its checks pass. Search keeps answering from the old version meanwhile, as
    that version was built to answer."""
    settings = embedder.settings()
    second = settings.second_fingerprint
    serving = outdated_format(qdrant.store(library.paths()), second, settings.fingerprint)
    if serving is None:
        return dg.SensorResult(skip_reason="the serving collection is in this release's format")
    context.log.info(
        f"{serving} is not in this release's format (model {settings.fingerprint}, lexical {LEXICAL_VERSION}, "
        f"second {second}, graphs from {types.DENSE_INDEX.graph_points} points)"
    )
    # one request per outdated version: a rebuild that fails its checks is not retried in a loop
    key = f"format-upgrade:{serving}:{settings.fingerprint}:{LEXICAL_VERSION}:{second}"
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=key, job_name=rebuild_collection_job.name)])


index_sensors = [outdated_collection_sensor]
