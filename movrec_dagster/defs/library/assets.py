"""The library side of the graph: uploaded files, their audio, and the language each movie is filed under."""

import dagster as dg
import polars as pl

from movrec_dagster.core.home import read_table, write_table
from movrec_dagster.core.stages import changed_languages, extract_all_audio, route_languages, scan_videos, usable
from movrec_dagster.defs.metadata import bar_chart, frame_markdown, log_failures, report_metadata
from movrec_dagster.defs.partitions import language_partitions
from movrec_dagster.defs.resources import LibraryResource, WhisperResource
from movrec_dagster.defs.settings import LANGUAGE_ROUTING_VERSION


@dg.asset(group_name="library", kinds={"parquet"})
def videos(context: dg.AssetExecutionContext, library: LibraryResource) -> dg.MaterializeResult:
    """Every video under the upload folder: content hash, size, duration, codecs and sidecar metadata."""
    home = library.paths()
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
                frame_markdown(ok.select("movie_id", "title", "year", "duration_s", "video_codec", "audio_codec"))
            ),
            path=dg.MetadataValue.path(str(path)),
        )
    )


@dg.asset(group_name="library", deps=[videos], kinds={"moviepy", "wav"})
def audio(context: dg.AssetExecutionContext, library: LibraryResource) -> dg.MaterializeResult:
    """Each video's audio track as 16 kHz mono WAV, extracted with moviepy once per content hash."""
    home = library.paths()
    frame, report = extract_all_audio(home, read_table(home.table("videos")))
    write_table(frame, home.table("audio"))
    log_failures(context, report)
    return dg.MaterializeResult(
        metadata=report_metadata(
            report,
            tracks=dg.MetadataValue.int(frame["error"].is_null().sum()),
            audio_seconds=dg.MetadataValue.float(float(frame["audio_seconds"].sum() or 0.0)),
        )
    )


@dg.asset(group_name="library", deps=[audio], kinds={"whisper"}, code_version=LANGUAGE_ROUTING_VERSION)
def spoken_languages(
    context: dg.AssetExecutionContext, library: LibraryResource, whisper: WhisperResource
) -> dg.MaterializeResult:
    """The language partition of each movie: its sidecar `language`, else whisper's detection."""
    home = library.paths()
    path = home.table("spoken_languages")
    previous = read_table(path)
    frame, report = route_languages(
        read_table(home.table("videos")),
        read_table(home.table("audio")),
        previous,
        whisper.settings(),
        whisper.min_language_probability,
    )
    write_table(frame, path)
    log_failures(context, report)
    languages = sorted(frame["language"].drop_nulls().unique().to_list())
    new = [lang for lang in languages if not context.instance.has_dynamic_partition(language_partitions.name, lang)]
    if new:
        context.instance.add_dynamic_partitions(language_partitions.name, new)
    counts = frame.filter(pl.col("language").is_not_null()).group_by("language").len().sort("language")
    return dg.MaterializeResult(
        metadata=report_metadata(
            report,
            languages=dg.MetadataValue.json(dict(zip(counts["language"], counts["len"]))),
            new_partitions=dg.MetadataValue.json(new),
            # read by the sensor that indexes only what changed
            changed_partitions=dg.MetadataValue.json(changed_languages(previous, frame)),
            per_language=dg.MetadataValue.md(bar_chart(dict(zip(counts["language"], counts["len"])))),
        )
    )
