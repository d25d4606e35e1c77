"""The library side of the graph: uploaded files, their audio, the language each is filed under, the catalogue."""

import dagster as dg
import polars as pl

from movrec_dagster.core.catalogue import read_catalogues
from movrec_dagster.core.entities import MOVIE_SCHEMA, MOVIE_VIDEO_SCHEMA, catalogue_languages, resolve_movies
from movrec_dagster.core.home import MovrecHome, read_table, write_table
from movrec_dagster.core.indexing import changed_partitions
from movrec_dagster.core.pending import mark_pending
from movrec_dagster.core.stages import StageReport, extract_all_audio, route_languages, scan_videos, usable
from movrec_dagster.core.tables import conform
from movrec_dagster.core.upgrade import previous_links, upgrade_home
from movrec_dagster.defs.metadata import bar_chart, frame_markdown, log_failures, report_metadata, thumbnail_markdown
from movrec_dagster.defs.partitions import language_partitions
from movrec_dagster.defs.resources import EmbedderResource, LibraryResource, WhisperResource
from movrec_dagster.defs.settings import LANGUAGE_ROUTING_VERSION, WHISPER_POOL

# Set on fast-path runs (scan + one language partition): the partition the upload sensor expected.
SPECULATIVE_TAG = "movrec/expected_language"


@dg.asset(group_name="library", kinds={"parquet"})
def videos(
    context: dg.AssetExecutionContext, library: LibraryResource, embedder: EmbedderResource
) -> dg.MaterializeResult:
    """Every video under the upload folder: its id, kind, content hash, size, duration, codecs and sidecar."""
    home = library.paths()
    upgraded = upgrade_home(home, embedder.settings().fingerprint)  # a home written by an older release
    if upgraded:
        context.log.info(f"upgraded MOVREC_HOME in place: {upgraded}")
    path = home.table("videos")
    frame, report = scan_videos(home, read_table(path))
    write_table(frame, path)
    log_failures(context, report)
    ok = usable(frame)
    return dg.MaterializeResult(
        metadata=report_metadata(
            report,
            videos=dg.MetadataValue.int(len(ok)),
            total_duration_s=dg.MetadataValue.float(float(ok["duration_s"].sum() or 0.0)),
            total_bytes=dg.MetadataValue.int(int(ok["size_bytes"].sum() or 0)),
            preview=dg.MetadataValue.md(
                frame_markdown(ok.select("video_id", "kind", "title", "year", "duration_s", "video_codec"))
            ),
            path=dg.MetadataValue.path(str(path)),
        )
    )


@dg.asset(group_name="library", deps=[videos], kinds={"moviepy", "wav"})
def audio(context: dg.AssetExecutionContext, library: LibraryResource) -> dg.MaterializeResult:
    """Each video's audio track as 16 kHz mono WAV, extracted with moviepy once per content hash,
    and a representative frame of each video beside it."""
    home = library.paths()
    frame, report = extract_all_audio(home, read_table(home.table("videos")))
    write_table(frame, home.table("audio"))
    log_failures(context, report)
    pictures = frame.filter(pl.col("thumbnail_path").is_not_null()).sort("file_name")
    return dg.MaterializeResult(
        metadata=report_metadata(
            report,
            tracks=dg.MetadataValue.int(frame["error"].is_null().sum()),
            audio_seconds=dg.MetadataValue.float(float(frame["audio_seconds"].sum() or 0.0)),
            thumbnails=dg.MetadataValue.int(len(pictures)),
            sample=thumbnail_markdown(pictures.head(3)),
        )
    )


@dg.asset(
    group_name="library",
    deps=[audio, dg.AssetKey("catalogue")],  # a movie's catalogue language, when whisper is unsure
    kinds={"whisper"},
    code_version=LANGUAGE_ROUTING_VERSION,
    pool=WHISPER_POOL,
)
def spoken_languages(
    context: dg.AssetExecutionContext, library: LibraryResource, whisper: WhisperResource
) -> dg.MaterializeResult:
    """The language partition of each movie: its sidecar `language`, else whisper's detection, else
    (whisper unsure) its catalogue language or the library's majority."""
    home = library.paths()
    path = home.table("spoken_languages")
    previous = read_table(path)
    frame, report = route_languages(
        read_table(home.table("videos")),
        read_table(home.table("audio")),
        previous,
        whisper.settings(),
        whisper.min_language_probability,
        cache=home.detections,
        catalogue=catalogue_languages(read_table(home.table("videos")), read_table(home.table("catalogue"))),
        short_min_probability=whisper.short_clip_min_language_probability,
    )
    write_table(frame, path)
    log_failures(context, report)
    counts = frame.filter(pl.col("language").is_not_null()).group_by("language").len().sort("language")
    return dg.MaterializeResult(
        metadata=report_metadata(
            report,
            languages=dg.MetadataValue.json(dict(zip(counts["language"], counts["len"]))),
            per_language=dg.MetadataValue.md(bar_chart(dict(zip(counts["language"], counts["len"])))),
        )
    )


@dg.asset(group_name="catalogue", kinds={"parquet"})
def catalogue(context: dg.AssetExecutionContext, library: LibraryResource) -> dg.MaterializeResult:
    """Movies known from metadata files in MOVREC_HOME/catalogue (CSV/Parquet in the TMDB top-10k shape)."""
    home = library.paths()
    frame, failures = read_catalogues(home.catalogue)
    write_table(frame, home.table("catalogue"))
    report = StageReport(processed=len(frame), failures=dict(failures))
    log_failures(context, report)
    counts = frame.group_by("language").len().sort("len", descending=True).head(12)
    return dg.MaterializeResult(
        metadata=report_metadata(
            report,
            movies=dg.MetadataValue.int(len(frame)),
            files=dg.MetadataValue.json(sorted(frame["source_file"].unique().to_list())),
            per_language=dg.MetadataValue.md(bar_chart(dict(zip(counts["language"], counts["len"])))),
            preview=dg.MetadataValue.md(frame_markdown(frame.select("movie_id", "title", "year", "language"), 10)),
        )
    )


@dg.asset(group_name="catalogue", deps=[videos, spoken_languages, catalogue], kinds={"parquet"})
def movies(context: dg.AssetExecutionContext, library: LibraryResource) -> dg.MaterializeResult:
    """One row per movie and its language partition: every video attached to its movie (the catalogue
    row by sidecar `tmdb_id`/`imdb_id`/`movie_id`, else title and year), every catalogue movie without a
    video, and the aliases that keep earlier ids resolving."""
    home = library.paths()
    path = home.table("movies")
    previous = conform(read_table(path), MOVIE_SCHEMA)
    routes = read_table(home.table("spoken_languages"))
    resolution = resolve_movies(
        read_table(home.table("videos")),
        dict(routes.drop_nulls("language").select("video_id", "language").iter_rows()) if routes is not None else {},
        read_table(home.table("catalogue")),
        previous_links(home),
        read_table(home.table("aliases")),
    )
    frame = resolution.movies
    changed = changed_partitions(previous, frame)
    mark_pending(home, changed)  # before the tables: a crash in between must not lose the change
    write_table(resolution.videos, home.table("movie_videos"))
    write_table(resolution.aliases, home.table("aliases"))
    write_table(frame, path)
    for subject, note in sorted(resolution.notes.items()):
        context.log.warning(f"{subject}: {note}")
    languages = sorted(frame["language"].unique().to_list())
    new = [lang for lang in languages if not context.instance.has_dynamic_partition(language_partitions.name, lang)]
    if new:
        context.instance.add_dynamic_partitions(language_partitions.name, new)
    counts = frame.group_by("language").len().sort("language")
    sources = frame.group_by("source").len().sort("source")
    kinds = resolution.videos.group_by("kind").len().sort("kind")
    multi = frame.filter(pl.col("video_ids").list.len() > 1)
    return dg.MaterializeResult(
        metadata={
            "movies": dg.MetadataValue.int(len(frame)),
            "videos": dg.MetadataValue.int(len(resolution.videos)),
            "movies_with_several_videos": dg.MetadataValue.int(len(multi)),
            "videos_by_kind": dg.MetadataValue.json(dict(zip(kinds["kind"], kinds["len"]))),
            "aliases": dg.MetadataValue.int(len(resolution.aliases)),
            "notes": dg.MetadataValue.md(
                frame_markdown(pl.DataFrame(sorted(resolution.notes.items()), schema=["subject", "note"], orient="row"))
            ),
            "by_source": dg.MetadataValue.json(dict(zip(sources["source"], sources["len"]))),
            "new_partitions": dg.MetadataValue.json(new),
            "changed_partitions": dg.MetadataValue.json(changed),
            "per_language": dg.MetadataValue.md(bar_chart(dict(zip(counts["language"], counts["len"])))),
        }
    )


def partition_movies(home: MovrecHome, language: str) -> pl.DataFrame:
    """The movies filed under one language partition (empty before the first scan)."""
    frame = conform(read_table(home.table("movies")), MOVIE_SCHEMA)
    return frame.filter(pl.col("language") == language) if frame is not None else pl.DataFrame(schema=MOVIE_SCHEMA)


def partition_videos(home: MovrecHome, language: str) -> pl.DataFrame:
    """The videos of the movies filed under one language partition."""
    links = read_table(home.table("movie_videos"))
    if links is None:
        return pl.DataFrame(schema=MOVIE_VIDEO_SCHEMA)
    members = partition_movies(home, language)["movie_id"].implode()
    return links.filter(pl.col("movie_id").is_in(members))


def video_kinds(home: MovrecHome) -> dict[str, str]:
    links = read_table(home.table("movie_videos"))
    return dict(links.select("video_id", "kind").iter_rows()) if links is not None else {}
