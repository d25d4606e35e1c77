"""Each stage against the plain library doing the same work, in the same run (ratios hold on a noisy machine).

  audio       movrec's `extract_all_audio` (moviepy) vs one `ffmpeg -i X -vn -ac 1 -ar 16000` per file
  transcribe  movrec's `transcribe_partition` vs `WhisperModel.transcribe` with the same model and settings;
              plus faster-whisper's `BatchedInferencePipeline` and VAD off, for comparison
  embed       movrec's `embed_partition` vs `SentenceTransformer.encode` on the same texts and batch size
  index       `EdgeStore.upsert` vs the bare engine (`EdgeShard.update`, same batches) and vs qdrant-client

ratio = plain time / movrec time (1.0 = as fast as the library, above 1 = faster).
Usage: python bench/stages.py [--repeats 3] [--device cpu|cuda] [--copies 1] [--smoke] [--only audio,embed]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np
import polars as pl

from movrec_dagster.core.embedding import Embedder, EmbedderSettings
from movrec_dagster.core.entities import resolve_movies, routes_of
from movrec_dagster.core.home import MovrecHome
from movrec_dagster.core.speech import WhisperSettings, load_whisper, resolve_device
from movrec_dagster.core.stages import embed_partition, extract_all_audio, route_languages, scan_videos, segments_of
from movrec_dagster.core.stages import transcribe_partition as movrec_transcribe
from movrec_dagster.core.vectorstore import EdgeStore, VectorPoint, point_id


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def compare(name: str, movrec: Callable[[], object], plain: Callable[[], object], repeats: int) -> dict:
    """Alternate the two (movrec first, then plain) `repeats` times; medians and min-max of both."""
    ours, theirs = [], []
    for _ in range(repeats):
        ours.append(timed(movrec))
        theirs.append(timed(plain))
    ratios = [t / o for o, t in zip(ours, theirs)]
    row = {
        "figure": name,
        "movrec_s": statistics.median(ours),
        "plain_s": statistics.median(theirs),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }
    print(json.dumps(row), flush=True)
    return row


def library(root: Path, names: list[str], copies: int, smoke: bool) -> MovrecHome:
    """The named demo clips (or one, in smoke mode), `copies` times over under fresh ids."""
    home = MovrecHome(root).ensure()
    demo = Path(str(resources.files("movrec_dagster.demo").joinpath("library")))
    clips = [demo / f"{name}.mp4" for name in names][: 1 if smoke else None]
    for n in range(copies):
        for clip in clips:
            movie = f"{clip.stem}-{n}"
            shutil.copy2(clip, home.uploads / f"{movie}.mp4")
            sidecar = json.loads(clip.with_suffix(".json").read_text()) | {"id": movie}
            if n:  # different bytes, so the copies are different videos, not duplicates
                sidecar["title"] += f" ({n})"
            (home.uploads / f"{movie}.json").write_text(json.dumps(sidecar))
    return home


def bench_audio(home: MovrecHome, repeats: int) -> dict:
    from imageio_ffmpeg import get_ffmpeg_exe

    videos, _ = scan_videos(home, None)
    ffmpeg = get_ffmpeg_exe()
    out = Path(tempfile.mkdtemp())

    def movrec() -> None:
        shutil.rmtree(home.data / "audio", ignore_errors=True)
        extract_all_audio(home, videos)

    def plain() -> None:
        for path in videos["path"]:
            cmd = [ffmpeg, "-y", "-loglevel", "error", "-i", path, "-vn", "-ac", "1", "-ar", "16000"]
            subprocess.run([*cmd, str(out / (Path(path).stem + ".wav"))], check=True)

    return compare("audio extraction (moviepy stage vs ffmpeg CLI)", movrec, plain, repeats)


def prepared_videos(home: MovrecHome) -> pl.DataFrame:
    return scan_videos(home, None)[0]


def prepared(home: MovrecHome, whisper: WhisperSettings) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    videos, _ = scan_videos(home, None)
    audio, _ = extract_all_audio(home, videos)
    routes, _ = route_languages(videos, audio, None, whisper, 0.2)
    return videos, audio, routes


def bench_transcribe(home: MovrecHome, whisper: WhisperSettings, repeats: int, variants: bool = True) -> list[dict]:
    from faster_whisper import BatchedInferencePipeline, decode_audio

    _, audio, routes = prepared(home, whisper)
    model = load_whisper(whisper)  # loaded once for both sides: the comparison is of the work, not loading
    jobs = [
        (path, lang)
        for video, lang in routes.select("video_id", "language").iter_rows()
        for path in audio.filter(pl.col("video_id") == video)["audio_path"]
    ]
    seconds = float(audio["audio_seconds"].sum())
    links = resolve_movies(prepared_videos(home), routes_of(routes), None).videos

    def movrec() -> None:
        for language in links["language"].unique():
            movrec_transcribe(links.filter(pl.col("language") == language), audio, {}, whisper)

    def plain(vad: bool = whisper.vad_filter, batched: bool = whisper.batch_size > 1) -> Callable[[], None]:
        runner = BatchedInferencePipeline(model) if batched else model

        def run() -> None:
            for path, lang in jobs:
                kwargs = {"batch_size": whisper.batch_size} if batched else {"condition_on_previous_text": False}
                segments, _ = runner.transcribe(
                    decode_audio(path, sampling_rate=16_000),
                    language=lang,
                    beam_size=whisper.beam_size,
                    vad_filter=vad,
                    **kwargs,
                )
                list(segments)

        return run

    device, compute = resolve_device(whisper.device, whisper.compute_type)
    label = f"{seconds:.0f} s of audio, {device} {compute}, batch {whisper.batch_size}"
    rows = [compare(f"transcription ({label}) vs the same faster-whisper call", movrec, plain(), repeats)]
    if variants:  # what the settings buy: sequential decoding, and VAD off
        rows.append(
            compare(
                "transcription: sequential WhisperModel.transcribe (vs movrec)", movrec, plain(batched=False), repeats
            )
        )
        rows.append(
            compare("transcription: sequential, VAD off (vs movrec)", movrec, plain(vad=False, batched=False), repeats)
        )
    return rows


def bench_embed(home: MovrecHome, whisper: WhisperSettings, embedder: Embedder, repeats: int, smoke: bool) -> dict:
    from movrec_dagster.core.catalogue import read_catalogue

    videos, audio, routes = prepared(home, whisper)
    demo = resources.files("movrec_dagster.demo").joinpath("catalogue.csv")
    with resources.as_file(demo) as path:  # plus the demo catalogue's overviews: a few hundred texts
        catalogue = read_catalogue(path)[0]
    catalogue = catalogue.head(20) if smoke else catalogue
    resolution = resolve_movies(videos, routes_of(routes), catalogue)
    movies, links = resolution.movies, resolution.videos
    languages = movies["language"].unique().to_list()
    frames = {
        lang: movrec_transcribe(
            links.filter(pl.col("movie_id").is_in(movies.filter(pl.col("language") == lang)["movie_id"].implode())),
            audio,
            {},
            whisper,
        )[0]
        for lang in languages
    }
    texts: list[str] = []
    for lang, frame in frames.items():
        for row in frame.iter_rows(named=True):
            texts += [c.text for c in embedder.chunk_segments(segments_of(row))]
        overviews = movies.filter(pl.col("language") == lang)["overview"].drop_nulls().to_list()
        texts += [piece for split in embedder.split_texts(overviews) for piece in split]
    model = embedder.model

    def movrec() -> None:
        for lang, frame in frames.items():
            embed_partition(movies.filter(pl.col("language") == lang), frame, None, embedder)

    def plain() -> None:
        model.encode(texts, prompt="passage: ", batch_size=embedder.settings.batch_size, normalize_embeddings=True)

    device = str(model.device)
    return compare(f"embedding ({len(texts)} texts, {device}) vs SentenceTransformer.encode", movrec, plain, repeats)


def bench_index(root: Path, points: int, repeats: int) -> list[dict]:
    from qdrant_client import QdrantClient, models
    from qdrant_edge import EdgeShard, Point, UpdateOperation

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((points, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    payloads = [
        {"movie_id": f"m{i // 4}", "language": ["en", "es", "fr", "de"][i % 4], "kind": "transcript"}
        for i in range(points)
    ]
    ids = [point_id(p["movie_id"], "transcript", i) for i, p in enumerate(payloads)]
    store = EdgeStore(root / "edge")
    version = store.create_version("bench", 384, "bench").name
    ours = [VectorPoint(i, v, p) for i, v, p in zip(ids, vectors, payloads)]

    def movrec() -> None:
        store.upsert(ours, version=version)

    def bare_edge() -> None:
        shard = EdgeShard.load(str(root / "edge" / "collections" / version / "shard"))
        for start in range(0, points, 512):
            batch = range(start, min(start + 512, points))
            shard.update(
                UpdateOperation.upsert_points([Point(ids[i], {"": vectors[i].tolist()}, payloads[i]) for i in batch])
            )
        shard.flush()
        shard.close()

    client = QdrantClient(path=str(root / "client"))
    client.create_collection("bench", vectors_config=models.VectorParams(size=384, distance=models.Distance.COSINE))

    def bare_client() -> None:
        for start in range(0, points, 512):
            batch = range(start, min(start + 512, points))
            client.upsert(
                "bench", [models.PointStruct(id=ids[i], vector=vectors[i].tolist(), payload=payloads[i]) for i in batch]
            )

    return [
        compare(f"indexing {points} points: EdgeStore vs bare qdrant-edge", movrec, bare_edge, repeats),
        compare(f"indexing {points} points: EdgeStore vs qdrant-client local mode", movrec, bare_client, repeats),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--copies", type=int, default=1, help="the clips this many times over")
    parser.add_argument("--clips", default="the-martian,coco,amelie,das-boot", help="demo clips (one per language)")
    parser.add_argument("--device", default="auto", help="auto: CUDA when there is a GPU (float16), else CPU")
    parser.add_argument("--only", default="audio,transcribe,embed,index")
    parser.add_argument("--smoke", action="store_true", help="one clip, one repeat: keeps the bench from rotting")
    args = parser.parse_args()
    repeats = 1 if args.smoke else args.repeats
    whisper = WhisperSettings(device=args.device)
    embedder = Embedder(EmbedderSettings(device=args.device))
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        home = library(Path(tmp) / "home", args.clips.split(","), args.copies, args.smoke)
        if "audio" in only:
            bench_audio(home, repeats)
        if "transcribe" in only:
            bench_transcribe(home, whisper, repeats, variants=not args.smoke)
        if "embed" in only:
            bench_embed(home, whisper, embedder, repeats, args.smoke)
        if "index" in only:
            bench_index(Path(tmp), 500 if args.smoke else 20_000, repeats)


if __name__ == "__main__":
    main()
