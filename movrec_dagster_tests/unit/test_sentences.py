"""The sentence a search hit quotes: the one of its overview or transcript chunk holding the query's
words, by each word's weight, read by the text's own language (Qdrant's analyzers, no model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from movrec_dagster.core.embedding import Chunk
from movrec_dagster.core.entities import resolve_movies
from movrec_dagster.core.indexing import build_points, sync_partition
from movrec_dagster.core.lexical import analyzer, query_vector
from movrec_dagster.core.recommend import recommend
from movrec_dagster.core.search import WORDS_CHUNKS, MovieHit, own_words, search, similar, with_evidence
from movrec_dagster.core.sentences import excerpt, matched_sentence, sentences
from movrec_dagster.core.stages import embed_partition
from movrec_dagster.core.tables import TRANSCRIPT_SCHEMA
from movrec_dagster.core.vectorstore import EdgeStore, PayloadFilter, QdrantServerStore, Search

from .fakes import FakeEmbedder, catalogue, video, videos

SHAWSHANK = (
    "Framed in the 1940s for a double murder, banker Andy Dufresne begins a new life at Shawshank. "
    "He puts his accounting skills to work for an amoral warden. "
    "Dufresne comes to be admired by the other inmates for his unquenchable sense of hope."
)


def test_sentences_end_at_a_stop_before_a_capital() -> None:
    assert sentences(' One. Two! Three? "Four" ') == ("One.", "Two!", "Three?", '"Four"')
    # no capital after the stop, or no space: the same sentence
    assert sentences("He met dr. who, a 3.5 million seller. Then") == ("He met dr. who, a 3.5 million seller.", "Then")
    # titles and initials end no sentence
    assert sentences("Dr. Ryan Stone meets John F. Kennedy of the U.S. Army. He leaves.") == (
        "Dr. Ryan Stone meets John F. Kennedy of the U.S. Army.",
        "He leaves.",
    )


def test_the_sentence_holding_the_query_words_is_chosen() -> None:
    query = query_vector("a man who cooks the books for a corrupt warden", ["en"])
    assert matched_sentence(SHAWSHANK, query, "en") == "He puts his accounting skills to work for an amoral warden."
    # through the stem: "admiring inmate" meets "admired ... inmates"
    assert matched_sentence(SHAWSHANK, query_vector("admiring inmate", ["en"]), "en").startswith("Dufresne comes")
    assert matched_sentence(SHAWSHANK, query_vector("a robot on a spaceship", ["en"]), "en") is None


def test_a_rare_word_outweighs_a_common_one() -> None:
    """Query weights are IDF: the sentence with the rarer word wins over the earlier one."""
    text = "A man walks home. A pirate sails home."
    man, pirate = (analyzer("en").embed_query(w).indices[0] for w in ("man", "pirate"))
    assert matched_sentence(text, ([man, pirate], [1.0, 3.0]), "en") == "A pirate sails home."
    assert matched_sentence(text, ([man, pirate], [3.0, 1.0]), "en") == "A man walks home."
    assert matched_sentence(text, ([man, pirate], [1.0, 1.0]), "en") == "A man walks home."  # the earlier of equals


def test_a_spanish_overview_is_read_by_the_spanish_analyzer() -> None:
    text = "Una pintora vive en Madrid. Los perros corren por el parque cada mañana."
    query = query_vector("un perro corriendo", ["en", "es"])
    assert matched_sentence(text, query, "es") == "Los perros corren por el parque cada mañana."


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> EdgeStore:
    movies = catalogue((278, "The Shawshank Redemption", 1994, "en", 90.0), (194, "Amélie", 2001, "fr", 30.0))
    movies = movies.with_columns(
        pl.Series(
            "overview", [SHAWSHANK, "Amélie is an innocent and naive girl in Paris. She decides to help her family."]
        )
    )
    res = resolve_movies(videos(), {}, movies)
    embedder = FakeEmbedder()
    store = EdgeStore(tmp_path_factory.mktemp("qdrant"))
    store.switch(store.create_version("movies__fake__1", embedder.dimension, "fake").name)
    for language in ("en", "fr"):
        members = res.movies.filter(pl.col("language") == language)
        frame, _ = embed_partition(members, None, None, embedder)
        sync_partition(store, language, build_points(language, frame, members, None, "fake"))
    return store


def test_a_search_hit_quotes_its_matched_sentence(store: EdgeStore) -> None:
    """The French film's English overview is read as English (`text_language`): "families" meets
    "family" through the English stemmer only."""

    def hit(query: str, movie: str) -> MovieHit:
        return next(h for h in search(store, FakeEmbedder(), query, top_k=2) if h.movie_id == movie)

    shawshank = hit("an accountant working for a warden", "tmdb-278")
    assert shawshank.matched_kind == "overview" and shawshank.matched_text.startswith("Framed")
    assert shawshank.matched_sentence == "He puts his accounting skills to work for an amoral warden."
    assert shawshank.explanation() == f'its overview: "{shawshank.matched_sentence}"'
    assert hit("two families", "tmdb-194").matched_sentence == "She decides to help her family."
    # a query sharing no word is found by meaning alone (here the fake vectors): the whole text quoted
    for other in search(store, FakeEmbedder(), "zzz qqq", top_k=2):
        assert other.matched_sentence is None and other.explanation() == f'its overview: "{other.matched_text}"'


class OneChunkEmbedder(FakeEmbedder):
    """A transcript's segments in one chunk, as the real embedder joins short lines (its lines kept)."""

    def chunk_segments(self, segments: list[Any]) -> list[Chunk]:
        lines = tuple((s.start, s.text) for s in segments)
        return [Chunk(" ".join(s.text for s in segments), segments[0].start, segments[-1].end, lines)]


SAID = [
    (3.0, "Of all the gin joints in all the towns in all the world, she walks into mine."),
    (41.5, "Major Strasser has been shot."),
    (95.0, "Round up the usual suspects."),
]
SUSPECTS = "Five suspects are rounded up for a lineup after a truck is hijacked. A cop questions one of them."


def casablanca(root: Path, engine: str) -> EdgeStore | QdrantServerStore:
    """Casablanca (a film heard, one transcript chunk of three lines, no overview) and The Usual
    Suspects (a catalogue overview, no video) indexed in `engine` (the server's API through
    qdrant-client's local mode)."""
    heard = pl.DataFrame(
        [
            {
                "video_id": "c1",
                "movie_id": "casablanca",
                "content_hash": "h-c1",
                "fingerprint": "w",
                "language": "en",
                "segments": [{"start": at, "end": at + 2.0, "text": text} for at, text in SAID],
                "error": None,
            }
        ],
        schema=TRANSCRIPT_SCHEMA,
    )
    known = catalogue((629, "The Usual Suspects", 1995, "en", 50.0)).with_columns(pl.lit(SUSPECTS).alias("overview"))
    res = resolve_movies(
        videos(video("c1", sidecar_id="casablanca", title="Casablanca", year=1942)), {"c1": "en"}, known
    )
    embedder = OneChunkEmbedder()
    store = EdgeStore(root) if engine == "edge" else QdrantServerStore(path=str(root))
    store.switch(store.create_version("movies__fake__1", embedder.dimension, "fake").name)
    frame, _ = embed_partition(res.movies, heard, None, embedder)
    sync_partition(store, "en", build_points("en", frame, res.movies, None, "fake", res.aliases, {"c1": "film"}))
    return store


@pytest.mark.parametrize("engine", ["edge", "server"])
def test_a_transcript_hit_quotes_its_line_and_when_it_is_said(tmp_path: Path, engine: str) -> None:
    """Either engine holds the lines as written."""
    store, embedder = casablanca(tmp_path, engine), OneChunkEmbedder()
    hit = search(store, embedder, "rounding up suspects", top_k=1, flt=PayloadFilter(movie_ids=("casablanca",)))[0]
    assert hit.matched_kind == "transcript" and hit.matched_text.startswith("Of all the gin joints")
    assert (hit.start, hit.matched_sentence) == (95.0, "Round up the usual suspects.")
    assert hit.explanation() == 'its soundtrack (film c1) says at 95 s: "Round up the usual suspects."'
    shot = search(store, embedder, "who shot the major?", top_k=1, flt=PayloadFilter(movie_ids=("casablanca",)))[0]
    assert (shot.start, shot.matched_sentence) == (41.5, "Major Strasser has been shot.")
    # where no hit quotes them (the evidence for similar movies), the lines are left out
    chunks = PayloadFilter(kinds=("transcript",))  # Casablanca's one chunk
    vector = embedder.encode(["gin"], "query")[0]
    lean = store.query_batch([Search(vector, chunks, 1, without=("lines",)), Search(vector, chunks, 1)])
    assert "lines" not in lean[0][0].payload and lean[0][0].payload["text"].startswith("Of all the gin joints")
    assert lean[1][0].payload["lines"][2] == [95.0, "Round up the usual suspects."]


@pytest.mark.parametrize("engine", ["edge", "server"])
def test_a_similar_movie_quotes_what_it_shares_with_the_one_it_is_like(tmp_path: Path, engine: str) -> None:
    """No query here: the line of Casablanca's chunk sharing the most of The Usual Suspects' words
    ("suspects", "rounded up"), and when it is said, read from that chunk's lines alone."""
    store = casablanca(tmp_path, engine)
    hit = similar(store, "tmdb-629", top_k=1)[0]
    assert hit.movie_id == "casablanca" and hit.matched_kind == "transcript"
    assert (hit.start, hit.matched_sentence) == (95.0, "Round up the usual suspects.")
    liked = recommend(store, ["tmdb-629"], top_k=1)[0]
    assert (liked.because_of, liked.because_of_title) == ("tmdb-629", "The Usual Suspects")
    assert liked.hit.matched_sentence == "Round up the usual suspects."
    assert liked.explanation().startswith("because you liked The Usual Suspects (tmdb-629) (closest in content")
    assert liked.explanation().endswith('says at 95 s: "Round up the usual suspects."')
    # the other way round: Casablanca has no overview, so its words are what is said in it; The
    # Usual Suspects' sentence sharing them ("suspects", "rounded up") is quoted
    back = similar(store, "casablanca", top_k=1)[0]
    assert back.movie_id == "tmdb-629" and back.matched_sentence == SUSPECTS.split(" A cop")[0]
    assert back.explanation() == f'its overview: "{back.matched_sentence}"'
    # a movie found for one whose words are not known (not in the index): its evidence quoted from the
    # start, in whole sentences
    plain = with_evidence(store, np.ones(OneChunkEmbedder().dimension), [back], {back.movie_id: "unknown"})[0]
    assert plain.matched_sentence is None and plain.explanation() == f'its overview: "{SUSPECTS}"'


def test_an_excerpt_ends_at_a_sentence_or_a_word() -> None:
    assert excerpt(SHAWSHANK, 120) == SHAWSHANK.split(" He puts")[0]  # the second sentence would pass 120
    assert excerpt(SHAWSHANK, 200) == SHAWSHANK.split(" Dufresne comes")[0]
    assert excerpt(SHAWSHANK, len(SHAWSHANK)) == SHAWSHANK
    assert excerpt(SHAWSHANK, 40) == "Framed in the 1940s for a double murder…"  # a space just after the 40th character
    assert excerpt(SHAWSHANK, 44) == "Framed in the 1940s for a double murder…"  # not "ban…"
    assert excerpt("") == "" and excerpt("One.") == "One."


def test_a_film_heard_lends_the_words_of_chunks_spread_over_it(tmp_path: Path) -> None:
    """40 lines, a chunk each: its words are those of 8 chunks, one in every 5, from start to end."""
    lines = [f"Line {i} names the planet{chr(97 + i % 26)}{i}." for i in range(40)]
    heard = pl.DataFrame(
        [
            {
                "video_id": "f1",
                "movie_id": "film",
                "content_hash": "h-f1",
                "fingerprint": "w",
                "language": "en",
                "segments": [{"start": 10.0 * i, "end": 10.0 * i + 5, "text": t} for i, t in enumerate(lines)],
                "error": None,
            }
        ],
        schema=TRANSCRIPT_SCHEMA,
    )
    res = resolve_movies(videos(video("f1", sidecar_id="film", title="Film", year=2000)), {"f1": "en"}, None)
    embedder, store = FakeEmbedder(), EdgeStore(tmp_path)
    store.switch(store.create_version("movies__fake__1", embedder.dimension, "fake").name)
    frame, _ = embed_partition(res.movies, heard, None, embedder)
    sync_partition(store, "en", build_points("en", frame, res.movies, None, "fake", res.aliases, {"f1": "film"}))
    terms = set(own_words(store, ["film"])["film"][0])
    spread = query_vector(" ".join(lines[::5]), ["en"])[0]
    assert terms == set(spread) and len(lines[::5]) == WORDS_CHUNKS
