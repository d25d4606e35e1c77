"""Per-language ML stages: transcripts (faster-whisper), sentiment, and sentence embeddings."""

from collections.abc import Iterator

import dagster as dg
import polars as pl

from movrec_dagster.core.home import MovrecHome, read_table, write_table
from movrec_dagster.core.indexing import partitions_to_index
from movrec_dagster.core.stages import embed_partition, score_partition, transcribe_partition
from movrec_dagster.core.stages.embeddings import known_vectors
from movrec_dagster.core.stages.transcripts import clear_checkpoints, known_transcripts
from movrec_dagster.core.upgrade import legacy_vectors_path
from movrec_dagster.defs.library.assets import (
    SPECULATIVE_TAG,
    audio,
    movies,
    partition_movies,
    partition_videos,
    spoken_languages,
)
from movrec_dagster.defs.metadata import frame_markdown, log_failures, report_metadata
from movrec_dagster.defs.partitions import language_partitions
from movrec_dagster.defs.resources import EmbedderResource, LibraryResource, SentimentResource, WhisperResource
from movrec_dagster.defs.settings import EMBEDDING_VERSION, SENTIMENT_VERSION, TRANSCRIPT_VERSION, WHISPER_POOL


@dg.asset(
    group_name="ml",
    partitions_def=language_partitions,
    deps=[spoken_languages, audio],
    kinds={"whisper", "parquet"},
    code_version=TRANSCRIPT_VERSION,
    output_required=False,
    pool=WHISPER_POOL,
)
def transcripts(
    context: dg.AssetExecutionContext, library: LibraryResource, whisper: WhisperResource
) -> Iterator[dg.MaterializeResult]:
    """faster-whisper segments (start, end, text) with VAD, and the detected language and its probability."""
    home = library.paths()
    language = context.partition_key
    if context.run.tags.get(SPECULATIVE_TAG) == language and language not in indexing_needed(context, home):
        # The upload sensor guessed this partition and the scan found it unchanged: materialize
        # nothing here (the downstream steps skip too); the index sensor handles what did change.
        context.log.info(f"partition {language} unchanged by this scan; nothing to index")
        return
    path = home.table("transcripts", language)
    stored = [read_table(table) for table in sorted((home.data / "transcripts").glob("*.parquet"))]
    frame, report = transcribe_partition(
        partition_videos(home, language),
        read_table(home.table("audio")),
        known_transcripts([t for t in stored if t is not None]),
        whisper.settings(),
        checkpoints=home.data / "checkpoints",
        log=context.log.info,
    )
    write_table(frame, path)
    clear_checkpoints(home.data / "checkpoints", frame)  # only now: a run killed earlier resumes from them
    log_failures(context, report)
    ok = frame.filter(pl.col("error").is_null())
    preview = ok.select(
        "video_id",
        "language_probability",
        pl.col("segments").list.eval(pl.element().struct.field("text")).list.join(" ").str.slice(0, 160).alias("text"),
    )
    yield dg.MaterializeResult(
        metadata=report_metadata(
            report,
            movies=dg.MetadataValue.int(len(ok)),
            segments=dg.MetadataValue.int(int(ok["segments"].list.len().sum() or 0)),
            speech_seconds=dg.MetadataValue.float(float(ok["duration_s"].sum() or 0.0)),
            transcript_preview=dg.MetadataValue.md(frame_markdown(preview)),
            model=whisper.settings().fingerprint,
        )
    )


@dg.asset(
    group_name="ml",
    partitions_def=language_partitions,
    deps=[transcripts, movies],
    kinds={"parquet"},
    code_version=SENTIMENT_VERSION,
)
def sentiment(
    context: dg.AssetExecutionContext, library: LibraryResource, sentiment_model: SentimentResource
) -> dg.MaterializeResult:
    """A sentiment score in [-1, 1] per transcript segment and a duration-weighted aggregate per movie
    (the overview's score for a movie known only from the catalogue)."""
    home = library.paths()
    language = context.partition_key
    path = home.table("sentiment", language)
    frame, report = score_partition(
        partition_movies(home, language),
        read_table(home.table("transcripts", language)),
        read_table(path),
        sentiment_model.scorer(),
        sentiment_model.settings().fingerprint,
    )
    write_table(frame, path)
    return dg.MaterializeResult(
        metadata=report_metadata(
            report,
            backend=sentiment_model.settings().fingerprint,
            mean_sentiment=dg.MetadataValue.float(float(frame["sentiment"].mean() or 0.0)),
            by_movie=dg.MetadataValue.md(frame_markdown(frame.select("movie_id", "sentiment").sort("sentiment"))),
        )
    )


@dg.asset(
    group_name="ml",
    partitions_def=language_partitions,
    deps=[transcripts, movies],
    kinds={"pytorch", "parquet"},
    code_version=EMBEDDING_VERSION,
)
def embeddings(
    context: dg.AssetExecutionContext, library: LibraryResource, embedder: EmbedderResource
) -> dg.MaterializeResult:
    """L2-normalised sentence-transformers vectors of transcript chunks, overviews and a per-movie
    profile, by the embedder's model and its second model (`EmbedderSettings.second_model`)."""
    home = library.paths()
    language = context.partition_key
    path = home.table("embeddings", language)
    frame, report = embed_partition(
        partition_movies(home, language),
        read_table(home.table("transcripts", language)),
        read_table(path),
        embedder.embedder(),
        stored_vectors(home),
        log=context.log.info,
    )
    write_table(frame, path)
    kinds = frame.group_by("kind").len().sort("kind")
    return dg.MaterializeResult(
        metadata=report_metadata(
            report,
            encoded_texts=dg.MetadataValue.int(int(report.notes.get("encoded_texts", 0))),
            reused_texts=dg.MetadataValue.int(int(report.notes.get("reused_texts", 0))),
            encoded_texts_second_model=dg.MetadataValue.int(int(report.notes.get("encoded_texts_second", 0))),
            vectors=dg.MetadataValue.int(len(frame)),
            by_kind=dg.MetadataValue.json(dict(zip(kinds["kind"], kinds["len"]))),
            model=embedder.settings().fingerprint,
            second_model=embedder.settings().second_fingerprint or "none",
        )
    )


def indexing_needed(context: dg.AssetExecutionContext, home: MovrecHome) -> list[str]:
    """`partitions_to_index` with Dagster's partition facts."""
    known = set(context.instance.get_dynamic_partitions(language_partitions.name))
    indexed = context.instance.get_materialized_partitions(dg.AssetKey("qdrant_collection"))
    return partitions_to_index(home, known, indexed)


def stored_vectors(home: MovrecHome) -> dict:
    """Every vector already computed, by text: all partitions' tables, a rebuild's, an upgrade's."""
    paths = [
        *sorted((home.data / "embeddings").glob("*.parquet")),
        *sorted((home.data / "candidate_embeddings").glob("*.parquet")),
        legacy_vectors_path(home),
    ]
    return known_vectors([frame for frame in map(read_table, paths) if frame is not None])
