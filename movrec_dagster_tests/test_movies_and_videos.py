"""One film, six clips, a catalogue that arrives later, ratings by TMDB id: the movie/video model
through the real jobs, real whisper and embedder, and the embedded store."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from movrec_dagster.core.collaborative import load_neighbours
from movrec_dagster.core.details import movie_details
from movrec_dagster.core.embedding import Embedder
from movrec_dagster.core.home import MovrecHome, read_table
from movrec_dagster.core.recommend import recommend
from movrec_dagster.core.search import find_movie, search
from movrec_dagster.core.vectorstore import EdgeStore, PayloadFilter
from movrec_dagster.runner import add_catalogue, run_pipeline

from .conftest import SHARED_DATA, add_tmdb_ratings

TMDB = SHARED_DATA / "tmdb_top10k" / "top10K-TMDB-movies.csv"
CLIPS = 6


def _clip(source: Path, target: Path, n: int) -> None:
    """The same speech under new bytes (a remux with its own tag): a distinct clip of the same film."""
    from moviepy.config import FFMPEG_BINARY

    command = [FFMPEG_BINARY, "-y", "-nostdin", "-loglevel", "error", "-i", str(source), "-c", "copy"]
    subprocess.run([*command, "-metadata", f"comment=clip {n}", str(target)], check=True, timeout=120)


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory, demo_library: Path, embedder: Embedder) -> dict:
    """Six clips with `{title, year}` sidecars indexed alone, then again once the catalogue arrives."""
    home = MovrecHome(tmp_path_factory.mktemp("film")).ensure()
    for n in range(CLIPS):
        _clip(demo_library / "the-martian.mp4", home.uploads / f"martian-clip{n}.mp4", n)
        sidecar = {"title": "The Martian", "year": 2015, "kind": "trailer" if n == 0 else "clip"}
        (home.uploads / f"martian-clip{n}.json").write_text(json.dumps(sidecar))
    with dg.instance_for_test() as instance:
        first = run_pipeline(home, instance)
        assert all(first.runs.values()), first.runs
        store = EdgeStore(home.qdrant)
        before = {
            "movies": read_table(home.table("movies")),
            "hits": search(store, embedder, "he grows potatoes", 5),
        }
        tmdb = pl.read_csv(TMDB)
        source = tmp_path_factory.mktemp("catalogue")
        pl.concat([tmdb.head(30), tmdb.filter(pl.col("id").is_in([286217, 597]))]).unique("id").write_csv(
            source / "tmdb.csv"
        )
        add_catalogue(source / "tmdb.csv", home)
        # ratings name The Martian by its TMDB id: everyone who watched it also watched Titanic
        rows = [(u, m, 4.5, i) for u in range(1, 7) for i, m in enumerate((286217, 597))]
        add_tmdb_ratings(home, tmp_path_factory.mktemp("ratings"), rows)
        second = run_pipeline(home, instance)
        assert all(second.runs.values()), second.runs
    return {"home": home, "before": before}


def test_six_clips_are_one_movie_found_once(film: dict) -> None:
    movies = film["before"]["movies"]
    assert len(movies) == 1 and len(movies["video_ids"][0]) == CLIPS
    assert movies["movie_id"][0] == "martian-clip0"  # no catalogue yet: the first video's id
    hits = film["before"]["hits"]
    assert [h.movie_id for h in hits] == ["martian-clip0"]  # six clips say it: one hit
    assert hits[0].matched_kind == "transcript" and hits[0].video_id.startswith("martian-clip")


def test_the_catalogue_arriving_later_gives_the_catalogue_id_and_the_old_one_resolves(
    film: dict, embedder: Embedder
) -> None:
    home: MovrecHome = film["home"]
    store = EdgeStore(home.qdrant)
    movies = read_table(home.table("movies"))
    martian = movies.filter(pl.col("movie_id") == "tmdb-286217").row(0, named=True)
    assert martian["source"] == "video+catalogue" and len(martian["video_ids"]) == CLIPS
    assert len(movies) == 32  # the 32 catalogue rows; the six clips added no movie
    assert find_movie(store, "martian-clip0") == "tmdb-286217"  # the id served before still works
    transcript = store.count(PayloadFilter(movie_ids=("tmdb-286217",), kinds=("transcript",)))
    assert transcript >= CLIPS  # every clip's lines belong to the one movie
    assert store.count(PayloadFilter(movie_ids=("martian-clip0",))) == 0  # nothing left under the old id
    hits = search(store, embedder, "he grows potatoes in the habitat", top_k=5)
    assert [h.movie_id for h in hits].count("tmdb-286217") == 1 and hits[0].movie_id == "tmdb-286217"
    title = search(store, embedder, "The Martian", top_k=3)
    assert title[0].movie_id == "tmdb-286217" and title[0].matched_kind == "title"
    details = movie_details(store, home, "martian-clip0")
    assert details["movie_id"] == "tmdb-286217" and details["requested_id"] == "martian-clip0"
    assert sorted(v["kind"] for v in details["videos"]) == ["clip"] * (CLIPS - 1) + ["trailer"]
    assert all(v["segments"] for v in details["videos"])


def test_ratings_by_tmdb_id_blend_after_the_videos_attach(film: dict) -> None:
    home: MovrecHome = film["home"]
    neighbours = load_neighbours(home.table("item_neighbours"))
    assert neighbours is not None and dict(neighbours.neighbours["tmdb-286217"])["tmdb-597"] > 0
    recs = recommend(
        EdgeStore(home.qdrant), ["martian-clip0"], top_k=3, neighbours=neighbours, collaborative_weight=0.8
    )
    assert recs[0].hit.movie_id == "tmdb-597" and recs[0].because_of == "tmdb-286217"


def test_the_api_answers_for_an_alias_with_the_canonical_id(film: dict) -> None:
    from fastapi.testclient import TestClient

    from movrec_dagster.api import create_app

    home: MovrecHome = film["home"]
    client = TestClient(create_app(home, EdgeStore(home.qdrant)))
    details = client.get("/movies/martian-clip0").json()
    assert (details["movie_id"], details["requested_id"]) == ("tmdb-286217", "martian-clip0")
    assert len(details["videos"]) == CLIPS and "martian-clip0" in details["aliases"]
    assert details["videos"][0]["segments"][0]["text"]
    similar = client.get("/movies/martian-clip0/similar", params={"top_k": 3})
    assert similar.status_code == 200 and similar.headers["x-movrec-movie-id"] == "tmdb-286217"
    recs = client.post("/recommend", json={"liked": ["martian-clip0"], "top_k": 3})
    assert recs.status_code == 200 and json.loads(recs.headers["x-movrec-resolved"]) == {"martian-clip0": "tmdb-286217"}
    assert "tmdb-286217" not in [r["movie_id"] for r in recs.json()["results"]]  # the liked movie, by alias, excluded


def test_a_clip_whose_sidecar_moves_it_to_another_movie_takes_its_points_along(film: dict) -> None:
    """Runs last: it changes the library the tests above read."""
    home: MovrecHome = film["home"]
    sidecar = home.uploads / f"martian-clip{CLIPS - 1}.json"
    sidecar.write_text(json.dumps(json.loads(sidecar.read_text()) | {"movie_id": "martian-fan-edit"}))
    with dg.instance_for_test() as instance:
        result = run_pipeline(home, instance)
    assert all(result.runs.values()), result.runs
    store = EdgeStore(home.qdrant)
    moved = f"martian-clip{CLIPS - 1}"
    lines = store.scroll(PayloadFilter(kinds=("transcript",)))
    assert {p.payload["movie_id"] for p in lines if p.payload["video_id"] == moved} == {"martian-fan-edit"}
    assert len({p.payload["video_id"] for p in lines if p.payload["movie_id"] == "tmdb-286217"}) == CLIPS - 1
    assert len({p.id for p in lines}) == len(lines)  # nothing left behind twice
