"""Evaluation on public data (MovieLens + TMDB overviews), with the report in the UI and in Markdown."""

import time

import dagster as dg
import numpy as np
import polars as pl

from movrec_dagster.core import evaluation as ev
from movrec_dagster.core.bluegreen import load, promote
from movrec_dagster.core.catalogue import read_catalogue
from movrec_dagster.core.entities import resolve_movies
from movrec_dagster.core.home import MovrecHome, read_table, write_table
from movrec_dagster.core.indexing import build_points
from movrec_dagster.core.recsys import evaluate as rv
from movrec_dagster.core.recsys.data import hold_out_last
from movrec_dagster.core.stages import embed_partition
from movrec_dagster.core.tables import VIDEO_SCHEMA
from movrec_dagster.core.vectorstore import EdgeStore, version_name
from movrec_dagster.defs.metadata import bar_chart
from movrec_dagster.defs.resources import EmbedderResource, EvaluationResource, LibraryResource


def evaluation_store(home: MovrecHome) -> EdgeStore:
    """The evaluation's own embedded collection, apart from the one serving the library."""
    return EdgeStore(home.data / "evaluation" / "qdrant", alias="evaluation")


@dg.asset(group_name="evaluation", kinds={"qdrant"})
def evaluation_index(
    context: dg.AssetExecutionContext,
    library: LibraryResource,
    embedder: EmbedderResource,
    evaluation: EvaluationResource,
) -> dg.MaterializeResult:
    """The evaluation catalogue (MovieLens movies with TMDB overviews) embedded like any catalogue,
    into a collection of its own. Embeddings are cached between runs."""
    started = time.perf_counter()
    home, model = library.paths(), embedder.embedder()
    catalogue, failures = read_catalogue(evaluation.catalogue_path())
    ratings, _ = ev.read_movielens(evaluation.movielens_path(), set(catalogue["movie_id"].to_list()))
    if evaluation.max_movies:  # the most-rated first: a smaller run keeps the movies people watch
        top = ratings.group_by("movie_id").len().sort(["len", "movie_id"], descending=[True, False])
        catalogue = catalogue.filter(pl.col("movie_id").is_in(top["movie_id"].head(evaluation.max_movies).implode()))
    movies = resolve_movies(pl.DataFrame(schema=VIDEO_SCHEMA), {}, catalogue).movies
    table = home.data / "evaluation" / "embeddings.parquet"
    frame, report = embed_partition(movies, None, read_table(table), model)
    write_table(frame, table)
    write_table(movies, home.data / "evaluation" / "movies.parquet")
    store = evaluation_store(home)
    dimension, second = model.layout()
    version = store.create_version(
        version_name(store.alias, model.settings.model), dimension, model.settings.fingerprint, second
    ).name
    no_sentiment = pl.DataFrame(schema={"movie_id": pl.String, "sentiment": pl.Float64})
    points = 0
    for language in sorted(movies["language"].unique().to_list()):
        points += load(store, version, build_points(language, frame, movies, no_sentiment, model.settings.fingerprint))
    promote(store, version, keep=1)
    context.log.info(f"{len(movies)} movies, {points} points; {len(failures)} catalogue rows left out")
    return dg.MaterializeResult(
        metadata={
            "movies": dg.MetadataValue.int(len(movies)),
            "points": dg.MetadataValue.int(points),
            "embedded": dg.MetadataValue.int(report.processed),
            "cached": dg.MetadataValue.int(report.cached),
            "rows_left_out": dg.MetadataValue.int(len(failures)),
            "stage_seconds": dg.MetadataValue.float(round(time.perf_counter() - started, 1)),
        }
    )


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


@dg.asset(group_name="evaluation", deps=[evaluation_index], kinds={"qdrant"})
def search_evaluation(
    context: dg.AssetExecutionContext,
    library: LibraryResource,
    embedder: EmbedderResource,
    evaluation: EvaluationResource,
) -> dg.MaterializeResult:
    """Known-item search: a movie's MovieLens tags are the query, the movie the answer (Recall@k, MRR)."""
    home = library.paths()
    movies = read_table(home.data / "evaluation" / "movies.parquet")
    folder = evaluation.movielens_path()
    _, links = ev.read_movielens(folder, set())
    queries = ev.tag_queries(pl.read_csv(folder / "tags.csv"), links, set(movies["movie_id"].to_list()))
    if evaluation.max_queries:
        queries = queries.sort("movie_id").head(evaluation.max_queries)
    store = evaluation_store(home)
    with store.session():
        scores = ev.evaluate_search(store, embedder.embedder(), queries)
    rows = [
        (name, f"{s.recall(1):.3f}", f"{s.recall(5):.3f}", f"{s.recall(10):.3f}", f"{s.mrr():.3f}")
        for name, s in scores.items()
    ]
    markdown = _table(rows, ("search", "Recall@1", "Recall@5", "Recall@10", "MRR@10"))
    report = f"{len(queries)} queries over {len(movies)} movies.\n\n{markdown}\n"
    (home.data / "evaluation" / "search.md").write_text(report)
    context.log.info(report)
    examples = queries.head(5).rows()
    return dg.MaterializeResult(
        metadata={
            "queries": dg.MetadataValue.int(len(queries)),
            "report": dg.MetadataValue.md(report),
            "recall_at_10": dg.MetadataValue.md(bar_chart({n: round(s.recall(10), 3) for n, s in scores.items()})),
            "example_queries": dg.MetadataValue.md(_table([(m, q) for m, q in examples], ("movie", "query"))),
            **{f"mrr {name}": dg.MetadataValue.float(round(s.mrr(), 4)) for name, s in scores.items()},
        }
    )


@dg.asset(group_name="evaluation", deps=[evaluation_index], kinds={"numpy"})
def recommendation_evaluation(
    context: dg.AssetExecutionContext, library: LibraryResource, evaluation: EvaluationResource
) -> dg.MaterializeResult:
    """Next movie from a watch history (MovieLens), leave-last-out and a global time split:
    popularity, item-kNN, EASE, implicit ALS, sequential transitions, content only and the served
    blend (core/recsys), with bootstrap confidence intervals; and similar movies for held-out users."""
    home = library.paths()
    movies = read_table(home.data / "evaluation" / "movies.parquet")
    ratings, _ = ev.read_movielens(evaluation.movielens_path(), set(movies["movie_id"].to_list()))
    ratings = ratings.with_columns(pl.col("timestamp").cast(pl.Float64))
    embeddings = read_table(home.data / "evaluation" / "embeddings.parquet")
    profiles = embeddings.filter(pl.col("kind") == "profile").select("movie_id", "vector")
    items = sorted(movies["movie_id"].to_list())
    vectors = np.zeros((len(items), len(profiles["vector"][0])), dtype=np.float32)
    where = {m: i for i, m in enumerate(items)}
    for movie, vector in profiles.iter_rows():
        if movie in where:
            vectors[where[movie]] = vector
    present = np.linalg.norm(vectors, axis=1) > 0
    frame = ratings.select("user_id", "movie_id", "timestamp")
    splits = {}
    for name, split in (("leave-last-out", hold_out_last), ("global time split", rv.time_split)):
        train, test = split(frame)
        splits[name] = rv.evaluate_split(name, train, test, items, vectors, present, evaluation.max_users)
    similar = rv.evaluate_similar(ratings, items, vectors, present, evaluation.max_users)
    report = "\n\n".join(
        [
            f"{len(ratings)} ratings, {ratings['user_id'].n_unique()} users, {len(items)} movies.",
            *(rv.split_markdown(s) for s in splits.values()),
            rv.similar_markdown(similar),
        ]
    )
    (home.data / "evaluation" / "recommendation.md").write_text(report + "\n")
    context.log.info(report)
    primary = splits["leave-last-out"]
    return dg.MaterializeResult(
        metadata={
            "users": dg.MetadataValue.int(primary.cases),
            "report": dg.MetadataValue.md(report),
            **{
                f"ndcg_at_10 ({name})": dg.MetadataValue.md(
                    bar_chart({m: round(r.mean("ndcg"), 4) for m, r in split.models.items()})
                )
                for name, split in splits.items()
            },
            "similar_ndcg_at_10": dg.MetadataValue.md(
                bar_chart({m: round(float(v.mean()), 4) for m, v in similar.ndcg.items() if len(v)})
            ),
            **{f"ndcg {m}": dg.MetadataValue.float(round(r.mean("ndcg"), 5)) for m, r in primary.models.items()},
            "blend_weights": dg.MetadataValue.json(primary.blend_weights),
        }
    )
