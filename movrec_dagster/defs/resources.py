"""One resource per external thing: the library on disk, whisper, the embedder, sentiment, Qdrant."""

import os
from dataclasses import replace
from pathlib import Path

import dagster as dg
from pydantic import Field

from movrec_dagster.core.embedding import Embedder, EmbedderSettings
from movrec_dagster.core.home import MovrecHome
from movrec_dagster.core.models import first_model_setting
from movrec_dagster.core.sentiment import SentimentScorer, SentimentSettings, load_scorer
from movrec_dagster.core.speech import WhisperSettings
from movrec_dagster.core.vectorstore import StoreSettings, VectorStore, open_store


class LibraryResource(dg.ConfigurableResource):
    """MOVREC_HOME: uploads, per-stage Parquet tables and the embedded vector store."""

    home: str | None = Field(default=None, description="Defaults to $MOVREC_HOME, else ~/.movrec")

    def paths(self) -> MovrecHome:
        return MovrecHome.resolve(self.home).ensure()


class WhisperResource(dg.ConfigurableResource):
    """faster-whisper; `model` is a packaged name ('base'), a local CTranslate2 folder or a hub id."""

    model: str = "base"
    device: str = Field(default="auto", description="'auto' (CUDA when there is a GPU, else CPU), 'cpu' or 'cuda'")
    compute_type: str = Field(default="auto", description="'auto' (float16 on GPU, int8 on CPU) or a CTranslate2 type")
    cpu_threads: int = 0
    beam_size: int = 5
    vad_filter: bool = True
    batch_size: int = Field(
        default=1,
        description="> 1: batched transcription over VAD chunks (faster, but it drops lines of long dialogue: "
        "BENCHMARKS.md); 1: sequential",
    )
    min_language_probability: float = Field(
        default=0.2,
        description="Below this, whisper's language guess is not trusted: a video without a sidecar language "
        "goes to its catalogue language, else the library's majority, else partition 'und'",
    )
    short_clip_min_language_probability: float = Field(
        default=0.7,
        description="The same for clips under 10 s of audio, where whisper guesses from a few words (chosen "
        "with bench/speech_detection.py: no wrong guess kept on real 1.2 s lines)",
    )
    sensor_listen_s: float = Field(
        default=15.0,
        description="Seconds per upload-sensor tick spent detecting new uploads' language, so that one run "
        "can index them (0: guess from sidecars and history instead)",
    )
    sensor_listen_max_mb: int = Field(
        default=500, description="Larger uploads (full films) are not listened to by the sensor, only guessed"
    )

    def settings(self) -> WhisperSettings:
        return WhisperSettings(
            self.model,
            self.device,
            self.compute_type,
            self.cpu_threads,
            self.beam_size,
            self.vad_filter,
            self.batch_size,
        )


class EmbedderResource(dg.ConfigurableResource):
    """sentence-transformers; default is the packaged multilingual-e5-small (converted offline once)."""

    model: str | None = Field(
        default=None,
        description="the first model (every collection's main dense list); "
        "unset: $MOVREC_MODEL, else 'multilingual-e5-small'",
    )
    device: str = Field(
        default="auto", description="'auto' (CUDA float16 when there is a GPU, else CPU), 'cpu', 'cuda'"
    )
    batch_size: int = 32
    max_seq_length: int = 256
    backend: str | None = Field(
        default=None,
        description="on CPU: 'onnx-int8' (2.6-5x faster, cosine >= 0.99 to torch) or 'torch'; "
        "unset: $MOVREC_EMBED_BACKEND, else 'onnx-int8'",
    )
    second_model: str | None = Field(
        default=None,
        description="second models, comma-separated, whose vectors are more lists in hybrid search; "
        "'none' turns them off; unset: $MOVREC_SECOND_MODEL, else 'all-MiniLM-L6-v2,use-multilingual-v3'",
    )

    def settings(self) -> EmbedderSettings:
        model = self.model or first_model_setting()
        settings = EmbedderSettings(model, self.device, self.batch_size, self.max_seq_length)
        if self.second_model is not None:
            second = self.second_model.strip()
            settings = replace(settings, second_model=None if second.lower() in ("", "none") else second)
        return replace(settings, backend=self.backend) if self.backend else settings

    def embedder(self) -> Embedder:
        return Embedder(self.settings())


class SentimentResource(dg.ConfigurableResource):
    """'vader' (packaged English lexicon, the default) or 'transformers' with a local model folder."""

    backend: str = "vader"
    model_path: str | None = None

    def settings(self) -> SentimentSettings:
        return SentimentSettings(self.backend, self.model_path)

    def scorer(self) -> SentimentScorer:
        return load_scorer(self.settings())


class QdrantResource(dg.ConfigurableResource):
    """Embedded Qdrant (qdrant-edge) under MOVREC_HOME unless `url` points at a Qdrant server."""

    url: str | None = None
    api_key: str | None = None
    alias: str = "movies"
    timeout_s: int = 30
    prefer_grpc: bool = False
    keep_versions: int = Field(default=3, description="Collection versions kept after a swap (older are dropped)")
    shard_number: int | None = Field(default=None, description="Server/cluster: shards per collection version")
    replication_factor: int | None = Field(default=None, description="Server/cluster: copies of each shard")
    write_consistency_factor: int | None = Field(
        default=None, description="Server/cluster: replicas that must confirm a write"
    )

    def store(self, library: MovrecHome, keep_open: bool = False) -> VectorStore:
        """`keep_open`: a long-lived reader (the API) keeps the embedded shard open between queries."""
        settings = StoreSettings(
            url=self.url,
            api_key=self.api_key,
            alias=self.alias,
            timeout_s=self.timeout_s,
            prefer_grpc=self.prefer_grpc,
            shard_number=self.shard_number,
            replication_factor=self.replication_factor,
            write_consistency_factor=self.write_consistency_factor,
        )
        return open_store(library.qdrant, settings, keep_open=keep_open)


class EvaluationResource(dg.ConfigurableResource):
    """Public data for the evaluation assets: a folder with `ml-latest-small/` and `joined/`
    (MovieLens and its TMDB-overview join). Defaults to $MOVREC_EVAL_DATA, else ../shared/data."""

    data: str | None = None
    max_movies: int = Field(default=0, description="Keep the N most-rated movies (0 = all)")
    max_users: int = Field(default=0, description="Evaluate the first N users (0 = all)")
    max_queries: int = Field(default=0, description="Evaluate the first N search queries (0 = all)")

    def folder(self) -> Path:
        folder = Path(self.data or os.environ.get("MOVREC_EVAL_DATA") or Path.cwd().parent / "shared" / "data")
        if not (folder / "ml-latest-small" / "ratings.csv").is_file():
            raise FileNotFoundError(
                f"{folder}: no ml-latest-small/ratings.csv here; set MOVREC_EVAL_DATA to the folder holding "
                "ml-latest-small/ and joined/"
            )
        return folder

    def movielens_path(self) -> Path:
        return self.folder() / "ml-latest-small"

    def catalogue_path(self) -> Path:
        return self.folder() / "joined" / "ml_latest_small_with_tmdb_overview.csv"
