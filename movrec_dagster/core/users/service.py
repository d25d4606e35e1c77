"""Users as the API and the CLI see them: profile a user from their events, keep their vector in the
`users` collection, forget them completely. No Dagster here.

User vectors live in the same store as the movies, in a collection of their own behind the alias
`users`, versioned like the movies collection; a point per user: the taste vector and, as payload,
the user id, segment, event count and the movies they liked most (what `similar_users` hands on).

Forgetting a user removes their events from every stored batch (each batch rewritten atomically),
and their point. Events that arrive for a forgotten user afterwards are dropped and reported: the
only thing kept to know them is a keyed hash (HMAC-SHA256 with a secret made for this home), not
the id itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl

from ..home import MovrecHome, read_table, write_table, write_text_atomic
from ..search import resolve_ids
from ..vectorstore import PayloadFilter, VectorPoint, VectorStore, point_id, version_name
from .events import Event, events_folder, read_events
from .profiles import UserTaste, taste_of, taste_vector

LIKED_KEPT = 50
USERS_ALIAS = "users"


def profile_user(home: MovrecHome, store: VectorStore, user_id: str) -> UserTaste:
    """The user's taste from their stored events; movie ids (aliases, `tmdb-…`) resolved to canonical
    ones; events about movies not in the index are kept and listed in `unknown`."""
    events = read_events(home, user_id)
    asked = events["movie_id"].unique().to_list()
    canonical = resolve_ids(store, asked)
    unknown = sorted(set(asked) - set(canonical))
    events = events.with_columns(pl.col("movie_id").replace(canonical)).filter(
        pl.col("movie_id").is_in(list(canonical.values()))
    )
    found = store.scroll(PayloadFilter(movie_ids=tuple(set(canonical.values())), kinds=("profile",)), with_vectors=True)
    profiles = {h.payload["movie_id"]: np.asarray(h.vector, dtype=np.float32) for h in found if h.vector}
    languages = {h.payload["movie_id"]: h.payload["language"] for h in found}
    taste = taste_of(user_id, events, languages)
    return replace(taste, vector=taste_vector(taste, profiles), unknown=unknown)


def user_point(taste: UserTaste) -> VectorPoint:
    payload = {
        "user_id": taste.user_id,
        "segment": taste.segment,
        "language": taste.segment,  # the partition key the store filters on
        "events": taste.events,
        "liked": taste.liked[:LIKED_KEPT],
        "kind": "user",
    }
    return VectorPoint(point_id(taste.user_id, "user", 0), taste.vector, payload)


def save_user(users: VectorStore, taste: UserTaste, model: str) -> bool:
    """Upsert the user's vector (creating the users collection on first use); False without a vector."""
    if taste.vector is None:
        if users.serving_version() is not None:  # nothing indexed left to say about them
            users.delete(PayloadFilter(user_ids=(taste.user_id,)))
        return False
    if users.serving_version() is None:
        users.switch(users.create_version(version_name(users.alias, model), len(taste.vector), model).name)
    users.upsert([user_point(taste)])
    return True


def user_record(users: VectorStore, user_id: str) -> dict | None:
    if users.serving_version() is None:
        return None
    found = users.scroll(PayloadFilter(user_ids=(user_id,)))
    return found[0].payload if found else None


# forgetting
def _secret(home: MovrecHome) -> bytes:
    path = home.data / "users" / ".secret"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, os.urandom(32).hex())
    return bytes.fromhex(path.read_text().strip())


def _forgotten_path(home: MovrecHome) -> Path:
    return home.data / "users" / "forgotten.json"


def _mark(home: MovrecHome, user_id: str) -> str:
    return hmac.new(_secret(home), user_id.encode(), hashlib.sha256).hexdigest()


def forgotten(home: MovrecHome) -> set[str]:
    path = _forgotten_path(home)
    return set(json.loads(path.read_text())) if path.is_file() else set()


def drop_forgotten(home: MovrecHome, events: list[Event]) -> tuple[list[Event], int]:
    """Events of users who were forgotten are not stored (reported by count)."""
    gone = forgotten(home)
    if not gone:
        return events, 0
    kept = [e for e in events if _mark(home, e.user_id) not in gone]
    return kept, len(events) - len(kept)


def forget_user(home: MovrecHome, users: VectorStore, user_id: str) -> int:
    """Every event of the user removed (batches rewritten atomically), their vector deleted, and
    their keyed hash remembered so later events are dropped. Returns how many events were removed."""
    write_text_atomic(_forgotten_path(home), json.dumps(sorted(forgotten(home) | {_mark(home, user_id)})))
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
    if users.serving_version() is not None:
        users.delete(PayloadFilter(user_ids=(user_id,)))
    return removed
