"""Partition bookkeeping, per-movie embedding rows and reuse by text, points (pure logic + fakes)."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from movrec_dagster.core.entities import resolve_movies
from movrec_dagster.core.home import MovrecHome, write_table
from movrec_dagster.core.indexing import build_points, changed_partitions, partitions_to_index
from movrec_dagster.core.pending import clear_pending, mark_pending
from movrec_dagster.core.stages import embed_partition
from movrec_dagster.core.tables import TRANSCRIPT_SCHEMA
from movrec_dagster.core.vectorstore import PayloadFilter, VectorPoint

from .fakes import FakeEmbedder, catalogue, video, videos


def test_partitions_to_index_is_pending_plus_never_indexed(tmp_path) -> None:  # noqa: ANN001
    home = MovrecHome(tmp_path).ensure()
    assert partitions_to_index(home, {"en", "fr"}, {"en", "fr"}) == []
    mark_pending(home, ["en", "xx"])  # "xx": a partition Dagster does not know (yet) is not asked for
    assert partitions_to_index(home, {"en", "fr", "de"}, {"en", "fr"}) == ["de", "en"]
    clear_pending(home, "en")
    assert partitions_to_index(home, {"en", "fr", "de"}, {"en", "fr", "de"}) == []


def test_partitions_to_index_smallest_first(tmp_path) -> None:  # noqa: ANN001
    """A first catalogue ingest writes the small languages while the collection is small."""
    home = MovrecHome(tmp_path).ensure()
    cat = catalogue(*[(i, f"Movie {i}", 2000, lang, 1.0) for i, lang in enumerate("en en en fr fr de".split())])
    write_table(resolve_movies(videos(), {}, cat).movies, home.table("movies"))
    assert partitions_to_index(home, {"en", "fr", "de", "ja"}, set()) == ["ja", "de", "fr", "en"]


def test_changed_partitions_compares_movies_content_and_metadata() -> None:
    cat = catalogue((1, "Alpha", 2000, "en", 1.0), (2, "Beta", 2001, "fr", 1.0))
    before = resolve_movies(videos(), {}, cat).movies
    assert changed_partitions(None, before) == ["en", "fr"]
    assert changed_partitions(before, before) == []
    edited = cat.with_columns(
        pl.when(pl.col("movie_id") == "tmdb-2").then(pl.lit("new")).otherwise("overview").alias("overview")
    )
    assert changed_partitions(before, resolve_movies(videos(), {}, edited).movies) == ["fr"]
    moved = cat.with_columns(
        pl.when(pl.col("movie_id") == "tmdb-2").then(pl.lit("de")).otherwise("language").alias("language")
    )
    after = resolve_movies(videos(), {}, moved).movies
    assert changed_partitions(resolve_movies(videos(), {}, cat).movies, after) == ["de", "fr"]


def _transcripts(*rows: tuple[str, str, str]) -> pl.DataFrame:
    """(video, movie, text) rows."""
    return pl.DataFrame(
        [
            {
                "video_id": v,
                "movie_id": m,
                "content_hash": f"h-{v}",
                "fingerprint": "w",
                "language": "en",
                "segments": [{"start": 1.0, "end": 2.0, "text": text}],
                "error": None,
            }
            for v, m, text in rows
        ],
        schema=TRANSCRIPT_SCHEMA,
    )


def test_one_movie_many_videos_title_overview_and_chunks_with_reuse_by_text() -> None:
    clips = videos(video("c1", title="Casablanca", year=1942), video("c2", title="Casablanca", year=1942))
    res = resolve_movies(clips, {"c1": "en", "c2": "en"}, catalogue((289, "Casablanca", 1942, "en", 1.0)))
    embedder = FakeEmbedder()
    heard = _transcripts(("c1", "tmdb-289", "Here's looking at you, kid."))
    frame, _ = embed_partition(res.movies, heard, None, embedder)
    assert sorted(frame["kind"].to_list()) == ["overview", "profile", "title", "transcript"]
    title = frame.filter(pl.col("kind") == "title")["text"][0]
    assert title == "Casablanca (1942)"
    # a second clip is transcribed: only its own line is encoded; nothing else is
    embedder.encoded.clear()
    more = pl.concat([heard, _transcripts(("c2", "tmdb-289", "Round up the usual suspects."))])
    again, report = embed_partition(res.movies, more, frame, embedder)
    assert embedder.encoded == ["Round up the usual suspects."]
    assert report.processed == 1
    lines = again.filter(pl.col("kind") == "transcript")
    assert sorted(lines["video_id"].to_list()) == ["c1", "c2"] and lines["point_id"].n_unique() == 2


def test_a_table_written_before_lines_were_kept_gets_them_without_encoding() -> None:
    clips = videos(video("c1", title="Casablanca", year=1942))
    res = resolve_movies(clips, {"c1": "en"}, catalogue((289, "Casablanca", 1942, "en", 1.0)))
    heard = _transcripts(("c1", "tmdb-289", "Play it, Sam."))
    embedder = FakeEmbedder()
    frame, _ = embed_partition(res.movies, heard, None, embedder)
    line = frame.filter(pl.col("kind") == "transcript")["lines"].to_list()
    assert line == [[{"start": 1.0, "text": "Play it, Sam."}]]
    embedder.encoded.clear()
    again, report = embed_partition(res.movies, heard, frame.drop("lines"), embedder)
    assert embedder.encoded == [] and report.processed == 1  # cut again, every vector reused
    assert again.filter(pl.col("kind") == "transcript")["lines"].to_list() == line
    assert again.columns == frame.columns
    _, kept = embed_partition(res.movies, heard, again, embedder)
    assert embedder.encoded == [] and kept.processed == 0 and kept.cached == 1  # with lines: kept as it is


def test_vectors_are_reused_by_text_across_tables() -> None:
    cat = catalogue((1, "Alpha", 2000, "en", 1.0))
    movies = resolve_movies(videos(), {}, cat).movies
    embedder = FakeEmbedder()
    first, _ = embed_partition(movies, None, None, embedder)
    # one text: the document (the title heads the overview); the title point shares its vector
    assert embedder.encoded == ["Alpha (2000). The overview of Alpha."]
    vectors = {kind: vector for kind, vector in first.select("kind", "vector").iter_rows() if kind != "profile"}
    assert vectors["title"] == vectors["overview"] and set(first["kind"]) == {"title", "overview", "profile"}
    embedder.encoded.clear()
    from movrec_dagster.core.stages.embeddings import known_vectors

    # the same movie under another id (a rename): its texts are known, nothing is encoded again
    renamed = movies.with_columns(pl.lit("tmdb-9").alias("movie_id"))
    second, _ = embed_partition(renamed, None, None, embedder, known_vectors([first]))
    assert embedder.encoded == [] and set(second["movie_id"]) == {"tmdb-9"}


def test_points_carry_title_keys_aliases_and_the_video() -> None:
    clips = videos(video("c1", sidecar_id="casablanca", title="Casablanca", year=1942, kind="trailer"))
    res = resolve_movies(clips, {"c1": "en"}, catalogue((289, "Casablanca", 1942, "en", 1.0)))
    frame, _ = embed_partition(res.movies, _transcripts(("c1", "tmdb-289", "Play it, Sam.")), None, FakeEmbedder())
    points = build_points("en", frame, res.movies, None, "fake", res.aliases, {"c1": "trailer"})
    line = next(p for p in points if p.payload["kind"] == "transcript")
    assert line.payload["video_id"] == "c1" and line.payload["video_kind"] == "trailer"
    assert line.payload["aliases"] == ["casablanca"] and line.payload["title_keys"] == ["casablanca"]
    assert PayloadFilter(title_keys=("casablanca",), aliases=("x",)).clauses()[0] == [
        ("any", "title_keys", ["casablanca"]),
        ("any", "aliases", ["x"]),
    ]


def test_points_read_vectors_as_the_table_holds_them() -> None:
    """Points take each row's vectors from the table whatever its layout: fixed-size arrays (what
    embed_partition writes), lists (an older table), a second vector missing on some rows; each
    point's vectors and digest are those of its own row."""
    from movrec_dagster.core.indexing import point_digest

    movies = resolve_movies(videos(), {}, catalogue((1, "Alpha", 2000, "en", 1.0), (2, "Beta", 2001, "en", 2.0))).movies
    frame, _ = embed_partition(movies, None, None, FakeEmbedder(second=True))
    assert isinstance(frame.schema["vector"], pl.Array)
    width = frame.schema["vector2"].size
    as_lists = frame.with_columns(pl.col("vector", "vector2").cast(pl.List(pl.Float32)))
    some_missing = frame.with_columns(
        pl.when(pl.col("kind") == "title").then(None).otherwise(pl.col("vector2")).alias("vector2")
    )
    arrays, lists, missing = (build_points("en", f, movies, None, "fake") for f in (frame, as_lists, some_missing))
    assert [point_digest(p) for p in arrays] == [point_digest(p) for p in lists]
    rows = {r["point_id"]: r for r in frame.iter_rows(named=True)}
    for point in arrays:
        assert point.vector.tolist() == pytest.approx(rows[point.id]["vector"])
        assert point.second.tolist() == pytest.approx(rows[point.id]["vector2"]) and len(point.second) == width
    assert {p.payload["kind"] for p in missing if p.second is None} == {"title"}
    assert [p.vector.tolist() for p in missing] == [p.vector.tolist() for p in arrays]


def test_a_second_model_adds_its_vectors_and_reuses_the_first_models() -> None:
    """Turning the second model on re-encodes each text by the second model only; its vectors reach
    the points (and a profile of their own); a version without the second vector gets none."""
    from movrec_dagster.core.indexing import fit_points
    from movrec_dagster.core.stages.embeddings import known_vectors

    movies = resolve_movies(videos(), {}, catalogue((1, "Alpha", 2000, "en", 1.0), (2, "Beta", 2001, "en", 2.0))).movies
    one = FakeEmbedder()
    before, _ = embed_partition(movies, None, None, one)
    assert "vector2" not in before.columns
    two = FakeEmbedder(second=True)
    assert two.second is not None
    after, report = embed_partition(movies, None, before, two, known_vectors([before]))
    assert two.encoded == [] and len(two.second.models[0].encoded) == 2  # the first model's vectors reused
    assert report.notes["encoded_texts"] == "0" and report.notes["encoded_texts_second"] == "2"
    assert after["vector"].to_list() == before["vector"].to_list()
    assert after["vector2"].null_count() == 0 and after["vector2"].to_list() != after["vector"].to_list()
    profile = after.filter(pl.col("kind") == "profile")["vector2"].to_numpy()
    assert abs(float((profile[0] ** 2).sum()) - 1.0) < 1e-5  # a unit mean, like the first model's
    points = build_points("en", after, movies, None, "fake")
    assert all(p.second is not None for p in points)
    assert all(p.second is None for p in fit_points(points, None, two.settings.second_fingerprint))
    assert fit_points(points, two.settings.second_fingerprint, two.settings.second_fingerprint) is points
    # unchanged since: nothing is encoded by either model
    two.encoded.clear()
    two.second.models[0].encoded.clear()
    again, _ = embed_partition(movies, None, after, two)
    assert two.encoded == [] and two.second.models[0].encoded == [] and again.equals(after)
    # a second model added beside it (USE beside MiniLM): only the added model reads the texts
    three = FakeEmbedder(second=("fake-second", "fake-third"))
    assert three.second is not None
    more, report = embed_partition(movies, None, after, three, known_vectors([after]))
    first, added = three.second.models
    assert three.encoded == [] and first.encoded == [] and len(added.encoded) == 2
    assert report.notes["encoded_texts_second"] == "2"
    texts = more.filter(pl.col("kind") != "profile")
    kept = after.filter(pl.col("kind") != "profile")
    assert np.allclose(texts["vector2"].to_numpy()[:, :8], kept["vector2"].to_numpy())  # MiniLM's part kept
    assert texts["vector2"].to_numpy().shape[1] == 16


@pytest.mark.parametrize("engine", ["edge", "server"])
def test_a_sync_writes_only_the_points_that_changed(tmp_path, engine: str) -> None:  # noqa: ANN001
    """A partition synced again writes nothing it already holds: a changed movie's points, a new
    movie's, and the deletion of a movie gone; the store then holds exactly the new points. Both
    engines (the server's API through qdrant-client's local mode)."""
    from movrec_dagster.core.indexing import sync_partition
    from movrec_dagster.core.vectorstore import EdgeStore, QdrantServerStore

    def points(*rows: tuple[int, str, int, str, float]) -> list:
        res = resolve_movies(videos(), {}, catalogue(*rows))
        frame, _ = embed_partition(res.movies, None, None, FakeEmbedder())
        return build_points("en", frame, res.movies, None, "fake")

    rows = [(i, f"Movie {i}", 2000 + i, "en", 1.0) for i in range(1, 6)]
    store = EdgeStore(tmp_path) if engine == "edge" else QdrantServerStore(path=str(tmp_path))
    store.switch(store.create_version("movies__fake__1", FakeEmbedder.dimension, "fake").name)
    first = points(*rows)
    assert sync_partition(store, "en", first) == len(first)
    assert sync_partition(store, "en", points(*rows)) == 0  # the same points again: nothing written
    rows[1] = (2, "Movie 2", 2002, "en", 9.0)  # its popularity changed: its points' payload did
    again = points(*rows[:4], (7, "Movie 7", 2007, "en", 1.0))  # movie 5 gone, movie 7 new

    def plain(p: VectorPoint) -> tuple:  # points hold numpy vectors, which `==` compares elementwise
        return p.id, p.vector.tolist(), json.dumps(p.payload, sort_keys=True), p.sparse, p.second

    changed = {p.payload["movie_id"] for p in again if plain(p) not in [plain(q) for q in first]}
    written = sync_partition(store, "en", again)
    assert changed == {"tmdb-2", "tmdb-7"}
    assert written == sum(p.payload["movie_id"] in changed for p in again)
    assert {h.id for h in store.scroll()} == {p.id for p in again}  # movie 5's points deleted
