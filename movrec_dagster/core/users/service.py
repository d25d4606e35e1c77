"""Users as the API and the CLI see them: profile a user from their events, keep their vector in the
`users` collection, forget them completely. No Dagster here.

User vectors live in the same store as the movies, in a collection of their own behind the alias
`users`, versioned like the movies collection; a point per user: the taste vector and, as payload,
a *keyed pseudonym* of the user (HMAC-SHA256 with a secret made for this home), their segment,
event count and the movies they liked most (what `similar_users` hands on). The user id itself never
enters the store: a deleted point's bytes linger in the engine's write-ahead log and payload index
until its files are rewritten (measured: qdrant-edge keeps them), so the store holds nothing that
names a person. `data/users/directory.parquet` maps pseudonyms back to ids for the evidence.

Forgetting a user removes their events from every stored batch and their row from the directory
(each file rewritten atomically), deletes their point and rebuilds the users collection from the
remaining points into a new version, dropping the old one with its log. Events that arrive for a
forgotten user afterwards are dropped and reported: all that is kept to recognise them is the
pseudonym.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl

from ..home import MovrecHome, read_table, write_table, write_text_atomic
from ..search import resolve_ids
from ..vectorstore import PayloadFilter, VectorPoint, VectorStore, point_id, version_name
from .events import Event, batches_since, events_folder, read_events
from .profiles import UserTaste, event_weights, taste_of, taste_vector

LIKED_KEPT = 50
USERS_ALIAS = "users"


def profile_user(home: MovrecHome, store: VectorStore, user_id: str) -> UserTaste:
    """The user's taste from their stored events; movie ids (aliases, `tmdb-…`) resolved to canonical
    ones; events about movies not in the index stay stored but count for nothing yet."""
    events = read_events(home, user_id)
    asked = events["movie_id"].unique().to_list()
    canonical = resolve_ids(store, asked)
    events = events.with_columns(pl.col("movie_id").replace(canonical)).filter(
        pl.col("movie_id").is_in(list(canonical.values()))
    )
    found = store.scroll(PayloadFilter(movie_ids=tuple(set(canonical.values())), kinds=("profile",)), with_vectors=True)
    profiles = {h.payload["movie_id"]: np.asarray(h.vector, dtype=np.float32) for h in found if h.vector}
    languages = {h.payload["movie_id"]: h.payload["language"] for h in found}
    taste = taste_of(user_id, events, languages)
    return replace(taste, vector=taste_vector(taste, profiles))


def current_taste(home: MovrecHome, store: VectorStore, users: VectorStore, user_id: str) -> UserTaste:
    """The user as last profiled (their point in the users collection: one lookup) plus what they
    watched since (only the batches stored after that, so nothing watched is ever recommended back);
    a user no profile run has seen yet: from all their events."""
    if users.serving_version() is not None:
        found = users.scroll(PayloadFilter(user_ids=(pseudonym(home, user_id),)), with_vectors=True)
        if found and found[0].payload.get("watched") is not None:
            p = found[0].payload
            weights = dict(zip(p["watched"], p.get("weights") or []))
            recent = list(p["watched"])
            newer = batches_since(home, float(p.get("profiled_at") or 0.0))
            if newer:
                mine = pl.scan_parquet(newer).filter(pl.col("user_id") == user_id).collect()
                fresh = event_weights(mine).sort(["last", "movie_id"], descending=[True, False])
                for movie, weight in zip(fresh["movie_id"], fresh["weight"]):
                    weights[movie] = weights.get(movie, 0.0) + weight
                recent = [*fresh["movie_id"].to_list(), *(m for m in recent if m not in set(fresh["movie_id"]))]
            return UserTaste(
                user_id=user_id,
                weights=weights,
                recent=recent,
                segment=p.get("segment") or "und",
                events=int(p.get("events") or 0),
                vector=np.asarray(found[0].vector, dtype=np.float32) if found[0].vector else None,
            )
    return profile_user(home, store, user_id)


def pseudonym(home: MovrecHome, user_id: str) -> str:
    return hmac.new(_secret(home), user_id.encode(), hashlib.sha256).hexdigest()[:32]


def _directory_path(home: MovrecHome) -> Path:
    return home.data / "users" / "directory.parquet"


_DIRECTORY: dict[str, tuple[int, dict[str, str]]] = {}  # path -> (mtime_ns, pseudonym -> id)


def directory(home: MovrecHome) -> dict[str, str]:
    """pseudonym -> user id; read again only when the file changed (a serving process asks often)."""
    path = _directory_path(home)
    if not path.is_file():
        return {}
    stamp = path.stat().st_mtime_ns
    cached = _DIRECTORY.get(str(path))
    if cached is None or cached[0] != stamp:
        frame = read_table(path)
        cached = (stamp, dict(frame.select("user_key", "user_id").iter_rows()) if frame is not None else {})
        _DIRECTORY[str(path)] = cached
    return dict(cached[1])


def _remember_many(home: MovrecHome, user_ids: list[str]) -> dict[str, str]:
    """user id -> pseudonym for many users, the directory written once."""
    keys = {user: pseudonym(home, user) for user in user_ids}
    known = directory(home)
    if any(known.get(key) != user for user, key in keys.items()):
        _write_directory(home, known | {key: user for user, key in keys.items()})
    return keys


def _write_directory(home: MovrecHome, known: dict[str, str]) -> None:
    write_table(pl.DataFrame({"user_key": list(known), "user_id": list(known.values())}), _directory_path(home))


def _remember(home: MovrecHome, user_id: str) -> str:
    return _remember_many(home, [user_id])[user_id]


def user_payload(
    key: str, segment: str, events: int, liked: list[str], watched: list[str], weights: list[float], profiled_at: float
) -> dict:
    """A user's point payload: the pseudonym, segment (also the store's `language` partition key), and
    what serving them needs without their events (watched movies newest first, with weights)."""
    return {
        "user_id": key,  # the pseudonym: see the module docstring
        "segment": segment,
        "language": segment,
        "events": events,
        "liked": liked[:LIKED_KEPT],
        "watched": watched,
        "weights": [round(w, 4) for w in weights],
        "profiled_at": profiled_at,
        "kind": "user",
    }


def user_point(key: str, taste: UserTaste) -> VectorPoint:
    # profiled "a little before now": a batch stored while the profile was read then counts as newer
    # (its weight counted twice for a moment beats a watched movie recommended back)
    weights = [taste.weights[m] for m in taste.recent]
    payload = user_payload(key, taste.segment, taste.events, taste.liked, taste.recent, weights, time.time() - 5.0)
    return VectorPoint(point_id(key, "user", 0), taste.vector, payload)


def save_user(home: MovrecHome, users: VectorStore, taste: UserTaste, model: str) -> bool:
    """Upsert the user's vector (creating the users collection on first use); False without a vector."""
    key = _remember(home, taste.user_id)
    if taste.vector is None:
        if users.serving_version() is not None:  # nothing indexed left to say about them
            users.delete(PayloadFilter(user_ids=(key,)))
        return False
    if users.serving_version() is None:
        users.switch(users.create_version(version_name(users.alias, model), len(taste.vector), model).name)
    users.upsert([user_point(key, taste)])
    return True


def similar_users(
    home: MovrecHome, users: VectorStore, taste: UserTaste, top_k: int
) -> list[tuple[str, float, list[str]]]:
    """(user id, cosine, the movies they liked most) of the closest users by taste, the user excluded."""
    if taste.vector is None or users.serving_version() is None:
        return []
    me, names = pseudonym(home, taste.user_id), directory(home)
    hits = users.query(taste.vector, limit=top_k + 1)
    out = [
        (names[h.payload["user_id"]], round(h.score, 4), list(h.payload.get("liked") or []))
        for h in hits
        if h.payload["user_id"] != me and h.payload["user_id"] in names
    ]
    return out[:top_k]


# forgetting
def _secret(home: MovrecHome) -> bytes:
    path = home.data / "users" / ".secret"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, os.urandom(32).hex())
    return bytes.fromhex(path.read_text().strip())


def _forgotten_path(home: MovrecHome) -> Path:
    return home.data / "users" / "forgotten.json"


def forgotten(home: MovrecHome) -> set[str]:
    path = _forgotten_path(home)
    return set(json.loads(path.read_text())) if path.is_file() else set()


def drop_forgotten(home: MovrecHome, events: list[Event]) -> tuple[list[Event], int]:
    """Events of users who were forgotten are not stored (reported by count)."""
    gone = forgotten(home)
    if not gone:
        return events, 0
    kept = [e for e in events if pseudonym(home, e.user_id) not in gone]
    return kept, len(events) - len(kept)


def forget_user(home: MovrecHome, users: VectorStore, user_id: str) -> int:
    """Every event of the user removed (batches rewritten atomically), their directory row and vector
    deleted and the users collection rebuilt without them; their pseudonym remembered so that later
    events are dropped. Returns how many events were removed."""
    key = pseudonym(home, user_id)
    write_text_atomic(_forgotten_path(home), json.dumps(sorted(forgotten(home) | {key})))
    removed = 0
    for path in sorted(events_folder(home).glob("batch-*.parquet")):
        frame = read_table(path)
        if frame is None:
            continue
        kept = frame.filter(pl.col("user_id") != user_id)
        if len(kept) == len(frame):
            continue
        removed += len(frame) - len(kept)
        if len(kept):
            write_table(kept, path)
        else:
            path.unlink(missing_ok=True)
    removed += _scrub_ratings(home, user_id)
    names = directory(home)
    if names.pop(key, None) is not None:
        _write_directory(home, names)
    if users.serving_version() is not None:
        _rebuild_without(users, key)
    return removed


def _scrub_ratings(home: MovrecHome, user_id: str) -> int:
    """A MovieLens user (`ml-<userId>`) also leaves the ratings files the collaborative model trains on."""
    from .events import RATINGS_USER_PREFIX

    if not user_id.startswith(RATINGS_USER_PREFIX):
        return 0
    number, removed = user_id.removeprefix(RATINGS_USER_PREFIX), 0
    for path in sorted(home.ratings.glob("*.csv")) if home.ratings.is_dir() else []:
        if path.name in ("links.csv", "movies.csv", "tags.csv"):
            continue
        frame = pl.read_csv(path, infer_schema=False)
        if "userId" not in frame.columns:
            continue
        kept = frame.filter(pl.col("userId") != number)
        if len(kept) < len(frame):
            removed += len(frame) - len(kept)
            partial = path.with_name(f".{path.name}.partial")
            kept.write_csv(partial)
            partial.replace(path)
    return removed


def _rebuild_without(users: VectorStore, key: str) -> None:
    """A new users version holding every point but the forgotten one; the old version (its segments and
    write-ahead log) is dropped, previous versions too."""
    old = users.serving_version()
    info = next(v for v in users.versions() if v.name == old)
    kept = [
        VectorPoint(h.id, h.vector, h.payload)
        for h in users.scroll(with_vectors=True)
        if h.payload.get("user_id") != key and h.vector is not None
    ]
    fresh = users.create_version(version_name(users.alias, info.model), info.dimension, info.model).name
    if kept:
        users.upsert(kept, version=fresh)
    users.set_pointers({"serving": fresh, "previous": None, "building": None})
    for version in users.versions():
        if version.name != fresh:
            users.drop_version(version.name)


# the batch path (the `user_profiles` asset)
def canonical_events(home: MovrecHome, events: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, str]]:
    """Events with movie ids made canonical (aliases, `tmdb-…`), and movie -> language partition,
    from the movies and aliases tables."""
    movies, aliases = read_table(home.table("movies")), read_table(home.table("aliases"))
    language = dict(movies.select("movie_id", "language").iter_rows()) if movies is not None else {}
    renames = dict(aliases.select("alias", "movie_id").iter_rows()) if aliases is not None else {}
    return events.with_columns(pl.col("movie_id").replace(renames)), language


def movie_profiles(home: MovrecHome, movies: set[str]) -> dict[str, np.ndarray]:
    """Profile vectors of these movies from the embeddings tables (no store round trip)."""
    out: dict[str, np.ndarray] = {}
    for path in sorted((home.data / "embeddings").glob("*.parquet")):
        frame = read_table(path)
        if frame is None or not len(frame):
            continue
        rows = frame.filter((pl.col("kind") == "profile") & pl.col("movie_id").is_in(list(movies)))
        out.update(zip(rows["movie_id"], rows["vector"].to_numpy()))
    return out


def sync_segment(home: MovrecHome, users: VectorStore, segment: str, model: str) -> dict:
    """Re-embed every user of one segment from all stored events and make the segment's points in the
    users collection exactly those (upsert, then drop the rest): other segments are not touched.
    Returns counts: users, with_vector, events (this segment's) and per_segment (users in each)."""
    from .batch import histories, segment_tastes, user_segments

    started = time.time()  # before reading: a batch stored meanwhile counts as newer
    events, language = canonical_events(home, read_events(home))
    segments = user_segments(events, language)
    members = segments.filter(pl.col("segment") == segment)["user_id"].to_list()
    profiles = movie_profiles(home, set(events["movie_id"].unique().to_list()))
    ids, vectors, liked, counts = segment_tastes(events, members, profiles)
    history = histories(events.filter(pl.col("user_id").is_in(ids)))
    keys = _remember_many(home, ids)
    points = [
        VectorPoint(
            point_id(keys[u], "user", 0),
            vectors[i],
            user_payload(keys[u], segment, counts.get(u, 0), liked.get(u, []), *history[u], started),
        )
        for i, u in enumerate(ids)
    ]
    if points and users.serving_version() is None:
        users.switch(users.create_version(version_name(users.alias, model), vectors.shape[1], model).name)
    if users.serving_version() is not None:
        users.upsert(points)
        users.delete(PayloadFilter(languages=(segment,), exclude_point_ids=tuple(p.id for p in points)))
    per_segment = dict(segments.group_by("segment").len().sort("segment").iter_rows())
    return {"users": len(members), "with_vector": len(points), "events": int(sum(counts.values()))} | {
        "per_segment": per_segment
    }
