"""The lexical side on Qdrant's own BM25: per-language stems and stop words, the text's own language,
and a Spanish query finding a Spanish overview in the real embedded engine through its stem."""

from __future__ import annotations

from pathlib import Path

import pytest

from movrec_dagster.core import lexical
from movrec_dagster.core.lexical import (
    document_vector,
    names,
    query_vector,
    text_language,
    text_languages,
    written_in,
)
from movrec_dagster.core.vectorstore import EdgeStore, VectorPoint, point_id

SPANISH = {
    "perros": "Unos perros corren por las calles de Madrid buscando a su dueño perdido.",
    "musica": "Un niño sueña con ser músico aunque su familia prohíbe la música.",
    "guerra": "Una niña huye de la guerra y encuentra un laberinto en el bosque.",
}


def test_a_spanish_query_shares_the_stems_of_a_spanish_text() -> None:
    doc = set(document_vector(SPANISH["perros"], "es")[0])
    assert set(query_vector("un perro corriendo", ["es"])[0]) <= doc  # "perro"/"perros", "corriendo"/"corren"
    # without the Spanish stemmer the same words do not meet, and "un" (a stop word) is never a term
    assert not set(query_vector("perro corriendo", ["en"])[0]) & doc
    assert len(query_vector("un", ["es"])[0]) == 0


def test_a_text_is_filed_under_the_language_of_its_stop_words() -> None:
    assert text_language(SPANISH["perros"], "en") == "es"
    assert text_language(SPANISH["musica"], "it") == "it"  # as many Italian stop words: the partition's wins
    assert text_language("A boy dreams of becoming a musician although his family bans music.", "es") == "en"
    assert text_language("Im Herbst läuft ein deutsches U-Boot in den Atlantik aus.", "en") == "de"
    assert text_language("Coco", "es") == "es"  # too short to tell: the partition's language


MIXED = [
    *SPANISH.values(),
    "A boy dreams of becoming a musician although his family bans music.",
    "Im Herbst läuft ein deutsches U-Boot in den Atlantik aus, und die Mannschaft ist jung.",
    "Un jeune homme quitte sa ville natale pour devenir chef dans un grand restaurant de Paris.",
    "Un ragazzo sogna di diventare un musicista anche se la sua famiglia lo vieta.",
    "一名宇航员被困在火星上，他必须想办法活下去。",
    "宇宙飛行士が火星に取り残され、生き延びなければならない。",
    "Коко",
    "",
    "!!! ... ???",
    "The Spanish word 'los' and the French 'les' in an English text: the and of the it.",
]


@pytest.mark.parametrize("fallback", ["en", "es", "it", "ja", "xx"])
def test_languages_read_in_one_batch_are_those_read_one_text_at_a_time(fallback: str) -> None:
    """The index step reads a partition's overviews together (each language's analyzer once over
    their words): the same answers as one text at a time, whatever the partition."""
    assert text_languages(MIXED, fallback) == [text_language(text, fallback) for text in MIXED]
    assert {"es", "en", "de", "fr"} <= set(text_languages(MIXED, "xx"))  # not all the fallback
    assert text_languages([], fallback) == []


def test_a_query_reads_as_its_language_for_a_one_language_model() -> None:
    """What decides whether search asks the English second model about a query."""
    assert written_in("An astronaut is stranded on Mars and has to survive", ("en",))
    assert written_in("mars, space, survival, nasa", ("en",))  # no stop words, Latin letters: a tag list
    assert not written_in(SPANISH["musica"], ("en",)) and written_in(SPANISH["musica"], ("es",))
    assert not written_in("Ein Hacker erfährt, dass die Welt eine Simulation ist", ("en",))
    assert not written_in("一个黑客发现他生活的世界是机器制造的虚拟现实", ("en",))


def test_the_engine_finds_a_spanish_overview_through_its_stem(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path)
    store.switch(store.create_version("movies__v1", 4, "m").name)
    same = [0.5, 0.5, 0.5, 0.5]  # one dense vector for all: only the lexical side can tell them apart
    store.upsert(
        [
            VectorPoint(
                point_id(movie, "overview", 0),
                same,
                {"movie_id": movie, "language": "es", "kind": "overview"},
                document_vector(text, "es"),
            )
            for movie, text in SPANISH.items()
        ]
    )
    assert store.languages() == ["es"]
    for query, movie in (("perro perdido", "perros"), ("músicos", "musica"), ("laberintos", "guerra")):
        hits = store.query(same, limit=3, sparse=query_vector(query, store.languages()))
        assert hits[0].payload["movie_id"] == movie, query


# two common words (each in 3 of 8 overviews) in one overview, a rare one (1 of 8) in another
IDF_CASE = {
    "walks": "A robot walks through the city at night.",
    "waits": "A submarine waits under the ice.",
    "clocks": "An old robot repairs clocks.",
    "flowers": "A lonely robot paints flowers.",
    "baker": "The city sleeps while a baker works.",
    "market": "Rain falls on the city market.",
    "guard": "A night guard hears strange noises.",
    "map": "One night a girl finds a map.",
}


@pytest.mark.parametrize("engine", ["edge", "server"])
def test_a_query_term_weighs_its_idf_from_the_counts_a_sync_writes(tmp_path: Path, engine: str) -> None:
    """A sync records how many overviews hold each term, in both engines; a query's terms then weigh
    their IDF, so its one rare word outweighs two common ones, where with every term at 1 (the
    engine's IDF applied once) the two common words win."""
    from movrec_dagster.core.indexing import sync_partition
    from movrec_dagster.core.vectorstore import QdrantServerStore

    store = EdgeStore(tmp_path) if engine == "edge" else QdrantServerStore(path=str(tmp_path))
    store.switch(store.create_version("movies__v1", 4, "m").name)
    same = [0.5, 0.5, 0.5, 0.5]  # one dense vector for all: only the lexical side can tell them apart

    def points(texts: dict[str, str], language: str) -> list[VectorPoint]:
        payload = {"language": language, "kind": "overview"}
        return [
            VectorPoint(point_id(m, "overview", 0), same, {"movie_id": m, **payload}, document_vector(t, language))
            for m, t in texts.items()
        ]

    assert store.terms().documents == 0  # nothing synced yet: every query term weighs 1
    sync_partition(store, "en", points(IDF_CASE, "en"))
    sync_partition(store, "es", points(SPANISH, "es"))
    counts = store.terms()
    robot, submarine = (query_vector(word, ["en"])[0][0] for word in ("robot", "submarine"))
    assert counts.documents == len(IDF_CASE) + len(SPANISH)
    assert (counts.counts[robot], counts.counts[submarine]) == (3, 1)
    query = "robot city submarine"
    terms, weights = query_vector(query, ["en"], counts)
    assert weights[terms.index(submarine)] == pytest.approx(counts.idf(submarine), abs=1e-6)
    assert weights[terms.index(submarine)] > 1.5 * weights[terms.index(robot)]
    weighed = store.query(same, limit=3, sparse=(terms, weights))
    unweighed = store.query(same, limit=3, sparse=query_vector(query, ["en"]))
    assert weighed[0].payload["movie_id"] == "waits"
    assert unweighed[0].payload["movie_id"] == "walks"
    # a movie gone from a language: its terms leave the counts with it
    sync_partition(store, "en", [p for p in points(IDF_CASE, "en") if p.payload["movie_id"] != "waits"])
    assert submarine not in store.terms().counts and store.terms().documents == len(IDF_CASE) + len(SPANISH) - 1


def test_names_are_the_words_written_with_a_capital_where_no_sentence_begins() -> None:
    text = 'Framed for murder, banker Andy Dufresne goes to Shawshank. There he meets Red. "Hope" is good.'
    assert names(text) == ["Andy", "Dufresne", "Shawshank", "Red"]
    assert names("dark comedy heist twist ending") == []
    assert names("THE DARK KNIGHT") == names("Star Wars Return Of The Jedi") == []  # capitals everywhere
    assert names("Im Herbst läuft ein U-Boot aus") == ["Herbst", "U-Boot"]  # German nouns: all weigh alike


def test_a_query_name_weighs_name_weight_times_its_idf() -> None:
    """The terms a query's names make weigh NAME_WEIGHT x their IDF, its other terms their IDF; the
    capital that begins a sentence is no name."""
    from movrec_dagster.core.vectorstore.types import TermCounts

    query = "Prison life as banker Dufresne meets Red"
    (prison, life, banker, dufresne, red) = (
        query_vector(word, ["en"])[0][0] for word in ("prison", "life", "banker", "dufresne", "red")
    )
    counts = TermCounts(100, {prison: 10, life: 40, banker: 5, dufresne: 1, red: 20})
    terms, weights = query_vector(query, ["en"], counts)
    weight = dict(zip(terms, weights))
    assert lexical.NAME_WEIGHT > 1
    for term in (dufresne, red):
        assert weight[term] == pytest.approx(lexical.NAME_WEIGHT * counts.idf(term), abs=1e-5)
    for term in (prison, life, banker):
        assert weight[term] == pytest.approx(counts.idf(term), abs=1e-5)
    # without counts (a version written before them) the names still weigh more than the rest
    plain = dict(zip(*query_vector(query, ["en"])))
    assert (plain[dufresne], plain[prison]) == (lexical.NAME_WEIGHT, 1.0)
    # in capitals throughout, no word is stressed: each weighs its IDF
    loud = dict(zip(*query_vector("PRISON LIFE AS BANKER DUFRESNE", ["en"], counts)))
    assert loud == {term: pytest.approx(counts.idf(term), abs=1e-5) for term in (prison, life, banker, dufresne)}
