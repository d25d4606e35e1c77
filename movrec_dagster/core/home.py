"""MOVREC_HOME: where uploads, stage outputs and the embedded vector store live."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import polars as pl


def default_home() -> Path:
    return Path(os.environ.get("MOVREC_HOME") or Path.home() / ".movrec").expanduser()


@dataclass(frozen=True)
class MovrecHome:
    root: Path

    @classmethod
    def resolve(cls, root: str | Path | None = None) -> MovrecHome:
        return cls(Path(root).expanduser() if root else default_home())

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    @property
    def catalogue(self) -> Path:
        """Catalogue files (CSV/Parquet, TMDB shape) of movies known before their videos are."""
        return self.root / "catalogue"

    @property
    def ratings(self) -> Path:
        """Ratings files (MovieLens shape, with links.csv) behind the collaborative signal."""
        return self.root / "ratings"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def qdrant(self) -> Path:
        return self.root / "qdrant"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    def table(self, name: str, partition: str | None = None) -> Path:
        """Parquet file of one stage (and one language partition)."""
        return self.data / name / f"{partition}.parquet" if partition else self.data / f"{name}.parquet"

    def audio_file(self, content_hash: str) -> Path:
        return self.data / "audio" / f"{content_hash}.wav"

    def thumbnail_file(self, content_hash: str) -> Path:
        return self.data / "audio" / f"{content_hash}.jpg"

    @property
    def detections(self) -> Path:
        """Whisper's language detections per audio content hash (shared by the upload sensor and the scan)."""
        return self.data / "languages"

    def ensure(self) -> MovrecHome:
        for path in (self.uploads, self.catalogue, self.data, self.qdrant):
            path.mkdir(parents=True, exist_ok=True)
        return self


def write_table(frame: pl.DataFrame, path: Path) -> None:
    """Write Parquet atomically: readers never see a half-written file, a crash leaves the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    frame.write_parquet(partial, compression="zstd")
    partial.replace(path)


def write_text_atomic(path: Path, text: str) -> None:
    """Replace a small text file atomically (temp file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
    partial.write_text(text)
    partial.replace(path)


def read_table(path: Path) -> pl.DataFrame | None:
    return pl.read_parquet(path) if path.exists() else None
