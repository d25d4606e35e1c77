"""The embedding stage on a GPU: movrec's `Embedder` (device "auto" -> CUDA, float16) vs plain
`SentenceTransformer(...).half().encode` on the same texts and batch size, in the same run.

Made for the lent GPU machine, where at most 64 MiB travel per call: the multilingual-e5-small folder
comes as its encoder weights in float16 plus the tokenizer (prepared here from the converted model),
and the 250k x 384 word-embedding table is filled with seeded random values there. A lookup table's
values do not change how long a forward pass takes, so timings are those of the real model (the
vectors are not meaningful, and nothing here looks at them).
Usage: here, `python bench/gpu_embed.py --prepare .gpu` (needs the converted model and a catalogue: the
overviews of $MOVREC_HOME's `movies` table, or the demo catalogue), with `/.gpu/` in .git/info/exclude;
then on the GPU machine (carry [".gpu"]): `PYTHONPATH=. python3 bench/gpu_embed.py --parts .gpu`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def prepare(parts: Path) -> None:
    """The travelling parts: encoder weights in float16 (no word embeddings), gzipped tokenizer, texts."""
    from importlib import resources

    import polars as pl
    from safetensors.torch import load_file, save_file

    from movrec_dagster.core.home import MovrecHome, read_table
    from movrec_dagster.core.models import embedder_model_path

    source = Path(embedder_model_path("multilingual-e5-small"))
    target = parts / "e5"
    shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("model.safetensors", ".complete"))
    with gzip.open(target / "tokenizer.json.gz", "wb", compresslevel=9) as packed:
        packed.write((target / "tokenizer.json").read_bytes())
    (target / "tokenizer.json").unlink()
    state = load_file(str(source / "model.safetensors"))
    encoder = {k: v.half().contiguous() for k, v in state.items() if "word_embeddings" not in k}
    save_file(encoder, str(target / "encoder.fp16.safetensors"))
    movies = read_table(MovrecHome.resolve().table("movies"))
    if movies is None or movies["overview"].drop_nulls().len() < 100:
        with resources.as_file(resources.files("movrec_dagster.demo").joinpath("catalogue.csv")) as path:
            movies = pl.read_csv(path)
    with gzip.open(parts / "texts.json.gz", "wt") as out:
        json.dump(movies["overview"].drop_nulls().to_list(), out)


def rebuild(parts: Path, target: Path) -> Path:
    import torch
    from safetensors.torch import load_file, save_file

    shutil.copytree(parts / "e5", target, dirs_exist_ok=True)
    with gzip.open(target / "tokenizer.json.gz", "rb") as packed:
        (target / "tokenizer.json").write_bytes(packed.read())
    state = {k: v.float() for k, v in load_file(str(target / "encoder.fp16.safetensors")).items()}
    config = json.loads((target / "config.json").read_text())
    generator = torch.Generator().manual_seed(0)
    shape = (config["vocab_size"], config["hidden_size"])
    state["embeddings.word_embeddings.weight"] = torch.randn(shape, generator=generator) * 0.02
    save_file(state, str(target / "model.safetensors"))
    for name in ("encoder.fp16.safetensors", "tokenizer.json.gz"):
        (target / name).unlink()
    return target


def measure(folder: str, texts: list[str], batch: int, repeats: int) -> dict:
    import torch
    from sentence_transformers import SentenceTransformer

    from movrec_dagster.core.embedding import Embedder, EmbedderSettings

    embedder = Embedder(EmbedderSettings(model=folder, device="auto", batch_size=batch))
    ours = embedder.model  # loaded (and moved to the GPU in float16) before timing
    plain = SentenceTransformer(folder, device="cuda", local_files_only=True).half()
    plain.max_seq_length = ours.max_seq_length

    def movrec() -> None:
        embedder.encode([p for split in embedder.split_texts(texts) for p in split])  # the stage's own chunking

    def bare() -> None:
        plain.encode(texts, prompt="passage: ", batch_size=batch, normalize_embeddings=True)

    movrec()
    bare()  # warm-up: CUDA kernels, allocator
    times: dict[str, list[float]] = {"movrec": [], "plain": []}
    for _ in range(repeats):
        for name, fn in (("movrec", movrec), ("plain", bare)):
            torch.cuda.synchronize()
            started = time.perf_counter()
            fn()
            torch.cuda.synchronize()
            times[name].append(time.perf_counter() - started)
    ratios = [p / m for m, p in zip(times["movrec"], times["plain"])]
    return {
        "figure": f"embedding {len(texts)} overviews, {torch.cuda.get_device_name()} float16, batch {batch}",
        "device_seen_by_movrec": str(ours.device),
        "movrec_s": statistics.median(times["movrec"]),
        "plain_s": statistics.median(times["plain"]),
        "texts_per_s": len(texts) / statistics.median(times["movrec"]),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default=".gpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--prepare", metavar="FOLDER", help="write the parts to carry to the GPU machine")
    args = parser.parse_args()
    if args.prepare:
        prepare(Path(args.prepare))
        return
    parts = Path(args.parts)
    texts = json.loads(gzip.open(parts / "texts.json.gz", "rt").read())
    with tempfile.TemporaryDirectory() as tmp:
        folder = str(rebuild(parts, Path(tmp) / "e5"))
        for batch in (32, 256):
            print(json.dumps(measure(folder, texts, batch, args.repeats)), flush=True)


if __name__ == "__main__":
    main()
