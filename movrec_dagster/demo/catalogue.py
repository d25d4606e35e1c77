"""Regenerate the shipped demo catalogue: the most-voted TMDB movies plus the demo library's own.

Developer tool, not needed at run time: `catalogue.csv` ships in the package, in the shape of
Kaggle's "Top 10000 TMDB movies" file (the shape movrec's catalogue asset reads). Run:
    python -m movrec_dagster.demo.catalogue ../shared/data/tmdb_top10k/top10K-TMDB-movies.csv
This product uses the TMDB API but is not endorsed or certified by TMDB.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl

HERE = Path(__file__).parent
SIZE = 300


def main(source: str) -> None:
    demo_ids = [m["tmdb_id"] for m in json.loads((HERE / "movies.json").read_text())]
    movies = pl.read_csv(source)
    top = movies.sort("vote_count", descending=True).head(SIZE)
    chosen = pl.concat([top, movies.filter(pl.col("id").is_in(demo_ids))]).unique("id", keep="first")
    chosen.sort("vote_count", descending=True).write_csv(HERE / "catalogue.csv")
    print(f"wrote {len(chosen)} movies to {HERE / 'catalogue.csv'}")


if __name__ == "__main__":
    main(sys.argv[1])
