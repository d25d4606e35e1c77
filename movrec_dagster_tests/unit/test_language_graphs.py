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
    lists = request.prefetch or [request]
    while len(lists) == 1 and lists[0].prefetch:  # the fused lists under the renown formula
        lists = lists[0].prefetch
    return [p.using or "" for p in lists if p.using != types.SPARSE]


@pytest.mark.parametrize("vectors", [_edge_vectors, _server_vectors], ids=["edge", "server"])
@pytest.mark.parametrize("case", list(SEARCHES))
def test_only_a_query_kept_to_one_language_reads_the_copies(vectors: object, case: str) -> None:
    search, to_copy = SEARCHES[case]
    hybrid = Search(search.vector, search.flt, sparse=([1, 2], [0.5, 0.5]), seconds=(None, [0.2] * 3))
    for query, names in ((search, [""]), (hybrid, ["", "second_2"])):  # the second models asked, by name
        expected = [types.by_language(n) for n in names] if to_copy else names
        assert vectors(query, True) == expected, case  # type: ignore[operator]
        assert vectors(query, False) == names, case  # type: ignore[operator]  # a version without copies


def test_a_point_carries_its_copies_only_where_the_version_has_them() -> None:
    from movrec_dagster.core.vectorstore import VectorPoint

    point = VectorPoint("p", [1.0, 0.0], {}, second=[0.0, 1.0, 0.0])
    assert set(types.dense_vectors(point, False, [3])) == {"", types.SECOND}
    both = types.dense_vectors(point, True, [3])
    assert set(both) == {"", types.SECOND, types.by_language(""), types.by_language(types.SECOND)}
    assert both[types.by_language(types.SECOND)] == both[types.SECOND]
    assert len({types.by_language(n) for n in ("", types.SECOND)} | {"", types.SECOND}) == 4
    assert set(types.dense_vectors(point, False)) == {""}  # a version without second models


def test_the_second_models_vectors_are_split_by_the_versions_dimensions() -> None:
    """`VectorPoint.second` holds every second model's vector end to end; each named vector gets its
    own part, of unit length (a profile's concatenation is a mean), and a length that does not add up
    to the version's dimensions is an error, not a silent truncation."""
    from movrec_dagster.core.vectorstore import VectorPoint

    point = VectorPoint("p", [1.0, 0.0], {}, second=[3.0, 4.0, 0.0, 0.0, 2.0])
    named = types.dense_vectors(point, False, [2, 3])
    assert set(named) == {"", "second", "second_2"}
    assert named["second"] == pytest.approx([0.6, 0.8]) and named["second_2"] == pytest.approx([0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="5 values"):
        types.dense_vectors(point, False, [2, 2])
    info = types.new_version("v", 2, "m", ("a+b", (2, 3)))
    assert info.seconds == [2, 3] and info.second_dimension == 5
    assert info.dense_sizes() == {"": 2, "second": 2, "second_2": 3}
    old = types.VersionInfo("v", 2, "m", second="a", second_dimension=3)  # a record from before
    assert old.seconds == [3] and old.dense_sizes() == {"": 2, "second": 3}


def test_recommendations_read_the_copy_under_the_same_rule() -> None:
    """`types.vector_for`, which both engines' recommend queries ask as their searches do."""
    assert types.vector_for("", ONE, True) == types.by_language("")
    assert types.vector_for(types.SECOND, ONE, True) == types.by_language(types.SECOND)
    assert types.vector_for("", ONE, False) is None  # the unnamed vector
    assert types.vector_for("", PayloadFilter(languages=("es", "fr")), True) is None
    assert types.vector_for("", None, True) is None
