"""Upgrade in place: a MOVREC_HOME built by the previous release (one movie per video, ids from
sidecars) is taken over by this one without extracting audio or embedding any text again whose
content did not change; old ids keep resolving. Real models, real Dagster, real store. (This release
transcribes with other settings, measured better in BENCHMARKS.md, so each video is heard once again.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from movrec_dagster.core import embedding
from movrec_dagster.core.home import MovrecHome, read_table
from movrec_dagster.core.search import find_movie
from movrec_dagster.core.stages import audio, languages, transcripts
from movrec_dagster.core.vectorstore import EdgeStore, PayloadFilter
from movrec_dagster.runner import run_pipeline

from .conftest import SHARED_DATA

# the last commit of the one-movie-per-video release
PREVIOUS_RELEASE = "c2dcce4375bc6cdfc8257a48b109fa717ebaa958"
REPO = Path(__file__).resolve().parents[1]
TMDB = SHARED_DATA / "tmdb_top10k" / "top10K-TMDB-movies.csv"


def _previous_release(target: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(REPO), "archive", PREVIOUS_RELEASE], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


@pytest.fixture(scope="module")
def old_home(tmp_path_factory: pytest.TempPathFactory, demo_library: Path) -> MovrecHome:
    """Two videos and 12 catalogue movies ingested by the previous release's own `movrec ingest`."""
    code = _previous_release(tmp_path_factory.mktemp("previous_release"))
    home = MovrecHome(tmp_path_factory.mktemp("old_home"))
    source = tmp_path_factory.mktemp("source")
    for name in ("the-martian", "coco"):
        shutil.copy2(demo_library / f"{name}.mp4", source / f"{name}.mp4")
        sidecar = json.loads((demo_library / f"{name}.json").read_text())
        sidecar.pop("kind", None)  # the previous release knew no kinds
        (source / f"{name}.json").write_text(json.dumps(sidecar))
    tmdb = pl.read_csv(TMDB)
    pl.concat([tmdb.head(10), tmdb.filter(pl.col("id").is_in([286217, 354912]))]).write_csv(source / "tmdb.csv")
    env = os.environ | {"PYTHONPATH": str(code), "DAGSTER_HOME": str(home.root / "dagster")}
    command = [sys.executable, "-m", "movrec_dagster.cli", "--home", str(home.root), "ingest", str(source)]
    command += ["--catalogue", str(source / "tmdb.csv")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=code, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "movie_id" in read_table(home.table("videos")).columns  # really the old layout
    return home


def test_upgrade_reuses_everything_unchanged_and_old_ids_resolve(
    old_home: MovrecHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: dict[str, list] = {"transcribe": [], "detect": [], "encode": [], "extract": []}
    real_transcribe, real_detect = transcripts.transcribe, languages.detect_language
    real_encode, real_extract = embedding.Embedder.encode, audio.extract_audio

    def extract(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls["extract"].append(args[0])
        return real_extract(*args, **kwargs)

    def transcribe(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls["transcribe"].append(args[0])
        return real_transcribe(*args, **kwargs)

    def detect(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls["detect"].append(args[0])
        return real_detect(*args, **kwargs)

    def encode(self, texts, kind="passage"):  # noqa: ANN001, ANN202
        if kind == "passage":
            calls["encode"] += texts
        return real_encode(self, texts, kind)

    monkeypatch.setattr(transcripts, "transcribe", transcribe)
    monkeypatch.setattr(languages, "detect_language", detect)
    monkeypatch.setattr(embedding.Embedder, "encode", encode)
    monkeypatch.setattr(audio, "extract_audio", extract)
    before = EdgeStore(old_home.qdrant).count(PayloadFilter(kinds=("overview",)))
    embedded_before = {
        text for path in (old_home.data / "embeddings").glob("*.parquet") for text in read_table(path)["text"]
    }
    with dg.instance_for_test() as instance:
        result = run_pipeline(old_home, instance)
    assert all(result.runs.values()), result.runs
    assert calls["extract"] == []  # every WAV is reused
    # each video heard once again, with this release's settings
    assert len(calls["transcribe"]) == len(set(calls["transcribe"])) == 2
    assert len(calls["detect"]) <= 2
    # embedded: only texts no earlier table held (a movie's document now begins with its title);
    # a text embedded before (a transcript line heard the same way again) is never encoded again
    assert calls["encode"], "documents are new texts"
    assert not set(calls["encode"]) & embedded_before, set(calls["encode"]) & embedded_before
    store = EdgeStore(old_home.qdrant)
    assert store.count(PayloadFilter(kinds=("overview",))) == before  # nothing lost, nothing doubled
    assert find_movie(store, "the-martian") == "tmdb-286217"  # the id the old release served
    assert find_movie(store, "coco") == "tmdb-354912"
    movies = read_table(old_home.table("movies"))
    assert movies.filter(pl.col("movie_id") == "tmdb-286217")["video_ids"].to_list() == [["the-martian"]]
    assert (old_home.data / "FORMAT").read_text() == "2"
