"""The store interface: the embedded engine and qdrant-client agree; aliases switch atomically."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from movrec_dagster.core.vectorstore import (
    EdgeStore,
    Examples,
    NoServingCollection,
    PayloadFilter,
    QdrantServerStore,
    Search,
    VectorPoint,
    point_id,
)


def _points(n: int = 60, dim: int = 16, seed: int = 7) -> list[VectorPoint]:
    rng = np.random.default_rng(seed)
    return [
        VectorPoint(
            point_id(f"m{i % 12}", "transcript", i),
            rng.normal(size=dim).astype(np.float32),
            {
                "movie_id": f"m{i % 12}",
                "language": ("en", "es", "fr")[i % 3],
                "year": 1980 + i,
                "genres": ["Drama"] if i % 2 else ["Comedy", "Drama"],
                "kind": "transcript",
                "sentiment": (i % 7 - 3) / 3,
            },
        )
        for i in range(n)
    ]


@pytest.fixture(params=["edge", "client"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> EdgeStore | QdrantServerStore:
    return EdgeStore(tmp_path / "q") if request.param == "edge" else QdrantServerStore(path=str(tmp_path / "c"))


FILTERS = [
    None,
    PayloadFilter(languages=("es",)),
    PayloadFilter(genres=("Comedy",), year_min=1990, year_max=2020),
    PayloadFilter(min_sentiment=0.5),
    PayloadFilter(exclude_movie_ids=("m1", "m2")),
    PayloadFilter(kinds=("overview",)),
    PayloadFilter(point_ids=(point_id("m1", "transcript", 1), point_id("m5", "transcript", 41))),
]


def test_engines_agree(tmp_path: Path) -> None:
    edge, client = EdgeStore(tmp_path / "q"), QdrantServerStore(path=str(tmp_path / "c"))
    points = _points()
    for s in (edge, client):
        s.switch(s.create_version("movies__v1", 16, "m").name)
        s.upsert(points)
    query = points[5].vector
    for flt in FILTERS:
        assert edge.count(flt) == client.count(flt)
        a = [h.id for h in edge.query(query, flt, limit=7)]
        b = [h.id for h in client.query(query, flt, limit=7)]
        assert a == b, flt
        if flt is not None and flt.point_ids:  # those points and no other
            assert sorted(a) == sorted(flt.point_ids)


def test_engines_agree_on_hybrid_queries(tmp_path: Path) -> None:
    from movrec_dagster.core.lexical import document_vector, query_vector

    words = ["mars", "astronaut", "potato", "faun", "labyrinth", "clownfish", "ocean", "submarine", "war", "music"]
    rng = np.random.default_rng(3)
    points = _points(40)
    for p in points:  # random bags of words of random lengths: few ties in the BM25 ranking
        p.sparse = document_vector(" ".join(rng.choice(words, size=int(rng.integers(3, 30)))), "en")
    edge, client = EdgeStore(tmp_path / "q"), QdrantServerStore(path=str(tmp_path / "c"))
    for s in (edge, client):
        s.switch(s.create_version("movies__v1", 16, "m").name)
        s.upsert(points)
    sparse = query_vector("labyrinth faun", ["en"])
    for flt in (None, PayloadFilter(languages=("en", "fr"))):
        a = [h.payload["movie_id"] for h in edge.query(points[3].vector, flt, limit=6, sparse=sparse)]
        b = [h.payload["movie_id"] for h in client.query(points[3].vector, flt, limit=6, sparse=sparse)]
        assert a == b and len(a) == 6
    for s in (edge, client):  # the languages facet, for the query's analyzers
        assert s.languages() == sorted({p.payload["language"] for p in points})

    # two second models' dense vectors per point (stored end to end, one named vector each): up to
    # four candidate lists fused alike, each second list under its own model's name
    seconds, thirds = _points(40, dim=8, seed=11), _points(40, dim=4, seed=12)
    for p, other, third in zip(points, seconds, thirds):
        p.second = np.concatenate([other.vector, third.vector])
    edge, client = EdgeStore(tmp_path / "q2"), QdrantServerStore(path=str(tmp_path / "c2"))
    for s in (edge, client):
        s.switch(s.create_version("movies__v1", 16, "m", second=("m2+m3", (8, 4))).name)
        s.upsert(points)
        assert s.serving_info().second == "m2+m3" and s.serving_info().seconds == [8, 4]
    for flt in (None, PayloadFilter(languages=("en", "fr"))):
        two = [h.payload["movie_id"] for h in edge.query(points[3].vector, flt, limit=6, sparse=sparse, candidates=40)]
        fused = []
        for asked in ((seconds[21].vector, None), (None, thirds[21].vector), (seconds[21].vector, thirds[21].vector)):
            search = Search(points[3].vector, flt, 6, sparse, 40, seconds=asked)
            a = [h.payload["movie_id"] for h in edge.query_batch([search])[0]]
            b = [h.payload["movie_id"] for h in client.query_batch([search])[0]]
            assert a == b and len(a) == 6
            fused.append(a)
        assert all(a != two for a in fused)  # each second list moved the fusion
        assert len({tuple(a) for a in fused}) == 3  # and each is read from its own vector
    held = {h.id: h.vector for h in edge.scroll(with_vectors=True)}[points[3].id]
    unit = points[3].vector / np.linalg.norm(points[3].vector)  # cosine: stored normalised
    assert np.allclose(held, unit, atol=1e-5)  # a hit's vector is the first model's

    # a version with graphs holds per-language copies of both dense vectors, which a query filtered
    # to one language reads; too small for any graph, it answers exactly what the version without
    # does (so the copies hold the same vectors)
    for s in (edge, client):
        s.switch(s.create_version("movies__v2", 16, "m", second=("m2+m3", (8, 4)), graph=True).name)
        s.upsert(points)
        assert s.serving_info().language_graphs
    for flt in (PayloadFilter(languages=("es",)), PayloadFilter(languages=("es",), genres=("Comedy",))):
        search = Search(points[3].vector, flt, 6, sparse, 40, seconds=(seconds[21].vector, thirds[21].vector))
        a, b = (s.query_batch([search])[0] for s in (edge, client))
        before = edge.query_batch([search], version="movies__v1")[0]
        assert (
            [h.payload["movie_id"] for h in a]
            == [h.payload["movie_id"] for h in b]
            == [h.payload["movie_id"] for h in before]
        )
        assert a and all(h.payload["language"] == "es" for h in a)
        dense = [h.id for h in edge.query(points[3].vector, flt, limit=5)]
        assert dense == [h.id for h in client.query(points[3].vector, flt, limit=5)] and len(dense) == 5


def test_the_renown_formula_adds_to_the_fused_score_in_both_engines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hybrid query's score formula: each score is the fused one plus `renown_weight` x the
    point's `renown`, in both engines; a point without the field (written before it) gets nothing."""
    from dataclasses import replace

    from movrec_dagster.core.lexical import document_vector, query_vector
    from movrec_dagster.core.vectorstore import types

    words = ["mars", "astronaut", "potato", "faun", "labyrinth", "clownfish", "ocean", "submarine"]
    rng = np.random.default_rng(5)
    points = _points(40)
    for i, p in enumerate(points):
        p.sparse = document_vector(" ".join(rng.choice(words, size=int(rng.integers(3, 30)))), "en")
        if i % 4:
            p.payload["renown"] = (i % 10) / 10
    stores = EdgeStore(tmp_path / "q"), QdrantServerStore(path=str(tmp_path / "c"))
    for s in stores:
        s.switch(s.create_version("movies__v1", 16, "m").name)
        s.upsert(points)
    search = Search(points[3].vector, None, 40, query_vector("labyrinth faun", ["en"]), 40)
    with_renown = [s.query_batch([search])[0] for s in stores]
    weight = types.FUSION.renown_weight
    assert weight > 0
    monkeypatch.setattr(types, "FUSION", replace(types.FUSION, renown_weight=0.0))
    fused = [{h.id: h.score for h in s.query_batch([search])[0]} for s in stores]
    for hits, plain in zip(with_renown, fused):
        assert len(hits) == 40 and [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        for h in hits:
            assert h.score == pytest.approx(plain[h.id] + weight * h.payload.get("renown", 0.0), abs=1e-4)
        assert [h.id for h in hits] != sorted(plain, key=lambda i: -plain[i])  # renown reordered them
    assert [h.id for h in with_renown[0]] == [h.id for h in with_renown[1]]
    # a query's own weight (`Search.renown_weight`: another for queries not in English) wins
    heavier = [s.query_batch([replace(search, renown_weight=2.5)])[0] for s in stores]
    for hits, plain in zip(heavier, fused):
        for h in hits:
            assert h.score == pytest.approx(plain[h.id] + 2.5 * h.payload.get("renown", 0.0), abs=1e-4)
    assert [h.id for h in heavier[0]] == [h.id for h in heavier[1]]
    # the formula rescores only the fused list's best `Fusion.rescored(limit)`, in both engines alike
    short = replace(search, limit=2, renown_weight=2.5)
    renowned = {p.id: p.payload.get("renown", 0.0) for p in points}
    order = sorted(fused[0], key=lambda i: -fused[0][i])
    head = order[: types.FUSION.rescored(2)]
    assert len(head) < len(order)
    got = [[h.id for h in s.query_batch([short])[0]] for s in stores]
    assert got[0] == got[1] == sorted(head, key=lambda i: -(fused[0][i] + 2.5 * renowned[i]))[:2]
    assert got[0] != sorted(order, key=lambda i: -(fused[0][i] + 2.5 * renowned[i]))[:2]  # all 40 rescored


def test_engines_agree_on_recommend_queries(tmp_path: Path) -> None:
    """The engine's recommend query ("best score"), the same on both engines: near a liked example
    ranks high, nearer a disliked one than any liked ranks below everything else."""
    edge, client = EdgeStore(tmp_path / "q"), QdrantServerStore(path=str(tmp_path / "c"))
    points = _points()
    for s in (edge, client):
        s.switch(s.create_version("movies__v1", 16, "m").name)
        s.upsert(points)
        s.upsert(points, version=s.create_version("movies__v2", 16, "m", graph=True).name)
    liked, disliked = [points[5].vector, points[17].vector], [points[30].vector]
    # the examples' own movies left out: the two liked examples would tie (cosine 1), in any order
    examples = tuple(points[i].payload["movie_id"] for i in (5, 17, 30))
    for flt in (
        PayloadFilter(exclude_movie_ids=examples),
        PayloadFilter(languages=("es", "fr"), exclude_movie_ids=examples),
        PayloadFilter(languages=("es",), exclude_movie_ids=examples),
    ):
        a = edge.recommend(Examples(liked, disliked, flt, len(points)))
        b = client.recommend(Examples(liked, disliked, flt, len(points)))
        assert [h.id for h in a] == [h.id for h in b] and a
        assert np.allclose([h.score for h in a], [h.score for h in b], atol=1e-4)
        # a version with per-language copies (which one language reads) recommends the same
        for s in (edge, client):
            copied = s.recommend(Examples(liked, disliked, flt, len(points)), version="movies__v2")
            assert [h.id for h in copied] == [h.id for h in a]
    ranked = [h.id for h in edge.recommend(Examples(liked, disliked, limit=len(points)))]
    assert set(ranked[:2]) == {points[5].id, points[17].id}  # the examples themselves, when not excluded
    assert ranked[-1] == points[30].id  # the disliked example is the least recommended


def test_upsert_is_idempotent_and_delete_by_filter(store: EdgeStore | QdrantServerStore) -> None:
    store.switch(store.create_version("movies__v1", 16, "m").name)
    points = _points()
    store.upsert(points)
    store.upsert(points)
    assert store.count() == len(points)
    store.delete(PayloadFilter(languages=("en",), exclude_point_ids=(points[0].id,)))
    assert store.count(PayloadFilter(languages=("en",))) == 1


def test_alias_switch_and_guard(store: EdgeStore | QdrantServerStore) -> None:
    with pytest.raises(NoServingCollection):
        store.count()
    store.create_version("movies__v1", 16, "m")
    store.create_version("movies__v2", 16, "m")
    store.switch("movies__v1")
    store.upsert(_points()[:3])
    store.switch("movies__v2")
    assert store.serving_version() == "movies__v2" and store.count() == 0
    assert store.count(version="movies__v1") == 3
    with pytest.raises(ValueError, match="serving"):
        store.drop_version("movies__v2")
    store.drop_version("movies__v1")
    assert [v.name for v in store.versions()] == ["movies__v2"]


def _count_in_child(root: str, queue: multiprocessing.Queue) -> None:
    queue.put(EdgeStore(Path(root)).count())


def test_embedded_store_shared_between_processes(tmp_path: Path) -> None:
    """The engine locks a shard to one process; the store takes turns instead of failing."""
    store = EdgeStore(tmp_path / "q")
    store.switch(store.create_version("movies__v1", 16, "m").name)
    store.upsert(_points())
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    children = [ctx.Process(target=_count_in_child, args=(str(tmp_path / "q"), queue)) for _ in range(3)]
    for child in children:
        child.start()
    store.upsert(_points())  # this process writes while the children read
    for child in children:
        child.join(60)
    assert sorted(queue.get(timeout=5) for _ in children) == [60, 60, 60]


def _held_count_in_child(root: str, queue: multiprocessing.Queue) -> None:
    queue.put(EdgeStore(Path(root), keep_open=True).count())


def test_held_readers_keep_the_shard_and_take_turns(tmp_path: Path) -> None:
    """A long-lived reader (the API) keeps its shard open across a pause between queries (reopening
    it cost a person searching seconds apart 0.3-0.5 s a query at 10k movies), and gives it up the
    moment another process, a second reader included, asks for it."""
    import time

    EdgeStore(tmp_path / "q").switch(EdgeStore(tmp_path / "q").create_version("movies__v1", 16, "m").name)
    EdgeStore(tmp_path / "q").upsert(_points())
    reader = EdgeStore(tmp_path / "q", keep_open=True)
    assert reader.count() == 60
    held = reader._reader
    assert held is not None and held.handles
    time.sleep(1.5)  # longer than readers used to idle before letting go
    assert held.handles  # still open: the next query pays no reopening
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_held_count_in_child, args=(str(tmp_path / "q"), queue))
    started = time.monotonic()
    child.start()
    assert queue.get(timeout=60) == 60  # the second reader got the shard although the first was in use
    child.join(30)
    assert time.monotonic() - started < 30
    assert reader.count() == 60  # and the first takes it back


def test_the_embedded_engine_quantizes_and_keeps_recall(tmp_path: Path) -> None:
    """Segments above the threshold get their int8 copy on `optimize()` (types.DenseIndex): queries
    scan it, rescore the best with the original vectors, and find what exact search finds."""
    from qdrant_edge import QuantizationSearchParams, Query, QueryRequest, SearchParams

    dim, n = 384, 8_000
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    languages = ("en", "es", "fr", "de")
    store = EdgeStore(tmp_path)
    store.switch(store.create_version("movies__m__1", dim, "m").name)
    payloads = [{"movie_id": f"m{i}", "language": languages[i % 4]} for i in range(n)]
    store.upsert([VectorPoint(point_id(f"m{i}", "profile", 0), vectors[i], payloads[i]) for i in range(n)])
    assert store.indexed_vectors() == 0  # never indexed until optimized
    assert store.optimize() and store.indexed_vectors() >= n // 2
    with store._shard(None) as shard:  # the int8 copy exists: read alone, its scores are approximate
        raw = SearchParams(quantization=QuantizationSearchParams(rescore=False))
        request = QueryRequest(limit=10, query=Query.Nearest(vectors[0].tolist()), params=raw, with_payload=True)
        approx = shard.query(request)
    assert max(abs(p.score - float(vectors[int(p.payload["movie_id"][1:])] @ vectors[0])) for p in approx) > 1e-4
    found = []
    for k in range(40):
        query = vectors[k] + 0.5 * rng.standard_normal(dim).astype(np.float32) / np.sqrt(dim)
        query /= np.linalg.norm(query)
        members = np.arange(k % 4, n, 4)
        exact = {f"m{i}" for i in members[np.argsort(-(vectors[members] @ query))[:10]]}
        hits = store.query(query, PayloadFilter(languages=(languages[k % 4],)), limit=10)
        assert all(h.payload["language"] == languages[k % 4] for h in hits)
        # rescored: the scores movrec reads are the exact cosines
        assert all(abs(h.score - float(vectors[int(h.payload["movie_id"][1:])] @ query)) < 1e-4 for h in hits)
        found.append(len({h.payload["movie_id"] for h in hits} & exact) / 10)
    assert np.mean(found) >= 0.98


def test_large_versions_get_a_graph_that_filtered_queries_walk_too(tmp_path: Path) -> None:
    """HNSW in the embedded engine (`DenseIndex`): a version built with graphs answers unfiltered
    queries (its main graph), queries filtered to one language (the graph of that language, in the
    per-language copy) and to several (the main graph walked with ACORN, two links ahead, past points
    of other languages) with what exact search finds. A version without graphs scans its int8 copy
    whatever the beam."""
    from qdrant_edge import QuantizationSearchParams, Query, QueryRequest, SearchParams

    from movrec_dagster.core.vectorstore import types
    from movrec_dagster.core.vectorstore.edge import edge_filter

    dim, n = 384, 8_000
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((n // 50, dim)).astype(np.float32)  # clustered, as embeddings are
    vectors = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    languages = ("en", "es", "fr", "de")
    payloads = [{"movie_id": f"m{i}", "language": languages[i % 4], "kind": "profile"} for i in range(n)]
    points = [VectorPoint(point_id(f"m{i}", "profile", 0), vectors[i], payloads[i]) for i in range(n)]
    queries = vectors[:60] + 0.5 * rng.standard_normal((60, dim)).astype(np.float32) / np.sqrt(dim)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    narrow = SearchParams(hnsw_ef=1, quantization=QuantizationSearchParams(rescore=False))

    def recall(store: EdgeStore, params: SearchParams | None, filtered: int = 1, using: str | None = None) -> float:
        """`filtered`: how many languages the filter keeps (0: no filter)."""
        found = []
        with store.session(), store._shard(None) as shard:
            for k, query in enumerate(queries):
                kept = [languages[(k + j) % 4] for j in range(filtered)]
                members = np.flatnonzero([languages[i % 4] in kept for i in range(n)]) if filtered else np.arange(n)
                exact = {f"m{i}" for i in members[np.argsort(-(vectors[members] @ query))[:10]]}
                flt = PayloadFilter(languages=tuple(kept)) if filtered else None
                if params is None:  # movrec's own query
                    hits = store.query(query, flt, limit=10)
                else:
                    request = QueryRequest(
                        limit=10,
                        query=Query.Nearest(query.tolist(), using=using),
                        filter=edge_filter(flt),
                        params=params,
                        with_payload=True,
                    )
                    hits = shard.query(request)
                found.append(len({h.payload["movie_id"] for h in hits} & exact) / 10)
        return float(np.mean(found))

    large = EdgeStore(tmp_path / "large")
    large.switch(large.create_version("movies__m__1", dim, "m", graph=True).name)
    large.upsert(points)
    assert large.optimize() and large.versions()[0].graph and large.versions()[0].language_graphs
    assert recall(large, None) >= 0.98  # one language, movrec's query
    assert recall(large, None, filtered=2) >= 0.98
    assert recall(large, None, filtered=0) >= 0.98
    assert recall(large, narrow) < 0.9  # a beam of one, no ACORN: the main graph is what answered
    # the copy has graphs, one per language: walked without a filter they stay in the language they
    # start in (a quarter of the neighbours), which is why only a query kept to one language reads it
    assert recall(large, narrow, filtered=0, using=types.by_language("")) < 0.5
    small = EdgeStore(tmp_path / "small")
    small.switch(small.create_version("movies__m__1", dim, "m").name)
    small.upsert(points)
    assert small.optimize() and not small.versions()[0].graph
    assert recall(small, narrow) >= 0.9  # no graph: the int8 copy is scanned whatever the beam


def test_a_sync_optimizes_once_enough_was_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`optimize(due_only=True)` (what a partition sync asks) rebuilds segments only once
    `DenseIndex.defer_points` points were written since the last optimization; until then the new
    points are found as written. A plain `optimize()` (before a blue/green swap) always runs."""
    from movrec_dagster.core.vectorstore import types

    monkeypatch.setattr(types, "DENSE_INDEX", types.DenseIndex(defer_points=100))
    dim = 64
    vectors = np.random.default_rng(9).standard_normal((180, dim)).astype(np.float32)
    points = [VectorPoint(point_id(f"m{i}", "profile", 0), vectors[i], {"movie_id": f"m{i}"}) for i in range(180)]
    store = EdgeStore(tmp_path)
    store.switch(store.create_version("movies__m__1", dim, "m").name)
    store.upsert(points[:60])
    assert not store.optimize(due_only=True) and store.indexed_vectors() == 0  # 60 written: not due
    assert store.query(vectors[5], limit=1)[0].payload["movie_id"] == "m5"  # found as written
    store.upsert(points[60:120])
    assert store.optimize(due_only=True) and store.indexed_vectors() >= 120  # 120 written: due
    assert store.size() == 120
    store.upsert(points[120:])
    assert not store.optimize(due_only=True)  # the count starts again after an optimization
    assert store.query(vectors[130], limit=1)[0].payload["movie_id"] == "m130"
    assert store.optimize() and store.size() == 180  # a plain optimize() always runs
