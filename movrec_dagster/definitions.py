"""movrec's one Dagster code location."""

from __future__ import annotations

import os

import dagster as dg

from movrec_dagster.core.vectorstore import ENV, INT_SETTINGS
from movrec_dagster.defs.evaluation import assets as evaluation_assets
from movrec_dagster.defs.index import assets as index_assets
from movrec_dagster.defs.index.rebuild import rebuild_assets
from movrec_dagster.defs.index.sensors import index_sensors
from movrec_dagster.defs.jobs import (
    adapt_models_job,
    evaluate_job,
    index_language_job,
    ingest_events_job,
    ingest_uploads_job,
    learn_taste_job,
    profile_users_job,
    rebuild_collection_job,
    scan_library_job,
)
from movrec_dagster.defs.library import assets as library_assets
from movrec_dagster.defs.library.checks import library_checks
from movrec_dagster.defs.library.sensors import library_sensors
from movrec_dagster.defs.ml import adaptation as adaptation_assets
from movrec_dagster.defs.ml import assets as ml_assets
from movrec_dagster.defs.resources import EvaluationResource, LibraryResource, QdrantResource
from movrec_dagster.defs.runs.sensors import run_sensors
from movrec_dagster.defs.schedules import schedules
from movrec_dagster.defs.settings import EMBEDDER, SENTIMENT, WHISPER
from movrec_dagster.defs.taste import assets as taste_assets
from movrec_dagster.defs.taste.sensors import taste_schedules, taste_sensors
from movrec_dagster.defs.users import assets as user_assets
from movrec_dagster.defs.users.sensors import user_sensors


def qdrant_resource() -> QdrantResource:
    """Embedded by default; QDRANT_URL (with QDRANT_API_KEY and the cluster settings) selects a server.
    Values are Dagster EnvVars, so they never appear in the UI or in run config; the variable names
    are `vectorstore.ENV`, the list the CLI and the API read too."""
    if not os.environ.get(ENV["url"]):
        return QdrantResource()
    settings: dict = {field: dg.EnvVar.int(ENV[field]) for field in INT_SETTINGS if os.environ.get(ENV[field])}
    if os.environ.get(ENV["api_key"]):
        settings["api_key"] = dg.EnvVar(ENV["api_key"])
    prefer_grpc = os.environ.get(ENV["prefer_grpc"], "").lower() in ("1", "true", "yes")
    return QdrantResource(url=dg.EnvVar(ENV["url"]), prefer_grpc=prefer_grpc, **settings)


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
        *dg.load_assets_from_modules(
            [library_assets, ml_assets, adaptation_assets, index_assets, taste_assets, user_assets, evaluation_assets]
        ),
        *rebuild_assets,
    ],
    asset_checks=library_checks,
    jobs=[
        scan_library_job,
        index_language_job,
        ingest_uploads_job,
        rebuild_collection_job,
        learn_taste_job,
        ingest_events_job,
        profile_users_job,
        evaluate_job,
        adapt_models_job,
    ],
    sensors=[*library_sensors, *index_sensors, *user_sensors, *taste_sensors, *run_sensors],
    schedules=[*schedules, *taste_schedules],
    resources=resources(),
)
