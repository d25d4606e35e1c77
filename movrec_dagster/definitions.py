"""movrec's one Dagster code location."""

from __future__ import annotations

import os

import dagster as dg

from movrec_dagster.defs.evaluation import assets as evaluation_assets
from movrec_dagster.defs.index import assets as index_assets
from movrec_dagster.defs.index.rebuild import rebuild_assets
from movrec_dagster.defs.jobs import (
    evaluate_job,
    index_language_job,
    ingest_uploads_job,
    learn_taste_job,
    rebuild_collection_job,
    scan_library_job,
)
from movrec_dagster.defs.library import assets as library_assets
from movrec_dagster.defs.library.checks import library_checks
from movrec_dagster.defs.library.sensors import library_sensors
from movrec_dagster.defs.ml import assets as ml_assets
from movrec_dagster.defs.resources import EvaluationResource, LibraryResource, QdrantResource
from movrec_dagster.defs.runs.sensors import run_sensors
from movrec_dagster.defs.schedules import schedules
from movrec_dagster.defs.settings import EMBEDDER, SENTIMENT, WHISPER
from movrec_dagster.defs.taste import assets as taste_assets

# server/cluster settings read from the environment (as Dagster EnvVars, so their values never
# appear in the UI or in run config): resource field -> variable
QDRANT_INT_SETTINGS = {
    "timeout_s": "QDRANT_TIMEOUT_S",
    "shard_number": "QDRANT_SHARD_NUMBER",
    "replication_factor": "QDRANT_REPLICATION_FACTOR",
    "write_consistency_factor": "QDRANT_WRITE_CONSISTENCY_FACTOR",
}


def qdrant_resource() -> QdrantResource:
    """Embedded by default; QDRANT_URL (with QDRANT_API_KEY and the cluster settings above) selects a server."""
    if not os.environ.get("QDRANT_URL"):
        return QdrantResource()
    settings: dict = {
        field: dg.EnvVar.int(variable) for field, variable in QDRANT_INT_SETTINGS.items() if os.environ.get(variable)
    }
    if os.environ.get("QDRANT_API_KEY"):
        settings["api_key"] = dg.EnvVar("QDRANT_API_KEY")
    prefer_grpc = os.environ.get("QDRANT_PREFER_GRPC", "").lower() in ("1", "true", "yes")
    return QdrantResource(url=dg.EnvVar("QDRANT_URL"), prefer_grpc=prefer_grpc, **settings)


def resources() -> dict[str, dg.ConfigurableResource]:
    return {
        "library": LibraryResource(),
        "whisper": WHISPER,
        "embedder": EMBEDDER,
        "sentiment_model": SENTIMENT,
        "qdrant": qdrant_resource(),
        "evaluation": EvaluationResource(),
    }


defs = dg.Definitions(
    assets=[
        *dg.load_assets_from_modules([library_assets, ml_assets, index_assets, taste_assets, evaluation_assets]),
        *rebuild_assets,
    ],
    asset_checks=library_checks,
    jobs=[
        scan_library_job,
        index_language_job,
        ingest_uploads_job,
        rebuild_collection_job,
        learn_taste_job,
        evaluate_job,
    ],
    sensors=[*library_sensors, *run_sensors],
    schedules=schedules,
    resources=resources(),
)
