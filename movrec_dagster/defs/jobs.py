import dagster as dg

from movrec_dagster.defs.partitions import language_partitions

# One process per run, not per step: on 2 cores a step subprocess costs seconds of imports and a
# model load each, and the stages of one run share the loaded models.
EXECUTOR = dg.in_process_executor

scan_library_job = dg.define_asset_job(
    "scan_library",
    selection=["videos", "audio", "spoken_languages"],
    description="Find uploads, extract audio, and file each movie under its language.",
    executor_def=EXECUTOR,
    tags={"movrec/serial": "scan_library"},  # see tag_concurrency_limits in dagster.yaml
)
index_language_job = dg.define_asset_job(
    "index_language",
    selection=["transcripts", "sentiment", "embeddings", "qdrant_collection"],
    partitions_def=language_partitions,
    description="Transcribe, score, embed and index one language partition.",
    executor_def=EXECUTOR,
)
rebuild_collection_job = dg.define_asset_job(
    "rebuild_collection",
    selection=["collection_candidate", "serving_collection"],
    description="Blue/green: build a new collection version, verify it (blocking checks), swap the alias.",
    executor_def=EXECUTOR,
)
