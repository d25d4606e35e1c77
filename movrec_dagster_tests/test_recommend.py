"""Watch-history recommendations and re-ranking on the indexed demo library."""

from __future__ import annotations

import pytest

from movrec_dagster.core.recommend import profiles, recommend
from movrec_dagster.core.search import MovieNotFound, find_movie
from movrec_dagster.core.vectorstore import EdgeStore, PayloadFilter


def test_history_excludes_watched_and_explains(indexed) -> None:  # noqa: ANN001
    home, _, _ = indexed
    store = EdgeStore(home.qdrant)
    recs = recommend(store, ["the-martian"], ["coco"], top_k=4)
    ids = [r.hit.movie_id for r in recs]
    assert ids[0] == "apollo-13"
    assert "the-martian" not in ids and "coco" not in ids and len(set(ids)) == len(ids)
    assert all(r.because_of == "the-martian" for r in recs)


def test_filters_apply_to_recommendations(indexed) -> None:  # noqa: ANN001
    home, _, _ = indexed
    recs = recommend(EdgeStore(home.qdrant), ["the-martian"], top_k=5, flt=PayloadFilter(languages=("es",)))
    assert recs and {r.hit.language for r in recs} == {"es"}


def test_unknown_movie_is_an_error(indexed) -> None:  # noqa: ANN001
    home, _, _ = indexed
    with pytest.raises(MovieNotFound, match="nope"):
        recommend(EdgeStore(home.qdrant), ["nope"])


def test_mmr_trades_relevance_for_diversity(indexed) -> None:  # noqa: ANN001
    home, _, _ = indexed
    store = EdgeStore(home.qdrant)

    def redundancy(ids: list[str]) -> float:
        """How alike the first two picks are: MMR's second pick trades relevance for being different."""
        vectors, _ = profiles(store, ids[:2])
        return float(vectors[ids[0]] @ vectors[ids[1]])

    plain = [r.hit.movie_id for r in recommend(store, ["the-martian"], top_k=4, mmr_lambda=1.0)]
    diverse = [r.hit.movie_id for r in recommend(store, ["the-martian"], top_k=4, mmr_lambda=0.0)]
    assert plain[0] == diverse[0]  # the most relevant movie always comes first
    assert plain != diverse and redundancy(diverse) < redundancy(plain)
    # lambda 0 is pure diversity: the second pick is the candidate least like the first
    others = [m for m in profiles(store, plain + diverse)[0] if m not in ("the-martian", diverse[0])]
    first = profiles(store, [diverse[0]])[0][diverse[0]]
    candidates, _ = profiles(store, others + [diverse[1]])
    assert diverse[1] == min(candidates, key=lambda m: float(candidates[m] @ first))


def test_sentiment_weight_one_orders_by_sentiment(indexed) -> None:  # noqa: ANN001
    home, _, _ = indexed
    recs = recommend(EdgeStore(home.qdrant), ["the-martian"], top_k=5, sentiment_weight=1.0)
    moods = [r.hit.sentiment for r in recs]
    assert moods == sorted(moods, reverse=True) and len(set(moods)) > 1


def test_a_movie_is_found_by_id_title_or_typo(indexed) -> None:  # noqa: ANN001
    home, _, _ = indexed
    store = EdgeStore(home.qdrant)
    assert find_movie(store, "the-martian") == "the-martian"
    assert find_movie(store, "THE MARTIAN") == "the-martian"
    assert find_movie(store, "le fabuleux destin d amelie poulain") == "amelie"  # accents and punctuation
    assert find_movie(store, "Jurasic Prak") == "jurassic-park"  # typos
    with pytest.raises(MovieNotFound, match="qwertyuiop"):
        find_movie(store, "qwertyuiop")
