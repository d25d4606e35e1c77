"""Movies known from a metadata file (the TMDB top-10k shape), and merging them with the video library.

A movie with a video and a catalogue row is one movie: the video's id and spoken language, the
sidecar's fields where given, the catalogue's where not (the overview, most often).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import polars as pl

from .library import MediaError

CATALOGUE_SUFFIXES = {".csv", ".parquet"}
# Accepted spellings of each field: TMDB's export first, then plain names.
COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "tmdb_id", "tmdbId", "movie_id"),
    "title": ("title", "tmdb_title", "ml_title"),
    "genres": ("genre", "genres", "tmdb_genres", "ml_genres"),
    "language": ("original_language", "language"),
    "overview": ("overview",),
    "year": ("year",),
    "release_date": ("release_date",),
    "popularity": ("popularity", "vote_count"),
}
REQUIRED = ("id", "title")
CATALOGUE_SCHEMA = {
    "movie_id": pl.String,
    "catalogue_id": pl.String,
    "title": pl.String,
    "year": pl.Int64,
    "genres": pl.List(pl.String),
    "language": pl.String,
    "overview": pl.String,
    "popularity": pl.Float64,
    "source_file": pl.String,
}
MOVIE_SCHEMA = {
    "movie_id": pl.String,
    "language": pl.String,
    "source": pl.String,  # video | catalogue | video+catalogue
    "title": pl.String,
    "year": pl.Int64,
    "genres": pl.List(pl.String),
    "overview": pl.String,
    "catalogue_id": pl.String,
    "content_hash": pl.String,  # the video's; null for catalogue-only movies
    "file_name": pl.String,
    "popularity": pl.Float64,
    "meta_hash": pl.String,
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


def title_key(title: str | None, year: int | None) -> str:
    """Accent-, case- and punctuation-blind title plus year: how a video without an id finds its row."""
    text = unicodedata.normalize("NFKD", title or "").encode("ascii", "ignore").decode().lower()
    return f"{re.sub(r'[^a-z0-9]+', ' ', text).strip()}|{year or ''}"


def _meta_hash(row: dict[str, Any]) -> str:
    fields = {k: row[k] for k in ("language", "title", "year", "genres", "overview", "catalogue_id")}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:24]


def merge_movies(videos: pl.DataFrame, languages: pl.DataFrame | None, catalogue: pl.DataFrame | None) -> pl.DataFrame:
    """One row per movie: every usable, routed video (joined to its catalogue row) and every other catalogue row."""
    catalogue = catalogue if catalogue is not None else pl.DataFrame(schema=CATALOGUE_SCHEMA)
    by_id = {r["catalogue_id"]: r for r in catalogue.iter_rows(named=True)}
    by_title = {title_key(r["title"], r["year"]): r for r in catalogue.iter_rows(named=True)}
    routed = dict(zip(languages["movie_id"], languages["language"])) if languages is not None else {}
    rows, claimed = [], set()
    for video in videos.filter(pl.col("error").is_null()).iter_rows(named=True):
        language = routed.get(video["movie_id"])
        if not language:  # not routed yet, or its audio failed
            continue
        entry = by_id.get(video.get("catalogue_id") or "") or by_title.get(title_key(video["title"], video["year"]))
        if entry is not None:
            claimed.add(entry["movie_id"])
        cat = entry or {}
        rows.append(
            {
                "movie_id": video["movie_id"],
                "language": language,
                "source": "video+catalogue" if entry else "video",
                "title": video["title"] or cat.get("title"),
                "year": video["year"] or cat.get("year"),
                "genres": video["genres"] or cat.get("genres") or [],
                "overview": video["overview"] or cat.get("overview"),
                "catalogue_id": cat.get("catalogue_id"),
                "content_hash": video["content_hash"],
                "file_name": video["file_name"],
                "popularity": cat.get("popularity"),
            }
        )
    claimed |= {row["movie_id"] for row in rows}  # a video whose own id is a catalogue id
    for entry in catalogue.iter_rows(named=True):
        if entry["movie_id"] in claimed:
            continue
        rows.append(
            {
                "movie_id": entry["movie_id"],
                "language": entry["language"] or "und",
                "source": "catalogue",
                "title": entry["title"],
                "year": entry["year"],
                "genres": entry["genres"],
                "overview": entry["overview"],
                "catalogue_id": entry["catalogue_id"],
                "content_hash": None,
                "file_name": None,
                "popularity": entry["popularity"],
            }
        )
    for row in rows:
        row["meta_hash"] = _meta_hash(row)
    return pl.DataFrame(rows, schema=MOVIE_SCHEMA)
