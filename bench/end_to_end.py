"""End to end through Dagster vs the plain libraries, and the cost curve. Each side runs in its own process
(peak memory is that process's maximum RSS).

  e2e    the demo library (x --copies) through the real jobs (`run_pipeline`: scan_library, then
         index_language per language, in-process runs) vs the plain-library stages on the same files:
         ffmpeg CLI -> WhisperModel.transcribe (language detection + transcription) -> SentenceTransformer
         .encode -> qdrant-edge upsert. Reported as hours of video per hour and their ratio.
  curve  10, 100, 1000 catalogue movies (text only: TMDB rows) through the real jobs: time and peak memory.

Usage: python bench/end_to_end.py [--copies 2] [--repeats 3] [--sizes 10,100,1000] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from movrec_dagster.core.home import MovrecHome

HERE = Path(__file__).resolve()
TMDB = HERE.parents[2] / "shared" / "data" / "tmdb_top10k" / "top10K-TMDB-movies.csv"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def demo_uploads(uploads: Path, copies: int, smoke: bool) -> float:
    """The demo clips `copies` times over under fresh ids; returns seconds of video.

    Each copy after the first is remuxed with its own metadata tag: the same media, different bytes,
    so movrec's content-hash caches cannot skip work the plain chain has to do."""
    import json as js

    from imageio_ffmpeg import get_ffmpeg_exe

    from movrec_dagster.core.library import probe

    demo = Path(str(resources.files("movrec_dagster.demo").joinpath("library")))
    total = 0.0
    for n in range(copies):
        for clip in sorted(demo.glob("*.mp4"))[: 1 if smoke else None]:
            movie = f"{clip.stem}-{n}"
            if n == 0:
                shutil.copy2(clip, uploads / f"{movie}.mp4")
            else:
                remux = [get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(clip), "-c", "copy"]
                subprocess.run([*remux, "-metadata", f"comment=copy {n}", str(uploads / f"{movie}.mp4")], check=True)
            sidecar = js.loads(clip.with_suffix(".json").read_text()) | {"id": movie, "title": f"{clip.stem} {n}"}
            sidecar.pop("tmdb_id", None)
            (uploads / f"{movie}.json").write_text(js.dumps(sidecar))
            total += probe(clip)["duration_s"]
    return total


def timed_pipeline(home: MovrecHome) -> float:
    """Seconds for the real jobs over `home`, in a fresh Dagster instance beside it.

    The clock starts before Dagster and movrec are imported (both sides pay their imports: torch
    and sentence-transformers alone take several seconds to import on this machine)."""
    started = time.perf_counter()
    import dagster as dg

    from movrec_dagster.runner import run_pipeline

    (home.root / "dagster").mkdir(parents=True, exist_ok=True)
    with dg.instance_for_test(temp_dir=str(home.root / "dagster")) as instance:
        result = run_pipeline(home, instance)
        wall = time.perf_counter() - started
    assert all(result.runs.values()), result.runs
    return wall


def worker_movrec(root: Path, copies: int, smoke: bool) -> dict:

    from movrec_dagster.core.home import MovrecHome

    home = MovrecHome(root).ensure()
    seconds = demo_uploads(home.uploads, copies, smoke)
    wall = timed_pipeline(home)
    return {"video_s": seconds, "wall_s": wall, "peak_mb": peak_mb()}


def worker_plain(root: Path, copies: int, smoke: bool) -> dict:
    uploads = root / "uploads"
    uploads.mkdir(parents=True)
    seconds = demo_uploads(uploads, copies, smoke)
    started = time.perf_counter()  # imports included, as on movrec's side
    from faster_whisper import WhisperModel, decode_audio
    from imageio_ffmpeg import get_ffmpeg_exe
    from qdrant_edge import Distance, EdgeConfig, EdgeShard, EdgeVectorParams, Point, UpdateOperation
    from sentence_transformers import SentenceTransformer

    from movrec_dagster.core.models import embedder_model_path, whisper_model_path

    whisper = WhisperModel(whisper_model_path("base"), device="cpu", compute_type="int8", local_files_only=True)
    encoder = SentenceTransformer(embedder_model_path("multilingual-e5-small"), device="cpu", local_files_only=True)
    encoder.max_seq_length = 256
    texts = []
    for video in sorted(uploads.glob("*.mp4")):
        wav = video.with_suffix(".wav")
        cmd = [get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(video), "-vn", "-ac", "1", "-ar", "16000"]
        subprocess.run([*cmd, str(wav)], check=True)
        audio = decode_audio(str(wav), sampling_rate=16_000)
        language, _, _ = whisper.detect_language(audio, vad_filter=True, language_detection_segments=2)
        segments, _ = whisper.transcribe(audio, language=language, beam_size=5, vad_filter=True)
        texts += [s.text.strip() for s in segments if s.text.strip()]
        texts.append(json.loads(video.with_suffix(".json").read_text())["overview"])
    vectors = encoder.encode(texts, prompt="passage: ", batch_size=32, normalize_embeddings=True)
    config = EdgeConfig(vectors=EdgeVectorParams(size=vectors.shape[1], distance=Distance.Cosine))
    shard = EdgeShard.create(str(root / "shard"), config)
    points = [
        Point(str(uuid.uuid5(uuid.NAMESPACE_URL, str(i))), {"": v.tolist()}, {"n": i}) for i, v in enumerate(vectors)
    ]
    shard.update(UpdateOperation.upsert_points(points))
    shard.flush()
    shard.close()
    return {"video_s": seconds, "wall_s": time.perf_counter() - started, "peak_mb": peak_mb()}


def worker_curve(root: Path, size: int) -> dict:
    import polars as pl

    from movrec_dagster.core.home import MovrecHome

    home = MovrecHome(root).ensure()
    if TMDB.is_file():
        rows = pl.read_csv(TMDB).head(size)
    else:  # no shared data: the packaged demo catalogue, repeated under new ids
        demo = pl.read_csv(Path(str(resources.files("movrec_dagster.demo").joinpath("catalogue.csv"))))
        rows = pl.concat([demo.with_columns(pl.col("id") + 10_000_000 * n) for n in range(size // len(demo) + 1)])
        rows = rows.head(size)
    rows.write_csv(home.catalogue / "catalogue.csv")
    wall = timed_pipeline(home)
    return {"movies": size, "wall_s": wall, "peak_mb": peak_mb()}


def spawn(*args: str) -> dict:
    out = subprocess.run([sys.executable, str(HERE), "--worker", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--only", default="e2e,curve")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, root, *rest = args.worker
        if kind == "curve":
            row = worker_curve(Path(root), int(rest[0]))
        else:
            worker = worker_movrec if kind == "movrec" else worker_plain
            row = worker(Path(root), int(rest[0]), rest[1] == "smoke")
        print(json.dumps(row))
        return
    copies = 1 if args.smoke else args.copies
    with tempfile.TemporaryDirectory() as tmp:
        if "e2e" in args.only:
            mode = "smoke" if args.smoke else "full"
            pairs = []
            for n in range(1 if args.smoke else args.repeats):  # alternated, so drift hits both sides
                ours = spawn("movrec", f"{tmp}/movrec{n}", str(copies), mode)
                pairs.append((ours, spawn("plain", f"{tmp}/plain{n}", str(copies), mode)))
            ratios = sorted(plain["wall_s"] / ours["wall_s"] for ours, plain in pairs)
            ours_s = statistics.median(o["wall_s"] for o, _ in pairs)
            plain_s = statistics.median(p["wall_s"] for _, p in pairs)
            video_s = pairs[0][0]["video_s"]
            row = {
                "figure": f"end to end, {video_s / 60:.1f} min of video, {len(pairs)} run(s)",
                "movrec_video_h_per_h": video_s / ours_s,
                "plain_video_h_per_h": video_s / plain_s,
                "ratio": statistics.median(ratios),
                "ratio_min": ratios[0],
                "ratio_max": ratios[-1],
                "movrec_s": ours_s,
                "plain_s": plain_s,
                "movrec_peak_mb": max(o["peak_mb"] for o, _ in pairs),
                "plain_peak_mb": max(p["peak_mb"] for _, p in pairs),
            }
            print(json.dumps(row), flush=True)
        if "curve" in args.only:
            for size in [10] if args.smoke else [int(s) for s in args.sizes.split(",")]:
                print(
                    json.dumps({"figure": "cost curve"} | spawn("curve", f"{tmp}/curve{size}", str(size))), flush=True
                )


if __name__ == "__main__":
    main()
