"""The collaborative signal: item-kNN from who rated what. No Dagster here.

similarity(i, j) = |U_i ∩ U_j| / (sqrt(|U_i|) * sqrt(|U_j|) + SHRINK)   (U_i: users who rated i)
score(m | history) = sum over liked l of sim(l, m) - DISLIKE_WEIGHT * sum over disliked d of sim(d, m)
Only the top NEIGHBOURS of each movie are kept, so the model is a small table.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from scipy import sparse

from .home import read_table
from .library import MediaError

SHRINK = 10.0
NEIGHBOURS = 100
DISLIKE_WEIGHT = 0.5
RATINGS_SCHEMA = {"user_id": pl.String, "movie_id": pl.String, "rating": pl.Float64, "timestamp": pl.Int64}
NEIGHBOUR_SCHEMA = {"movie_id": pl.String, "neighbour": pl.String, "similarity": pl.Float32}


@dataclass
class ItemNeighbours:
    """Top neighbours per movie and how many people rated each: all a recommendation needs."""

    neighbours: dict[str, list[tuple[str, float]]]
    raters: dict[str, int]

    def __len__(self) -> int:
        return len(self.neighbours)

    def scores(self, liked: list[str], disliked: list[str] | None = None) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for weight, items in ((1.0, liked), (-DISLIKE_WEIGHT, disliked or [])):
            for item in items:
                for other, similarity in self.neighbours.get(item, []):
                    out[other] += weight * similarity
        return dict(out)

    def to_frame(self) -> pl.DataFrame:
        rows = [(m, n, s) for m, pairs in self.neighbours.items() for n, s in pairs]
        return pl.DataFrame(rows, schema=NEIGHBOUR_SCHEMA, orient="row")

    @classmethod
    def from_frame(cls, frame: pl.DataFrame, raters: dict[str, int] | None = None) -> ItemNeighbours:
        neighbours: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for movie, other, similarity in frame.iter_rows():
            neighbours[movie].append((other, float(similarity)))
        return cls(dict(neighbours), raters or {})


def item_knn(ratings: pl.DataFrame, neighbours: int = NEIGHBOURS, block: int = 1024) -> ItemNeighbours:
    """Cosine similarity (shrunk) of the binary user x movie matrix; top `neighbours` per movie."""
    pairs = ratings.select("user_id", "movie_id").unique()
    users = pairs["user_id"].unique().sort().to_list()
    items = pairs["movie_id"].unique().sort().to_list()
    if not items:
        return ItemNeighbours({}, {})
    user_index = {u: i for i, u in enumerate(users)}
    item_index = {m: i for i, m in enumerate(items)}
    rows = np.array([user_index[u] for u in pairs["user_id"]])
    cols = np.array([item_index[m] for m in pairs["movie_id"]])
    matrix = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(users), len(items)))
    counts = np.asarray(matrix.sum(axis=0)).ravel()
    norms = np.sqrt(counts)
    by_item = matrix.T.tocsr()
    keep = min(neighbours, len(items) - 1)
    table: dict[str, list[tuple[str, float]]] = {}
    for start in range(0, len(items), block):  # a block of rows at a time keeps memory at block x items
        co = (by_item[start : start + block] @ matrix).toarray()
        sims = co / (norms[start : start + block, None] * norms[None, :] + SHRINK)
        for offset, row in enumerate(sims):
            row[start + offset] = 0.0  # not its own neighbour
            if keep <= 0:
                continue
            top = np.argpartition(-row, keep - 1)[:keep] if keep < len(row) else np.arange(len(row))
            top = top[row[top] > 0]
            top = top[np.argsort(-row[top])]
            table[items[start + offset]] = [(items[j], float(row[j])) for j in top]
    return ItemNeighbours(table, {m: int(c) for m, c in zip(items, counts)})


def read_ratings(folder: Path, id_prefix: str = "tmdb") -> tuple[pl.DataFrame, list[tuple[str, str]]]:
    """Ratings files in `folder` (MovieLens shape: userId, movieId, rating, timestamp), mapped to catalogue
    ids through a `links.csv` beside them (movieId -> tmdbId, else imdbId) or a `tmdbId` column of their
    own; and (file, cause) for each file that could not be used (the others still are)."""
    frames, failures = [], []
    links_path = folder / "links.csv"
    ids = {"tmdbId": pl.String, "imdbId": pl.String}
    links = pl.read_csv(links_path, schema_overrides=ids) if links_path.is_file() else None
    for path in sorted(folder.glob("*.csv")):
        if path.name in ("links.csv", "movies.csv", "tags.csv"):
            continue
        try:
            raw = _ratings_file(path, links)
        except (MediaError, pl.exceptions.PolarsError) as exc:
            failures.append((path.name, str(exc)))
            continue
        tmdb = (
            pl.lit(f"{id_prefix}-") + pl.col("tmdbId").str.strip_suffix(".0")
            if "tmdbId" in raw.columns
            else pl.lit(None, pl.String)
        )
        # no TMDB id: the IMDb id, which reaches a movie through its alias `imdb-tt…` (entities.py)
        imdb = (
            pl.lit("imdb-tt") + pl.col("imdbId").str.strip_suffix(".0").str.zfill(7)
            if "imdbId" in raw.columns
            else pl.lit(None, pl.String)
        )
        frames.append(
            raw.with_columns(pl.coalesce(tmdb, imdb).alias("movie"))
            .drop_nulls("movie")
            .select(
                pl.col("userId").alias("user_id"),
                pl.col("movie").alias("movie_id"),
                pl.col("rating").cast(pl.Float64),
                (pl.col("timestamp") if "timestamp" in raw.columns else pl.lit(0)).cast(pl.Int64).alias("timestamp"),
            )
        )
    return (pl.concat(frames) if frames else pl.DataFrame(schema=RATINGS_SCHEMA)), failures


def _ratings_file(path: Path, links: pl.DataFrame | None) -> pl.DataFrame:
    ids = {"movieId": pl.String, "tmdbId": pl.String, "imdbId": pl.String, "userId": pl.String}
    raw = pl.read_csv(path, schema_overrides=ids)
    if not {"userId", "rating"} <= set(raw.columns):
        raise MediaError(f"{path}: ratings need userId and rating columns (have {raw.columns[:8]})")
    if "tmdbId" not in raw.columns:
        if links is None or "movieId" not in raw.columns:
            raise MediaError(f"{path}: ratings need a tmdbId column, or movieId and a links.csv beside them")
        keep = [c for c in ("tmdbId", "imdbId") if c in links.columns]
        raw = raw.join(links.select(pl.col("movieId").cast(pl.String), *keep), on="movieId", how="inner")
    return raw


def load_neighbours(path: Path) -> ItemNeighbours | None:
    """The stored item-kNN table, or None when no ratings were ever given."""
    frame = read_table(path)
    return ItemNeighbours.from_frame(frame) if frame is not None and len(frame) else None
