"""Taste from ratings: the item-kNN table recommendations blend in when people's ratings are known."""

import time

import dagster as dg
import polars as pl

from movrec_dagster.core.collaborative import item_knn, read_ratings
from movrec_dagster.core.home import read_table, write_table
from movrec_dagster.defs.library.assets import movies
from movrec_dagster.defs.metadata import failures_markdown, frame_markdown
from movrec_dagster.defs.resources import LibraryResource


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
