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

from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl

from ..home import MovrecHome, read_table, write_table
from ..pending import pending_partitions
from ..search import resolve_ids
from ..vectorstore import Hit, PayloadFilter, VectorPoint, VectorStore, point_id, version_name
from .directory import compact, directory, forgotten, mark_forgotten, pseudonym, remember
from .events import Event, batch_stamp, batches_since, event_batches, read_events
from .profiles import UserTaste, event_weights, taste_of, taste_vector

LIKED_KEPT = 50
USERS_ALIAS = "users"


def profile_user(home: MovrecHome, store: VectorStore, user_id: str, files: list[Path] | None = None) -> UserTaste:
    """The user's taste from their stored events (all batches, or `files`); movie ids (aliases,
    `tmdb-…`) resolved to canonical ones; events about movies not in the index stay stored but count
    for nothing yet."""
    files = event_batches(home) if files is None else files
    events = read_events(home, user_id, files)
    asked = events["movie_id"].unique().to_list()
    if not asked:  # an empty id list would filter nothing: every profile in the store
        return UserTaste(user_id=user_id, weights={}, recent=[], segment="und", events=0)
    canonical = resolve_ids(store, asked)
    events = events.with_columns(pl.col("movie_id").replace(canonical)).filter(
        pl.col("movie_id").is_in(list(canonical.values()))
    )
    found = store.scroll(PayloadFilter(movie_ids=tuple(set(canonical.values())), kinds=("profile",)), with_vectors=True)
    profiles = {h.payload["movie_id"]: np.asarray(h.vector, dtype=np.float32) for h in found if h.vector}
    languages = {h.payload["movie_id"]: h.payload["language"] for h in found}
    taste = taste_of(user_id, events, languages)
    through = max((batch_stamp(f) for f in files), default=0.0)
    return replace(taste, vector=taste_vector(taste, profiles), through=through)


def _user_point(home: MovrecHome, users: VectorStore, user_id: str) -> Hit | None:
    if users.serving_version() is None:
        return None
    found = users.scroll(PayloadFilter(user_ids=(pseudonym(home, user_id),)), with_vectors=True)
    return found[0] if found and found[0].payload.get("watched") is not None else None


def current_taste(home: MovrecHome, store: VectorStore, users: VectorStore, user_id: str) -> UserTaste:
    """The user as last profiled (their point in the users collection: one lookup) plus what they
    did since (only the batches stored after it, so nothing watched is ever recommended back). A user
    no point holds yet: from the batches no profile run has read (`unread_batches`). An event older
    than what the point holds may be one it counted already (sent twice): then from all their events,
    so that a duplicate still counts once."""
    point = _user_point(home, users, user_id)
    if point is None:
        return profile_user(home, store, user_id, unread_batches(home))
    p = point.payload
    newer = batches_since(home, float(p.get("profiled_at") or 0.0))
    fresh = read_events(home, user_id, newer) if newer else read_events(home, user_id, [])
    if len(fresh) and float(fresh["timestamp"].min()) <= float(p.get("last_event") or 0.0):
        return profile_user(home, store, user_id)
    weights = dict(zip(p["watched"], p.get("weights") or []))
    recent = list(p["watched"])
    if len(fresh):
        canonical = resolve_ids(store, fresh["movie_id"].unique().to_list())
        fresh = fresh.with_columns(pl.col("movie_id").replace(canonical))
        weighted = event_weights(fresh).sort(["last", "movie_id"], descending=[True, False])
        for movie, weight in zip(weighted["movie_id"], weighted["weight"]):
            weights[movie] = weights.get(movie, 0.0) + weight
        newest = set(weighted["movie_id"])
        recent = [*weighted["movie_id"].to_list(), *(m for m in recent if m not in newest)]
    return UserTaste(
        user_id=user_id,
        weights=weights,
        recent=recent,
        segment=p.get("segment") or "und",
        events=int(p.get("events") or 0) + len(fresh),
        vector=np.asarray(point.vector, dtype=np.float32) if point.vector else None,
        through=max([float(p.get("profiled_at") or 0.0), *(batch_stamp(f) for f in newer)]),
        last_event=max([float(p.get("last_event") or 0.0), *fresh["timestamp"].to_list()]),
    )


def refresh_user(home: MovrecHome, store: VectorStore, users: VectorStore, user_id: str, model: str) -> bool:
    """Real time: the user's point brought up to date with what they did since it was written (their
    events since, not all of them), before the caller answers."""
    taste = current_taste(home, store, users, user_id)
    wanted = PayloadFilter(movie_ids=tuple(taste.weights), kinds=("profile",))
    found = store.scroll(wanted, with_vectors=True) if taste.weights else []
    profiles = {h.payload["movie_id"]: np.asarray(h.vector, dtype=np.float32) for h in found if h.vector}
    return save_user(home, users, replace(taste, vector=taste_vector(taste, profiles)), model)


def unread_batches(home: MovrecHome) -> list[Path]:
    """The batches that may hold events of a user no profile run has written a point for: those
    stored after the oldest segment run, and those no take-in has marked yet; all of them while a
    segment that never ran waits for its first run (its users' events may be anywhere)."""
    from .inbox import unprofiled_batches
    from .segments import synced

    runs = synced(home)
    if not runs or set(pending_partitions(home, kind="users")) - set(runs):
        return event_batches(home)
    oldest = min(run["through"] for run in runs.values())
    return sorted(set(batches_since(home, oldest)) | set(unprofiled_batches(home)))


def user_payload(
    key: str,
    segment: str,
    events: int,
    liked: list[str],
    watched: list[str],
    weights: list[float],
    profiled_at: float,
    last_event: float,
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
        "profiled_at": profiled_at,  # the newest event batch it reflects (batches after it are read)
        "last_event": last_event,
        "kind": "user",
    }


def user_point(key: str, taste: UserTaste) -> VectorPoint:
    weights = [taste.weights[m] for m in taste.recent]
    payload = user_payload(
        key, taste.segment, taste.events, taste.liked, taste.recent, weights, taste.through, taste.last_event
    )
    return VectorPoint(point_id(key, "user", 0), taste.vector, payload)


def save_user(home: MovrecHome, users: VectorStore, taste: UserTaste, model: str) -> bool:
    """Upsert the user's vector (creating the users collection on first use); False without a vector."""
    key = remember(home, [taste.user_id])[taste.user_id]
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
    mark_forgotten(home, key)
    removed = 0
    for path in event_batches(home):
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
    if key in directory(home):
        compact(home, without=key)
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
    info = next(v for v in users.versions(counts=False) if v.name == old)
    kept = [
        VectorPoint(h.id, h.vector, h.payload)
        for h in users.scroll(with_vectors=True)
        if h.payload.get("user_id") != key and h.vector is not None
    ]
    fresh = users.create_version(version_name(users.alias, info.model), info.dimension, info.model).name
    if kept:
        users.upsert(kept, version=fresh)
    users.set_pointers({"serving": fresh, "previous": None, "building": None})
    for version in users.versions(counts=False):
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
