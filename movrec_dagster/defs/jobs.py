import dagster as dg

from movrec_dagster.defs.partitions import language_partitions, user_segments

# One process per run, not per step: on 2 cores a step subprocess costs seconds of imports and a
# model load each, and the stages of one run share the loaded models.
EXECUTOR = dg.in_process_executor

scan_library_job = dg.define_asset_job(
    "scan_library",
    selection=["videos", "audio", "spoken_languages", "catalogue", "movies"],
    description="Find uploads, extract audio, file each movie under its language, merge in the catalogue.",
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
# The upload fast path: scan and index in one run when the sensor can name the language partition
# beforehand (see `upload_sensor`); saves a sensor tick and a run launch per upload.
ingest_uploads_job = dg.define_asset_job(
    "ingest_uploads",
    selection=[
        "videos",
        "audio",
        "spoken_languages",
        "catalogue",
        "movies",
        "transcripts",
        "sentiment",
        "embeddings",
        "qdrant_collection",
    ],
    partitions_def=language_partitions,
    description="Scan uploads and index the expected language partition in one run (the upload fast path).",
    executor_def=EXECUTOR,
    tags={"movrec/serial": "scan_library"},
)
rebuild_collection_job = dg.define_asset_job(
    "rebuild_collection",
    selection=["collection_candidate", "serving_collection"],
    description="Blue/green: build a new collection version, verify it (blocking checks), swap the alias.",
    executor_def=EXECUTOR,
)

# Launched on purpose only (minutes to half an hour of training on a CPU): no sensor or schedule.
adapt_models_job = dg.define_asset_job(
    "adapt_models",
    selection=["adapted_models"],
    description="Fine-tune the embedding models on the catalogue's overviews (settings to use them: metadata).",
    executor_def=EXECUTOR,
)

learn_taste_job = dg.define_asset_job(
    "learn_taste",
    selection=["item_neighbours", "taste_model"],
    description="Train the taste model (and item-kNN) from the watch events and ratings.",
    executor_def=EXECUTOR,
)

evaluate_job = dg.define_asset_job(
    "evaluate",
    selection=dg.AssetSelection.groups("evaluation"),
    description="Search and recommendation quality on MovieLens + TMDB overviews (see EVALUATION.md).",
    executor_def=EXECUTOR,
)

ingest_events_job = dg.define_asset_job(
    "ingest_events",
    selection=["user_events"],
    description="Take in event files and mark the user segments whose users have new events.",
    executor_def=EXECUTOR,
)
profile_users_job = dg.define_asset_job(
    "profile_users",
    selection=["user_profiles"],
    partitions_def=user_segments,
    description="Re-embed one user segment's taste vectors into the users collection.",
    executor_def=EXECUTOR,
)
