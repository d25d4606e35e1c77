"""Exact titles first, remakes by year and popularity, ids through aliases: the real embedded engine
with fake vectors (no model), so it runs in the fast tier."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from movrec_dagster.core.entities import resolve_movies
from movrec_dagster.core.indexing import build_points, sync_partition
from movrec_dagster.core.search import MovieNotFound, find_movie, resolve_ids, search, search_many, title_matches
from movrec_dagster.core.stages import embed_partition
from movrec_dagster.core.vectorstore import EdgeStore, PayloadFilter

from .fakes import FakeEmbedder, catalogue, video, videos

MOVIES = (
    (438631, "Dune", 2021, "en", 400.0),
    (841, "Dune", 1984, "en", 40.0),
    (238, "The Godfather", 1972, "en", 100.0),
    (240, "The Godfather Part II", 1974, "en", 60.0),
    (335984, "Blade Runner 2049", 2017, "en", 80.0),
    (78, "Blade Runner", 1982, "en", 70.0),
    (194, "Amélie", 2001, "fr", 30.0),
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> EdgeStore:
    clip = videos(video("godfather-clip", sidecar_id="afi-godfather", title="The Godfather", year=1972))
    res = resolve_movies(clip, {"godfather-clip": "en"}, catalogue(*MOVIES))
    embedder = FakeEmbedder()
    store = EdgeStore(tmp_path_factory.mktemp("qdrant"))
    name = store.create_version("movies__fake__1", embedder.dimension, "fake").name
    store.switch(name)
    for language in ("en", "fr"):
        movies = res.movies.filter(res.movies["language"] == language)
        frame, _ = embed_partition(movies, None, None, embedder)
        sync_partition(store, language, build_points(language, frame, movies, None, "fake", res.aliases))
    return store


def _first(store: EdgeStore, query: str) -> str:
    return search(store, FakeEmbedder(), query, top_k=3)[0].movie_id


@pytest.mark.parametrize(
    ("query", "movie"),
    [
        ("The Godfather", "tmdb-238"),
        ("the godfather", "tmdb-238"),
        ("Godfather", "tmdb-238"),  # without the article
        ("Dune", "tmdb-438631"),  # the more popular of two
        ("Dune 1984", "tmdb-841"),  # the year picks the remake
        ("dune (1984)", "tmdb-841"),
        ("Blade Runner 2049", "tmdb-335984"),  # a year that belongs to the title
        ("Blade Runner 1982", "tmdb-78"),
        ("amelie", "tmdb-194"),  # accents ignored
    ],
)
def test_an_exact_title_puts_its_movie_first(store: EdgeStore, query: str, movie: str) -> None:
    assert _first(store, query) == movie


def test_a_year_filter_picks_the_remake_and_a_description_is_no_title(store: EdgeStore) -> None:
    hits = search(store, FakeEmbedder(), "Dune", top_k=2, flt=PayloadFilter(year_max=1990))
    assert hits[0].movie_id == "tmdb-841" and hits[0].matched_kind == "title"
    assert title_matches(store, "a spice war on a desert planet", PayloadFilter()) == []


def test_ids_resolve_through_aliases(store: EdgeStore) -> None:
    assert resolve_ids(store, ["afi-godfather", "tmdb-240", "nope"]) == {
        "afi-godfather": "tmdb-238",
        "tmdb-240": "tmdb-240",
    }
    assert find_movie(store, "afi-godfather") == "tmdb-238"
    assert find_movie(store, "godfather part ii") == "tmdb-240"
    with pytest.raises(MovieNotFound):
        find_movie(store, "zzzzzzzz")


def test_each_second_model_is_asked_about_the_queries_of_its_languages(tmp_path) -> None:  # noqa: ANN001
    """Two second models, as configured by default: an English one (MODEL_LANGUAGES) asked about an
    English query or a tag list, and a multilingual one left out of English queries (MODEL_SKIPS)
    asked about Spanish and Chinese ones; so three lists each (e5, BM25, one second model), and each
    query's second vector reaches the engine under its own model's name. Relevance stays 0-1."""
    from movrec_dagster.core import models
    from movrec_dagster.core.vectorstore import types

    res = resolve_movies(videos(), {}, catalogue(*MOVIES))
    embedder = FakeEmbedder(second=("fake-en", "fake-other"))
    assert embedder.second is not None
    english_model, other_model = embedder.second.models
    store = EdgeStore(tmp_path)
    dimension, second = embedder.layout()
    info = store.create_version("movies__fake__1", dimension, "fake", second)
    assert info.seconds == [8, 8] and set(info.dense_sizes()) == {"", "second", "second_2"}
    store.switch(info.name)
    for language in ("en", "fr"):
        movies = res.movies.filter(res.movies["language"] == language)
        frame, _ = embed_partition(movies, None, None, embedder)
        assert frame["vector2"].to_numpy().shape[1] == 16  # both models' vectors, end to end
        sync_partition(store, language, build_points(language, frame, movies, None, "fake"))
    models.MODEL_LANGUAGES["fake-en"] = ("en",)
    models.MODEL_SKIPS["fake-other"] = ("en",)
    sent: list[types.Search] = []
    query_batch = store.query_batch
    store.query_batch = lambda searches, version=None: sent.extend(searches) or query_batch(searches, version)  # type: ignore[method-assign]
    try:
        english = ["a desert planet where spice is mined", "desert, spice, worms"]
        foreign = ["un planeta desierto donde se extrae la especia", "一个沙漠星球"]
        english_model.encoded.clear()
        other_model.encoded.clear()
        for hits in search_many(store, embedder, english + foreign, top_k=3):
            assert hits and all(0.0 <= h.relevance <= 1.0 for h in hits if h.relevance is not None)
        assert english_model.encoded == english and other_model.encoded == foreign
        asked = [tuple(v is not None for v in s.seconds) for s in sent]
        assert asked == [(True, False), (True, False), (False, True), (False, True)]
        assert np.allclose(sent[2].seconds[1], other_model.encode([foreign[0]], "query")[0])
    finally:
        del models.MODEL_LANGUAGES["fake-en"], models.MODEL_SKIPS["fake-other"]
    other_model.encoded.clear()
    search(store, embedder, english[0], top_k=3)
    assert other_model.encoded == [english[0]]  # a multilingual model with no skips is asked every query


@pytest.mark.parametrize("votes", [(50.0, 5000.0), (5000.0, 50.0)])
def test_of_two_movies_the_lists_rank_alike_the_better_known_comes_first(tmp_path, votes) -> None:  # noqa: ANN001
    """The same title and overview (so the same vectors and BM25 terms), one known to 5,000 voters
    and one to 50: the engine's renown formula puts the known one first whichever id it has, and
    both read as the same match (`relevance` leaves the renown bonus out)."""
    from movrec_dagster.core.vectorstore import types

    res = resolve_movies(
        videos(), {}, catalogue((11, "Twins", 1988, "en", votes[0]), (12, "Twins", 1988, "en", votes[1]))
    )
    embedder = FakeEmbedder()
    store = EdgeStore(tmp_path)
    store.switch(store.create_version("movies__fake__1", embedder.dimension, "fake").name)
    frame, _ = embed_partition(res.movies, None, None, embedder)
    points = build_points("en", frame, res.movies, None, "fake")
    assert {p.payload["movie_id"]: p.payload["renown"] for p in points} == {
        "tmdb-11": types.renown(votes[0]),
        "tmdb-12": types.renown(votes[1]),
    }
    sync_partition(store, "en", points)
    hits = search(store, embedder, "the overview of twins", top_k=2)
    known = "tmdb-12" if votes[1] > votes[0] else "tmdb-11"
    assert [h.movie_id for h in hits][0] == known and hits[0].score > hits[1].score
    assert hits[0].relevance == hits[1].relevance and hits[0].renown > hits[1].renown == 0.0


def twins(folder: Path) -> tuple[EdgeStore, FakeEmbedder]:
    """An index of two movies alike but for their renown: "Twins" known to 50 voters (tmdb-11) and
    to 5,000 (tmdb-12)."""
    res = resolve_movies(videos(), {}, catalogue((11, "Twins", 1988, "en", 50.0), (12, "Twins", 1988, "en", 5000.0)))
    embedder = FakeEmbedder()
    store = EdgeStore(folder)
    store.switch(store.create_version("movies__fake__1", embedder.dimension, "fake").name)
    frame, _ = embed_partition(res.movies, None, None, embedder)
    sync_partition(store, "en", build_points("en", frame, res.movies, None, "fake"))
    return store, embedder


def test_queries_not_in_english_take_their_own_renown_weight(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """`Fusion.other_renown_weight` weighs renown for queries that do not read as English (here 0:
    the twins tie), `renown_weight` for the rest (the known twin ahead); both read as the same match."""
    from dataclasses import replace

    from movrec_dagster.core.vectorstore import types

    store, embedder = twins(tmp_path)
    monkeypatch.setattr(types, "FUSION", replace(types.FUSION, other_renown_weight=0.0, short_renown_weight=None))
    english = search(store, embedder, "the overview of twins", top_k=2)
    spanish = search(store, embedder, "la historia de los gemelos que no se parecen", top_k=2)
    assert english[0].movie_id == "tmdb-12" and english[0].score > english[1].score
    assert spanish[0].score == spanish[1].score
    assert english[0].relevance == english[1].relevance and spanish[0].relevance == spanish[1].relevance


def test_short_queries_take_their_own_renown_weight(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """`Fusion.short_renown_weight` weighs renown for queries of fewer than `short_tokens` tokens
    (the embedder's count; here words), whatever their language; longer ones take `renown_weight`
    (here 0: the twins tie)."""
    from dataclasses import replace

    from movrec_dagster.core.vectorstore import types

    store, embedder = twins(tmp_path)
    fusion = replace(types.FUSION, renown_weight=0.0, short_renown_weight=1.0, short_tokens=5)
    monkeypatch.setattr(types, "FUSION", fusion)
    short = search(store, embedder, "overview of twins", top_k=2)  # 3 tokens
    spanish = search(store, embedder, "los gemelos", top_k=2)
    long = search(store, embedder, "the overview of the twins", top_k=2)  # 5 tokens: not under 5
    assert short[0].movie_id == spanish[0].movie_id == "tmdb-12"
    assert short[0].score > short[1].score and spanish[0].score > spanish[1].score
    assert long[0].score == long[1].score
    assert short[0].relevance == short[1].relevance and long[0].relevance == long[1].relevance
    assert fusion.renown_for(True, None) == fusion.renown_for(False, 5) == 0.0 == fusion.renown_for(True, 5)
    assert fusion.renown_for(True, 4) == fusion.renown_for(False, 0) == 1.0


def test_renown_is_log_scaled_between_a_fixed_floor_and_ceiling() -> None:
    from movrec_dagster.core.vectorstore.types import RENOWN_CEILING, RENOWN_FLOOR, renown

    assert renown(None) == renown(0.0) == renown(RENOWN_FLOOR) == 0.0
    assert renown(RENOWN_CEILING) == renown(10 * RENOWN_CEILING) == 1.0
    middle = renown((RENOWN_FLOOR * RENOWN_CEILING) ** 0.5)  # the geometric mean: about half way
    assert 0.45 < middle < 0.55 and renown(1000.0) < renown(2000.0)
