"""Which dense vector a query reads: a version with graphs has per-language copies of its dense vectors
(`types.by_language`), and only a query kept to one language may walk them; any other query walks the
main graph, which links points across languages. Both engines build their requests the same way."""

from __future__ import annotations

import pytest

from movrec_dagster.core.vectorstore import EdgeStore, PayloadFilter, QdrantServerStore, Search, types

ONE = PayloadFilter(languages=("es",), genres=("Drama",))
SEARCHES = {
    "one language": (Search([0.1] * 4, ONE), True),
    "two languages": (Search([0.1] * 4, PayloadFilter(languages=("es", "fr"))), False),
    "no language": (Search([0.1] * 4, PayloadFilter(genres=("Drama",))), False),
    "no filter": (Search([0.1] * 4), False),
}


def _edge_vectors(search: Search, copies: bool) -> list[str]:
    text = repr(EdgeStore._request(search, copies))
    names = [part.split('"')[1] if part.startswith('"') else "" for part in text.split("using=")[1:]]
    return [name for name in names if name != types.SPARSE]


def _server_vectors(search: Search, copies: bool) -> list[str]:
    request = QdrantServerStore._request(search, copies)
    dense = [p for p in request.prefetch if p.using != types.SPARSE] if request.prefetch else [request]
    return [p.using or "" for p in dense]


@pytest.mark.parametrize("vectors", [_edge_vectors, _server_vectors], ids=["edge", "server"])
@pytest.mark.parametrize("case", list(SEARCHES))
def test_only_a_query_kept_to_one_language_reads_the_copies(vectors: object, case: str) -> None:
    search, to_copy = SEARCHES[case]
    hybrid = Search(search.vector, search.flt, sparse=([1, 2], [0.5, 0.5]), second=[0.2] * 3)
    for query, names in ((search, [""]), (hybrid, ["", types.SECOND])):
        expected = [types.by_language(n) for n in names] if to_copy else names
        assert vectors(query, True) == expected, case  # type: ignore[operator]
        assert vectors(query, False) == names, case  # type: ignore[operator]  # a version without copies


def test_a_point_carries_its_copies_only_where_the_version_has_them() -> None:
    from movrec_dagster.core.vectorstore import VectorPoint

    point = VectorPoint("p", [1.0, 0.0], {}, second=[0.0, 1.0, 0.0])
    assert set(types.dense_vectors(point, False)) == {"", types.SECOND}
    both = types.dense_vectors(point, True)
    assert set(both) == {"", types.SECOND, types.by_language(""), types.by_language(types.SECOND)}
    assert both[types.by_language(types.SECOND)] == both[types.SECOND]
    assert len({types.by_language(n) for n in ("", types.SECOND)} | {"", types.SECOND}) == 4


def test_recommendations_read_the_copy_under_the_same_rule() -> None:
    """`types.vector_for`, which both engines' recommend queries ask as their searches do."""
    assert types.vector_for("", ONE, True) == types.by_language("")
    assert types.vector_for(types.SECOND, ONE, True) == types.by_language(types.SECOND)
    assert types.vector_for("", ONE, False) is None  # the unnamed vector
    assert types.vector_for("", PayloadFilter(languages=("es", "fr")), True) is None
    assert types.vector_for("", None, True) is None
