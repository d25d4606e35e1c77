"""What `movrec status` and `movrec doctor` report: the state of a MOVREC_HOME and its health."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .home import MovrecHome, read_table
from .library import find_videos
from .pending import pending_partitions
from .vectorstore import NoServingCollection, VectorStore


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) if path.exists() else 0


def library_state(home: MovrecHome, store: VectorStore, failures: dict[str, str]) -> dict[str, Any]:
    """What is indexed (per language), what failed and why, collection versions, and disk use."""
    movies = read_table(home.table("movies"))
    by_language = dict(movies.group_by("language").len().sort("language").iter_rows()) if movies is not None else {}
    try:
        versions = [v.__dict__ for v in store.versions()]
    except NoServingCollection:
        versions = []
    return {
        "home": str(home.root),
        "serving": store.serving_version(),
        "previous": store.pointer("previous"),
        "versions": versions,
        "movies_by_language": by_language,
        "pending_partitions": pending_partitions(home),
        "failures": failures,
        "disk_bytes": {name: folder_bytes(home.root / name) for name in ("uploads", "data", "qdrant", "dagster")},
    }


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str


def diagnose(
    home: MovrecHome, store: VectorStore, embedder_model: str, model_paths: dict[str, str], failures: dict[str, str]
) -> list[Finding]:
    """Health checks an operator runs first when something looks wrong; each says what to do."""
    from moviepy.config import FFMPEG_BINARY

    findings = []
    try:
        version = subprocess.run([FFMPEG_BINARY, "-version"], capture_output=True, text=True, timeout=30)
        findings.append(Finding("ffmpeg", version.returncode == 0, version.stdout.split("\n")[0][:80]))
    except OSError as exc:
        findings.append(Finding("ffmpeg", False, f"{FFMPEG_BINARY}: {exc}"))
    for name, path in model_paths.items():
        exists = Path(path).exists()
        findings.append(Finding(f"model {name}", exists, path if exists else f"{path} missing: reinstall the package"))
    uploads = find_videos(home.uploads) if home.uploads.exists() else []
    findings.append(Finding("uploads", home.uploads.is_dir(), f"{len(uploads)} media file(s) in {home.uploads}"))
    serving = store.serving_version()
    if serving is None:
        findings.append(Finding("collection", False, "nothing is serving yet: run `movrec ingest`"))
    else:
        info = next((v for v in store.versions() if v.name == serving), None)
        same_model = info is not None and info.model == embedder_model
        detail = f"{serving}: {info.points if info else 0} points, model {info.model if info else '?'}"
        if not same_model:
            detail += f" (configured: {embedder_model}; run `movrec rebuild`)"
        findings.append(Finding("collection", bool(info and info.points and same_model), detail))
    pending = pending_partitions(home)
    findings.append(
        Finding(
            "pending partitions", not pending, f"{pending}: run `movrec ingest` to finish them" if pending else "none"
        )
    )
    findings.append(
        Finding("failed files", not failures, f"{len(failures)}: see `movrec status`" if failures else "none")
    )
    free = shutil.disk_usage(home.root).free
    findings.append(Finding("disk", free > 1 << 30, f"{free / (1 << 30):.1f} GiB free under {home.root}"))
    return findings
