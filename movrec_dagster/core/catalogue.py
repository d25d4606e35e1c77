"""Movies known from a metadata file (the TMDB top-10k shape), before any of their videos arrive.

How videos attach to these rows is `entities.resolve_movies`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import polars as pl

from .library import MediaError, normal_imdb_id

CATALOGUE_SUFFIXES = {".csv", ".parquet"}
# Accepted spellings of each field: TMDB's export first, then plain names.
COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "tmdb_id", "tmdbId", "movie_id"),
    "title": ("title", "tmdb_title", "ml_title"),
    "original_title": ("original_title",),
    "imdb_id": ("imdb_id", "imdbId"),
    "genres": ("genre", "genres", "tmdb_genres", "ml_genres"),
    "language": ("original_language", "language"),
    "overview": ("overview",),
    "year": ("year",),
    "release_date": ("release_date",),
    # how many people know a movie: its vote count where the file has one (TMDB's `popularity` is a
    # trending score of the last weeks; the vote count made search's renown prior the better ranker
    # on bench/renown_prior.py's tuning part), else that score
    "popularity": ("vote_count", "numVotes", "popularity"),
}
REQUIRED = ("id", "title")
CATALOGUE_SCHEMA = {
    "movie_id": pl.String,
    "catalogue_id": pl.String,
    "title": pl.String,
    "original_title": pl.String,
    "imdb_id": pl.String,
    "year": pl.Int64,
    "genres": pl.List(pl.String),
    "language": pl.String,
    "overview": pl.String,
    "popularity": pl.Float64,
    "source_file": pl.String,
}


def find_catalogues(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*") if p.suffix.lower() in CATALOGUE_SUFFIXES and p.is_file())


def _column(frame: pl.DataFrame, field: str) -> str | None:
    return next((name for name in COLUMNS[field] if name in frame.columns), None)


def _genres(value: Any) -> list[str]:
    if value is None:
        return []
    parts = value if isinstance(value, list) else re.split(r"[,|]", str(value))
    return [g.strip()[:100] for g in parts if g and g.strip() and g.strip() != "(no genres listed)"][:20]


def _year(row: dict[str, Any], year_col: str | None, date_col: str | None) -> int | None:
    raw = row.get(year_col) if year_col else None
    if raw is None and date_col and row.get(date_col):
        raw = str(row[date_col])[:4]
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def read_catalogue(path: Path, id_prefix: str = "tmdb") -> tuple[pl.DataFrame, list[tuple[str, str]]]:
    """One catalogue file as rows of CATALOGUE_SCHEMA, and (where, cause) for every row left out."""
    try:
        raw = pl.read_parquet(path) if path.suffix.lower() == ".parquet" else pl.read_csv(path, infer_schema=False)
    except Exception as exc:  # noqa: BLE001 - polars raises many kinds; all mean "unreadable"
        raise MediaError(f"{path}: cannot read catalogue ({exc})") from exc
    names = {field: _column(raw, field) for field in COLUMNS}
    missing = [field for field in REQUIRED if names[field] is None]
    if missing:
        raise MediaError(f"{path}: catalogue lacks column(s) {missing} (have {raw.columns[:12]})")
    rows, failures, seen = [], [], set()
    for line, row in enumerate(raw.iter_rows(named=True), start=2):  # line 1 is the header
        ident, title = row[names["id"]], row[names["title"]]
        if ident is None or str(ident).strip() == "" or not title:
            failures.append((f"{path.name}:{line}", "missing id or title"))
            continue
        ident = str(ident).strip().removesuffix(".0")
        if ident in seen:
            failures.append((f"{path.name}:{line}", f"duplicate id {ident}"))
            continue
        seen.add(ident)
        popularity = row.get(names["popularity"]) if names["popularity"] else None
        rows.append(
            {
                "movie_id": f"{id_prefix}-{ident}",
                "catalogue_id": ident,
                "title": str(title).strip()[:300],
                "original_title": _optional_text(row, names["original_title"], 300),
                "imdb_id": _imdb(row, names["imdb_id"]),
                "year": _year(row, names["year"], names["release_date"]),
                "genres": _genres(row.get(names["genres"]) if names["genres"] else None),
                "language": (str(row.get(names["language"]) or "").strip().lower() or None)
                if names["language"]
                else None,
                "overview": (str(row.get(names["overview"]) or "").strip()[:4000] or None)
                if names["overview"]
                else None,
                "popularity": _float(popularity),
                "source_file": path.name,
            }
        )
    return pl.DataFrame(rows, schema=CATALOGUE_SCHEMA), failures


def _imdb(row: dict[str, Any], column: str | None) -> str | None:
    return normal_imdb_id(str(row[column])) if column and row.get(column) else None


def _optional_text(row: dict[str, Any], column: str | None, limit: int) -> str | None:
    return (str(row.get(column) or "").strip()[:limit] or None) if column else None


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def read_catalogues(folder: Path) -> tuple[pl.DataFrame, list[tuple[str, str]]]:
    """Every catalogue file in `folder`; an unreadable file is a failure, the others still load."""
    frames, failures = [], []
    for path in find_catalogues(folder) if folder.exists() else []:
        try:
            frame, bad = read_catalogue(path)
        except MediaError as exc:
            failures.append((path.name, str(exc)))
            continue
        frames.append(frame)
        failures += bad
    if not frames:
        return pl.DataFrame(schema=CATALOGUE_SCHEMA), failures
    merged = pl.concat(frames)
    dupes = merged.filter(pl.col("movie_id").is_duplicated())
    for row in dupes.unique("movie_id", keep="last").iter_rows(named=True):  # first file wins
        failures.append((row["source_file"], f"id {row['catalogue_id']} also in an earlier file; ignored"))
    return merged.unique("movie_id", keep="first", maintain_order=True), failures
