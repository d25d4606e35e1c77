"""Taste from what people watched: the learned taste model served by recommendations and similar
movies, and the item-kNN table (a baseline, and the collaborative side of `/recommend` before a
model is trained)."""

import time

import dagster as dg
import polars as pl

from movrec_dagster.core.collaborative import item_knn, read_ratings
from movrec_dagster.core.home import read_table, write_table
from movrec_dagster.core.recsys.training import train
from movrec_dagster.defs.library.assets import movies
from movrec_dagster.defs.metadata import bar_chart, failures_markdown, frame_markdown
from movrec_dagster.defs.resources import LibraryResource
from movrec_dagster.defs.users.assets import user_events


@dg.asset(group_name="taste", deps=[movies], kinds={"scipy", "parquet"})
def item_neighbours(context: dg.AssetExecutionContext, library: LibraryResource) -> dg.MaterializeResult:
    """Item-kNN from MOVREC_HOME/ratings (MovieLens shape + links.csv): each movie's 100 nearest by
    who rated it, restricted to movies the library knows."""
    started = time.perf_counter()
    home = library.paths()
    ratings, failures = read_ratings(home.ratings)
    for name, cause in failures:
        context.log.error(f"skipped {name}: {cause}")
    known = read_table(home.table("movies"))
    if known is not None:
        # ratings name movies by TMDB id: canonical for catalogued movies, an alias of a movie that
        # only a video's sidecar `tmdb_id` knows
        aliases = read_table(home.table("aliases"))
        if aliases is not None:
            ratings = ratings.with_columns(
                pl.col("movie_id").replace(dict(aliases.select("alias", "movie_id").iter_rows()))
            )
        ratings = ratings.filter(pl.col("movie_id").is_in(known["movie_id"].implode()))
    model = item_knn(ratings)
    frame = model.to_frame()
    write_table(frame, home.table("item_neighbours"))
    if not len(frame):
        context.log.info(f"no ratings in {home.ratings}: recommendations use content only")
    top = sorted(model.raters.items(), key=lambda kv: -kv[1])[:10]
    return dg.MaterializeResult(
        metadata={
            "ratings": dg.MetadataValue.int(len(ratings)),
            "failed_files": dg.MetadataValue.md(failures_markdown(dict(failures))),
            "users": dg.MetadataValue.int(ratings["user_id"].n_unique()),
            "movies": dg.MetadataValue.int(len(model)),
            "pairs": dg.MetadataValue.int(len(frame)),
            "most_rated": dg.MetadataValue.md(
                frame_markdown(pl.DataFrame(top, schema=["movie_id", "raters"], orient="row"))
            ),
            "stage_seconds": dg.MetadataValue.float(round(time.perf_counter() - started, 3)),
        }
    )


@dg.asset(group_name="taste", deps=[user_events, movies], kinds={"numpy"})
def taste_model(context: dg.AssetExecutionContext, library: LibraryResource) -> dg.MaterializeResult:
    """The learned recommender (core/recsys): EASE, sequential transitions, content and popularity,
    blended with weights tuned on a validation split of the training data; versioned by the data it
    saw (the same data twice reuses the model) and picked up by the API without a restart."""
    trained = train(library.paths())
    if trained.model is None:
        context.log.info(f"{trained.users} user(s) with events: too few to learn from; content serves")
        return dg.MaterializeResult(metadata={"users": dg.MetadataValue.int(trained.users)})
    info = trained.model.info
    single = info.get("validation_single", {})
    return dg.MaterializeResult(
        metadata={
            "version": dg.MetadataValue.text(trained.version or ""),
            "reused": dg.MetadataValue.bool(trained.reused),
            "users": dg.MetadataValue.int(trained.users),
            "interactions": dg.MetadataValue.int(trained.interactions),
            "items": dg.MetadataValue.int(len(trained.model.items)),
            "weights": dg.MetadataValue.json(trained.model.weights),
            "ease_lambda": dg.MetadataValue.float(float(info.get("ease_lambda", 0.0))),
            "validation_ndcg_at_10": dg.MetadataValue.float(float(info.get("validation_ndcg", 0.0))),
            "validation_by_component": dg.MetadataValue.md(
                bar_chart({**single, "served blend": info.get("validation_ndcg", 0.0)})
            ),
            "stage_seconds": dg.MetadataValue.float(round(trained.seconds, 2)),
        }
    )
