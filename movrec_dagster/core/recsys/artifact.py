"""The trained taste model on disk: `data/models/taste/<version>/` (matrices as .npz, arrays as .npy,
facts in model.json) and a `current` file naming the version served. The version is a hash of the
data it saw (its interactions and catalogue) and its settings, so training twice on the same data
is a no-op and a model can always be traced to its data. A new version is written beside the old one
and `current` is replaced atomically: a serving process notices the new file (one stat per request)
and loads it without a restart; two versions are kept.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import polars as pl
from scipy import sparse

from ..home import MovrecHome, write_text_atomic
from .blend import TasteModel

FORMAT = 1
KEEP_VERSIONS = 2


def models_folder(home: MovrecHome) -> Path:
    return home.data / "models" / "taste"


def data_version(frame: pl.DataFrame, items: list[str], settings: dict) -> str:
    """Hash of the interactions (order-independent), the catalogue and the settings."""
    digest = hashlib.sha256(json.dumps({"format": FORMAT, "settings": settings}, sort_keys=True).encode())
    if len(frame):
        rows = frame.select("user_id", "movie_id", pl.col("timestamp").cast(pl.Float64)).hash_rows(seed=7)
        digest.update(np.sort(rows.to_numpy()).tobytes())
    digest.update("\x1f".join(items).encode())
    return digest.hexdigest()[:20]


def save(home: MovrecHome, model: TasteModel, version: str) -> Path:
    """Written into a staging folder, renamed into place, then made current; older versions pruned."""
    root = models_folder(home)
    target = root / version
    if not target.is_dir():
        staging = root / f".{version}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        sparse.save_npz(staging / "ease.npz", model.ease)
        sparse.save_npz(staging / "transitions.npz", model.transitions)
        np.save(staging / "content.npy", model.content)
        np.save(staging / "popularity.npy", model.popularity)
        facts = {
            "format": FORMAT,
            "version": version,
            "items": model.items,
            "weights": model.weights,
            "decay": model.decay,
            "content_decay": model.content_decay,
            "info": model.info,
        }
        (staging / "model.json").write_text(json.dumps(facts))
        staging.rename(target)
    make_current(home, version)
    return target


def make_current(home: MovrecHome, version: str) -> None:
    """Serve `version` (already saved); older versions beyond KEEP_VERSIONS pruned."""
    root = models_folder(home)
    write_text_atomic(root / "current", version)
    for old in sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=_age)[
        :-KEEP_VERSIONS
    ]:
        if old.name != version:
            shutil.rmtree(old, ignore_errors=True)


def _age(path: Path) -> float:
    return path.stat().st_mtime


def current_version(home: MovrecHome) -> str | None:
    path = models_folder(home) / "current"
    return path.read_text().strip() or None if path.is_file() else None


def read(home: MovrecHome, version: str) -> TasteModel:
    folder = models_folder(home) / version
    facts = json.loads((folder / "model.json").read_text())
    return TasteModel(
        items=facts["items"],
        ease=sparse.load_npz(folder / "ease.npz").tocsr(),
        transitions=sparse.load_npz(folder / "transitions.npz").tocsr(),
        content=np.load(folder / "content.npy"),
        popularity=np.load(folder / "popularity.npy"),
        weights=facts["weights"],
        decay=facts["decay"],
        content_decay=facts["content_decay"],
        info=facts["info"] | {"version": version},
    )


_LOADED: dict[str, tuple[str, TasteModel]] = {}
_LOCK = threading.Lock()


def served(home: MovrecHome) -> TasteModel | None:
    """The current model, loaded once per version (a retrain is picked up on the next call)."""
    version = current_version(home)
    if version is None or not (models_folder(home) / version).is_dir():
        return None
    key = str(models_folder(home))
    with _LOCK:
        loaded = _LOADED.get(key)
        if loaded is None or loaded[0] != version:
            loaded = (version, read(home, version))
            _LOADED[key] = loaded
        return loaded[1]
