import dagster as dg

from movrec_dagster.defs.partitions import language_partitions

scan_library_job = dg.define_asset_job(
    "scan_library",
    selection=["videos", "audio", "spoken_languages"],
    description="Find uploads, extract audio, and file each movie under its language.",
)
index_language_job = dg.define_asset_job(
    "index_language",
    selection=["transcripts", "sentiment", "embeddings", "qdrant_collection"],
    partitions_def=language_partitions,
    description="Transcribe, score, embed and index one language partition.",
)
rebuild_collection_job = dg.define_asset_job(
    "rebuild_collection",
    selection=["collection_candidate", "serving_collection"],
    description="Blue/green: build a new collection version, verify it (blocking checks), swap the alias.",
)
