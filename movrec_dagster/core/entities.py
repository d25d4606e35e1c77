"""Movies, their videos and the ids people hold: which video belongs to which movie. No Dagster here.

The movie is the unit; a video (trailer, teaser, clip, featurette, the film) belongs to one. A
movie's id is stable: the catalogue id (`tmdb-<id>`) when a catalogue knows it, else the sidecar's
`movie_id` or `id`, else the id its title group already had, else the first video's id. A video
attaches, in this order, by sidecar `tmdb_id` / `imdb_id` / `movie_id`, by normalised title and year
(±1) against the catalogue, by title and year against other stand-alone videos, or stands alone.

Ids never break: every id a movie was served under keeps resolving as an *alias* of the canonical
one (the stand-alone id of a video later matched to the catalogue, a sidecar `id`, `tmdb-<id>` and
`imdb-<id>` of a movie the catalogue does not know). The alias table is carried from scan to scan.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import polars as pl

UNDETERMINED = "und"
MOVIE_SCHEMA = {
    "movie_id": pl.String,
    "language": pl.String,
    "source": pl.String,  # video | catalogue | video+catalogue
    "title": pl.String,
    "original_title": pl.String,
    "year": pl.Int64,
    "genres": pl.List(pl.String),
    "overview": pl.String,
    "catalogue_id": pl.String,
    "imdb_id": pl.String,
    "content_hash": pl.String,  # of the movie's videos (sorted); null for catalogue-only movies
    "video_ids": pl.List(pl.String),
    "file_name": pl.String,  # the primary video's
    "popularity": pl.Float64,
    "meta_hash": pl.String,
}
MOVIE_VIDEO_SCHEMA = {
    "video_id": pl.String,
    "movie_id": pl.String,
    "kind": pl.String,
    "language": pl.String,  # spoken (the video's own), not necessarily the movie's partition
    "content_hash": pl.String,
    "file_name": pl.String,
    "duration_s": pl.Float64,
    "attached_by": pl.String,  # tmdb_id | imdb_id | movie_id | title+year | id | title-group | own
}
ALIAS_SCHEMA = {"alias": pl.String, "movie_id": pl.String, "reason": pl.String}
# kinds that speak for the movie best come first: their sidecar fields win over the others'
KIND_RANK = {"film": 0, "trailer": 1, "teaser": 2, "featurette": 3, "clip": 4, "other": 5}
_ARTICLES = ("the ", "a ", "an ", "la ", "le ", "les ", "el ", "los ", "las ", "il ", "der ", "die ", "das ")


def normal_title(title: str | None) -> str:
    """Accent-, case- and punctuation-blind title: what exact-title lookups compare."""
    text = unicodedata.normalize("NFKD", title or "").encode("ascii", "ignore").decode().lower()
    text = text.replace("&", " and ")
    normal = re.sub(r"[^a-z0-9]+", " ", text).strip()
    if normal or not title:
        return normal
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", title).lower()).strip()  # non-Latin titles


def title_keys(title: str | None) -> list[str]:
    """The title's lookup keys: the normal form, and without a leading article ("Matrix" finds
    "The Matrix")."""
    normal = normal_title(title)
    keys = [normal] if normal else []
    for article in _ARTICLES:
        if normal.startswith(article) and len(normal) > len(article):
            keys.append(normal[len(article) :])
            break
    return keys


def title_key(title: str | None, year: int | None) -> str:
    return f"{normal_title(title)}|{year or ''}"


@dataclass
class Resolution:
    movies: pl.DataFrame
    videos: pl.DataFrame  # MOVIE_VIDEO_SCHEMA
    aliases: pl.DataFrame  # ALIAS_SCHEMA
    notes: dict[str, str] = field(default_factory=dict)  # video or movie -> what was decided and why


def _meta_hash(row: dict[str, Any]) -> str:
    keys = ("language", "title", "original_title", "year", "genres", "overview", "catalogue_id", "video_ids")
    return hashlib.sha256(json.dumps({k: row[k] for k in keys}, sort_keys=True).encode()).hexdigest()[:24]


class _Catalogue:
    """The catalogue's rows by id, IMDb id and title + year."""

    def __init__(self, catalogue: pl.DataFrame | None) -> None:
        rows = list(catalogue.iter_rows(named=True)) if catalogue is not None else []
        self.by_movie = {r["movie_id"]: r for r in rows}
        self.by_id = {r["catalogue_id"]: r for r in rows}
        self.by_imdb = {r["imdb_id"]: r for r in rows if r.get("imdb_id")}
        self.by_title: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            for key in {normal_title(r["title"]), normal_title(r.get("original_title"))} - {""}:
                self.by_title.setdefault(key, []).append(r)

    def by_title_year(self, title: str | None, year: int | None) -> tuple[dict[str, Any] | None, str | None]:
        """The row with this title and year (±1, the exact year first); several rows with the same
        title and year: the most popular, with a note."""
        if not title or year is None:
            return None, None
        candidates = self.by_title.get(normal_title(title), [])
        for slack in (0, 1):
            found = [r for r in candidates if r["year"] is not None and abs(r["year"] - year) <= slack]
            if found:
                found.sort(key=lambda r: (-(r["popularity"] or 0.0), r["movie_id"]))
                note = None
                if len({r["movie_id"] for r in found}) > 1:
                    ids = ", ".join(r["movie_id"] for r in found)
                    note = f"title and year match {len(found)} catalogue rows ({ids}); took the most popular"
                return found[0], note
        return None, None

    def entry_for(self, v: dict[str, Any]) -> tuple[dict[str, Any] | None, str, str | None]:
        """A video's catalogue row (by sidecar tmdb id, IMDb id, explicit id, then title + year),
        how it was matched, and a note for the person reading the library's report."""
        entry, how, note = None, "", None
        if v["catalogue_id"]:
            entry, how = self.by_id.get(v["catalogue_id"]), "tmdb_id"
            if entry is None:
                note = f"sidecar tmdb_id {v['catalogue_id']} is in no catalogue; filed by its other fields"
        if entry is None and v["imdb_id"]:
            entry, how = self.by_imdb.get(v["imdb_id"]), "imdb_id"
        explicit = v["movie_hint"] or v["sidecar_id"]
        if entry is None and explicit and explicit in self.by_movie:  # an explicit id that is a catalogue id
            entry, how = self.by_movie[explicit], "movie_id"
        if entry is None and not v["movie_hint"]:
            entry, title_note = self.by_title_year(v["title"], v["year"])
            how, note = "title+year", title_note or note
        return entry, how, note


def catalogue_languages(videos: pl.DataFrame, catalogue: pl.DataFrame | None) -> dict[str, str]:
    """Video id -> the original language of the catalogue movie it belongs to (matched as
    `resolve_movies` matches it), for the videos that have one."""
    cat = _Catalogue(catalogue)
    out = {}
    for v in videos.filter(pl.col("error").is_null()).iter_rows(named=True):
        entry, _, _ = cat.entry_for(v)
        if entry is not None and entry.get("language"):
            out[v["video_id"]] = entry["language"]
    return out


def resolve_movies(
    videos: pl.DataFrame,
    routes: dict[str, str],
    catalogue: pl.DataFrame | None,
    previous_videos: pl.DataFrame | None = None,
    previous_aliases: pl.DataFrame | None = None,
) -> Resolution:
    """Every usable, routed video attached to its movie, every catalogue-only movie, and the aliases.

    `videos`: the scan's rows (usable ones are used); `routes`: video id -> spoken language;
    `previous_videos` / `previous_aliases`: the last resolution, so that ids stay put.
    """
    cat = _Catalogue(catalogue)
    before = dict(zip(previous_videos["video_id"], previous_videos["movie_id"])) if previous_videos is not None else {}
    notes: dict[str, str] = {}
    usable = [
        v
        for v in videos.filter(pl.col("error").is_null()).sort("video_id").iter_rows(named=True)
        if routes.get(v["video_id"])
    ]

    # 1. attach each video: catalogue (by tmdb, imdb, explicit id, title + year), else an explicit id
    attach: dict[str, tuple[str, str]] = {}  # video id -> (movie id, how)
    entry_of: dict[str, dict[str, Any]] = {}  # movie id -> catalogue row
    loose: list[dict[str, Any]] = []
    for v in usable:
        entry, how, note = cat.entry_for(v)
        if note:
            notes[v["video_id"]] = note
        explicit = v["movie_hint"] or v["sidecar_id"]
        if entry is not None:
            attach[v["video_id"]] = (entry["movie_id"], how)
            entry_of[entry["movie_id"]] = entry
        elif explicit:
            attach[v["video_id"]] = (explicit, "movie_id" if v["movie_hint"] else "id")
        else:
            loose.append(v)

    # 2. stand-alone videos with the same title and year are one movie; its id stays what it was
    groups: dict[str, list[dict[str, Any]]] = {}
    for v in loose:
        key = title_key(v["title"], v["year"]) if v["year"] is not None and v["title"] else f"video|{v['video_id']}"
        groups.setdefault(key, []).append(v)
    taken = {movie for movie, _ in attach.values()} | set(cat.by_movie)
    for members in groups.values():
        held = Counter(before[m["video_id"]] for m in members if before.get(m["video_id"]) not in (None, *taken))
        movie = held.most_common(1)[0][0] if held else members[0]["video_id"]
        if movie in taken and not held:
            movie = f"{movie}-video"  # a stem that collides with another movie's id
        taken.add(movie)
        for m in members:
            attach[m["video_id"]] = (movie, "title-group" if len(members) > 1 else "own")

    # 3. one row per movie; sidecar fields of the movie's first video (by kind, then id) win
    by_movie: dict[str, list[dict[str, Any]]] = {}
    for v in usable:
        by_movie.setdefault(attach[v["video_id"]][0], []).append(v)
    movies, links = [], []
    for movie, members in sorted(by_movie.items()):
        members.sort(key=lambda v: (KIND_RANK.get(v["kind"], 9), v["video_id"]))
        lead, entry = members[0], entry_of.get(movie) or {}
        _note_conflicts(movie, members, notes)
        spoken = Counter(routes[v["video_id"]] for v in members)
        top = max(spoken.values())
        tied = sorted(lang for lang, n in spoken.items() if n == top)
        language = entry.get("language") if entry.get("language") in tied else tied[0]
        if language == UNDETERMINED and entry.get("language"):
            language = entry["language"]
        pick = lambda name, members=members: next((v[name] for v in members if v[name]), None)  # noqa: E731
        movies.append(
            {
                "movie_id": movie,
                "language": language,
                "source": "video+catalogue" if entry else "video",
                # a catalogued movie goes by the catalogue's title; a sidecar's other title stays findable
                "title": entry.get("title") or pick("title"),
                "original_title": entry.get("original_title") or _other_title(lead, entry),
                "year": pick("year") or entry.get("year"),
                "genres": pick("genres") or entry.get("genres") or [],
                "overview": pick("overview") or entry.get("overview"),
                "catalogue_id": entry.get("catalogue_id"),
                "imdb_id": entry.get("imdb_id") or pick("imdb_id"),
                "content_hash": _videos_hash(members),
                "video_ids": [v["video_id"] for v in members],
                "file_name": lead["file_name"],
                "popularity": entry.get("popularity"),
            }
        )
        for v in members:
            links.append(
                {
                    "video_id": v["video_id"],
                    "movie_id": movie,
                    "kind": v["kind"],
                    "language": routes[v["video_id"]],
                    "content_hash": v["content_hash"],
                    "file_name": v["file_name"],
                    "duration_s": v["duration_s"],
                    "attached_by": attach[v["video_id"]][1],
                }
            )
    for entry in cat.by_movie.values():
        if entry["movie_id"] in by_movie:
            continue
        movies.append(
            {
                "movie_id": entry["movie_id"],
                "language": entry["language"] or UNDETERMINED,
                "source": "catalogue",
                "title": entry["title"],
                "original_title": entry.get("original_title"),
                "year": entry["year"],
                "genres": entry["genres"],
                "overview": entry["overview"],
                "catalogue_id": entry["catalogue_id"],
                "imdb_id": entry.get("imdb_id"),
                "content_hash": None,
                "video_ids": [],
                "file_name": None,
                "popularity": entry["popularity"],
            }
        )
    for row in movies:
        row["meta_hash"] = _meta_hash(row)
    frame = pl.DataFrame(movies, schema=MOVIE_SCHEMA)
    link_frame = pl.DataFrame(links, schema=MOVIE_VIDEO_SCHEMA)
    aliases = _aliases(frame, link_frame, usable, before, previous_aliases, notes)
    return Resolution(frame, link_frame, aliases, notes)


def _videos_hash(members: list[dict[str, Any]]) -> str:
    """The video's content hash for a one-video movie (so it reads as the file's), else one over all."""
    hashes = sorted(v["content_hash"] for v in members)
    return hashes[0] if len(hashes) == 1 else hashlib.sha256("|".join(hashes).encode()).hexdigest()


def _other_title(video: dict[str, Any], entry: dict[str, Any]) -> str | None:
    if entry and video["title_from_sidecar"] and normal_title(video["title"]) != normal_title(entry.get("title")):
        return video["title"]
    return None


def _note_conflicts(movie: str, members: list[dict[str, Any]], notes: dict[str, str]) -> None:
    for name in ("title", "year"):
        values = sorted({str(v[name]) for v in members if v[name] is not None and v.get(f"{name}_from_sidecar", True)})
        if len(values) > 1:
            notes[movie] = (
                f"its videos disagree on the {name} ({', '.join(values)}); "
                f"the {members[0]['kind']} {members[0]['video_id']}'s is used"
            )


def _aliases(
    movies: pl.DataFrame,
    links: pl.DataFrame,
    usable: list[dict[str, Any]],
    before: dict[str, str],
    previous: pl.DataFrame | None,
    notes: dict[str, str],
) -> pl.DataFrame:
    """Old ids and external ids of each movie, pointing at its canonical id: chains followed,
    cycles and self-references dropped, a canonical id never shadowed by an alias."""
    canonical = set(movies["movie_id"])
    now = dict(zip(links["video_id"], links["movie_id"]))
    edges: dict[str, tuple[str, str]] = {}
    if previous is not None:
        for alias, target, reason in previous.iter_rows():
            edges[alias] = (target, reason)
    # an id a video's movie was served under, where that movie is gone now
    for video, old in before.items():
        if video in now and old != now[video] and old not in canonical:
            edges[old] = (now[video], "earlier id")
    for v in usable:
        movie = now[v["video_id"]]
        for alias, reason in (
            (v["sidecar_id"], "sidecar id"),
            (v["movie_hint"], "sidecar movie_id"),
            (f"tmdb-{v['catalogue_id']}" if v["catalogue_id"] else None, "tmdb id"),
            (f"imdb-{v['imdb_id']}" if v["imdb_id"] else None, "imdb id"),
        ):
            if alias and alias != movie and alias not in canonical:
                if alias in edges and edges[alias][0] != movie and edges[alias][1] != "earlier id":
                    notes[alias] = f"alias {alias} is claimed by {edges[alias][0]} and {movie}; kept for {movie}"
                edges[alias] = (movie, reason)
    for row in movies.filter(pl.col("imdb_id").is_not_null()).iter_rows(named=True):
        alias = f"imdb-{row['imdb_id']}"
        if alias not in canonical:
            edges.setdefault(alias, (row["movie_id"], "imdb id"))
    rows = []
    for alias in sorted(edges):
        if alias in canonical:
            continue  # a canonical id always means its own movie
        target, reason, seen = edges[alias][0], edges[alias][1], {alias}
        while target not in canonical and target in edges and target not in seen:
            seen.add(target)
            target = edges[target][0]
        if target == alias or target in seen and target not in canonical:
            notes[alias] = f"alias {alias} would point to itself (a cycle); dropped"
            continue
        rows.append((alias, target, reason))  # a target that is gone stays, in case it comes back
    return pl.DataFrame(rows, schema=ALIAS_SCHEMA, orient="row")


def routes_of(languages: pl.DataFrame | None) -> dict[str, str]:
    """video id -> spoken language, from the `spoken_languages` table (routed videos only)."""
    if languages is None:
        return {}
    return dict(languages.drop_nulls("language").select("video_id", "language").iter_rows())
