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
from movrec_dagster.defs.schedules import schedules
from movrec_dagster.defs.settings import EMBEDDER, SENTIMENT, WHISPER
from movrec_dagster.defs.taste import assets as taste_assets


def qdrant_resource() -> QdrantResource:
    """Embedded by default; QDRANT_URL (and QDRANT_API_KEY, read as a Dagster EnvVar) selects a server."""
    if os.environ.get("QDRANT_URL"):
        api_key = dg.EnvVar("QDRANT_API_KEY") if os.environ.get("QDRANT_API_KEY") else None
        return QdrantResource(url=dg.EnvVar("QDRANT_URL"), api_key=api_key)
    return QdrantResource()


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
    sensors=library_sensors,
    schedules=schedules,
    resources=resources(),
)
