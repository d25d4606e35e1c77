"""Shared fixtures: real models loaded once per session, a real library indexed once through Dagster."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import dagster as dg
import pytest

from movrec_dagster.core.embedding import Embedder, EmbedderSettings
from movrec_dagster.core.home import MovrecHome
from movrec_dagster.runner import IngestResult, run_pipeline

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def demo_library() -> Path:
    return Path(str(resources.files("movrec_dagster.demo").joinpath("library")))


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder(EmbedderSettings())


def make_no_audio_video(target: Path) -> None:
    from moviepy import ColorClip

    ColorClip((64, 64), color=(0, 0, 0), duration=1).write_videofile(
        str(target), fps=5, codec="libx264", audio=False, logger=None
    )


def add_bad_uploads(uploads: Path, demo_library: Path) -> dict[str, str]:
    """The three kinds of bad input in the foundation's scope; returns file name -> expected cause."""
    corrupt = (demo_library / "coco.mp4").read_bytes()[:4000]  # a truncated download
    (uploads / "truncated.mp4").write_bytes(corrupt)
    (uploads / "notes.mp4").write_text("this is a text file with a video extension\n")
    make_no_audio_video(uploads / "silent-film.mp4")
    return {"truncated.mp4": "", "notes.mp4": "", "silent-film.mp4": "no audio track"}


@pytest.fixture(scope="session")
def dagster_instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(temp_dir=str(tmp_path_factory.mktemp("dagster_home"))) as instance:
        yield instance


@pytest.fixture(scope="session")
def indexed(
    tmp_path_factory: pytest.TempPathFactory, demo_library: Path, dagster_instance: dg.DagsterInstance
) -> tuple[MovrecHome, IngestResult, dict[str, str]]:
    """The demo library plus bad uploads and a sidecar-language override, run through the real jobs."""
    home = MovrecHome(tmp_path_factory.mktemp("movrec_home")).ensure()
    for item in demo_library.iterdir():
        shutil.copy2(item, home.uploads / item.name)
    # same speech as finding-nemo, but its sidecar says Italian: the sidecar decides the partition
    shutil.copy2(demo_library / "finding-nemo.mp4", home.uploads / "nemo-doppiato.mp4")
    (home.uploads / "nemo-doppiato.json").write_text(
        json.dumps(
            {
                "id": "alla-ricerca-di-nemo",
                "title": "Alla ricerca di Nemo",
                "year": 2003,
                "genres": ["Animation"],
                "language": "it",
            }
        )
    )
    bad = add_bad_uploads(home.uploads, demo_library)
    result = run_pipeline(home, dagster_instance)
    return home, result, bad


def add_tmdb_ratings(home: MovrecHome, folder: Path, rows: list[tuple[int, int, float, int]]) -> None:
    """(userId, tmdbId, rating, timestamp) rows as a ratings folder, added to the library."""
    import polars as pl

    from movrec_dagster.runner import add_ratings

    frame = pl.DataFrame(rows, schema=["userId", "tmdbId", "rating", "timestamp"], orient="row")
    frame.write_csv(folder / "ratings.csv")
    add_ratings(folder, home)
