"""The batch path of the users collection: one segment's users re-embedded (the `user_profiles`
asset), or every segment into a new version swapped in (blue/green) when the embedding model
changed. No Dagster here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

from ..home import MovrecHome, read_table, write_text_atomic
from ..vectorstore import PayloadFilter, VectorPoint, VectorStore, point_id, version_name
from .batch import histories, segment_tastes, user_segments
from .directory import compact, remember
from .events import batch_stamp, event_batches, read_events
from .service import canonical_events, user_payload


def _synced_path(home: MovrecHome) -> Path:
    return home.data / "users" / "segments.json"


def synced(home: MovrecHome) -> dict[str, dict]:
    """segment -> {"through": the newest batch its last run read, "model": the embedding model,
    "users": the segment's points after it}."""
    path = _synced_path(home)
    return json.loads(path.read_text()) if path.is_file() else {}


def _record_synced(home: MovrecHome, segment: str, through: float, model: str, users: int) -> None:
    run = {"through": through, "model": model, "users": users}
    write_text_atomic(_synced_path(home), json.dumps(synced(home) | {segment: run}))


def profile_vectors(home: MovrecHome, movies: set[str] | None = None) -> pl.DataFrame:
    """(movie_id, vector) of every indexed movie's profile (or of `movies`), sorted by id, read from
    the embeddings tables (no store round trip): what the users batch path and the taste model use."""
    frames = [read_table(p) for p in sorted((home.data / "embeddings").glob("*.parquet"))]
    wanted = pl.col("kind") == "profile"
    if movies is not None:
        wanted &= pl.col("movie_id").is_in(list(movies))
    rows = [f.filter(wanted).select("movie_id", "vector") for f in frames if f is not None and len(f)]
    if not rows:
        return pl.DataFrame(schema={"movie_id": pl.String, "vector": pl.List(pl.Float32)})
    return pl.concat(rows, how="vertical_relaxed").unique("movie_id", keep="first").sort("movie_id")


def movie_profiles(home: MovrecHome, movies: set[str]) -> dict[str, np.ndarray]:
    """Profile vectors of these movies."""
    rows = profile_vectors(home, movies)
    return dict(zip(rows["movie_id"], rows["vector"].to_numpy()))


def _points(
    home: MovrecHome, events: pl.DataFrame, members: list[str], segment: str, through: float
) -> tuple[list[VectorPoint], int]:
    """The points of `members` (all their events in `events`, canonical ids), and their event count."""
    events = events.filter(pl.col("user_id").is_in(members))
    profiles = movie_profiles(home, set(events["movie_id"].unique().to_list()))
    ids, vectors, liked, counts = segment_tastes(events, members, profiles)
    history = histories(events.filter(pl.col("user_id").is_in(ids)))
    last_event = dict(events.group_by("user_id").agg(pl.col("timestamp").max()).iter_rows())
    keys = remember(home, ids)
    points = [
        VectorPoint(
            point_id(keys[u], "user", 0),
            vectors[i],
            user_payload(keys[u], segment, counts.get(u, 0), liked.get(u, []), *history[u], through, last_event[u]),
        )
        for i, u in enumerate(ids)
    ]
    return points, int(sum(counts.values()))


def _serving_model(users: VectorStore) -> str | None:
    serving = users.serving_version()
    return next((v.model for v in users.versions(counts=False) if v.name == serving), None) if serving else None


def sync_segment(home: MovrecHome, users: VectorStore, segment: str, model: str, full: bool = False) -> dict:
    """Re-embed one segment's users into the users collection; other segments are not touched.

    Incremental by default: only the users with events in batches stored since the segment's last run
    (all their events read again, so a duplicate still counts once and their segment is decided on
    everything they did). The whole segment (upsert, then drop the segment's other points) on its
    first run or with `full`. A segment is a language, and one language can hold nearly every user
    (measured: 93.7k of 94k, 34 s to re-embed), so near real time needs the incremental path. When
    the serving users version holds another embedding model's vectors, every segment is rebuilt
    into a new version instead (`rebuild_users`). Returns counts: mode, users, with_vector, events,
    per_segment."""
    serving_model = _serving_model(users)
    if serving_model is not None and serving_model != model:
        return rebuild_users(home, users, model)
    files = event_batches(home)
    through = max((batch_stamp(f) for f in files), default=0.0)
    last = synced(home).get(segment)
    incremental = not full and last is not None and last.get("model") == model and serving_model is not None
    if incremental:
        newer = [f for f in files if batch_stamp(f) > last["through"]]
        changed = read_events(home, files=newer)["user_id"].unique().to_list() if newer else []
        raw = read_events(home, changed, files) if changed else read_events(home, files=[])
    else:
        raw = read_events(home, files=files)
    events, language = canonical_events(home, raw)
    members = user_segments(events, language).filter(pl.col("segment") == segment)["user_id"].to_list()
    points, events_count = _points(home, events, members, segment, through)
    if points and users.serving_version() is None:
        users.switch(users.create_version(version_name(users.alias, model), len(points[0].vector), model).name)
    in_segment = 0
    if users.serving_version() is not None:
        users.upsert(points)
        if not incremental:
            users.delete(PayloadFilter(languages=(segment,), exclude_point_ids=tuple(p.id for p in points)))
            compact(home)  # the batch path rewrites the directory once; serving only appends
            users.optimize(due_only=True)  # the int8 copy similar-user queries scan (types.DenseIndex)
        in_segment = users.count(PayloadFilter(languages=(segment,)))
    _record_synced(home, segment, through, model, in_segment)
    return {
        "mode": "incremental" if incremental else "full",
        "users": len(members),
        "with_vector": len(points),
        "events": events_count,
        "per_segment": {name: run.get("users", 0) for name, run in sorted(synced(home).items())},
    }


def rebuild_users(home: MovrecHome, users: VectorStore, model: str) -> dict:
    """Blue/green for users: every segment re-embedded into a new version while the old one serves,
    then the alias swapped (the old version kept as `previous` for a rollback, older ones dropped)."""
    files = event_batches(home)
    through = max((batch_stamp(f) for f in files), default=0.0)
    events, language = canonical_events(home, read_events(home, files=files))
    segments = user_segments(events, language)
    built: dict[str, list[VectorPoint]] = {}
    total = 0
    for segment, members in segments.group_by("segment", maintain_order=True).agg("user_id").sort("segment").rows():
        built[segment], count = _points(home, events, members, segment, through)
        total += count
    dimension = next((len(p[0].vector) for p in built.values() if p), None)
    if dimension is None:
        return {"mode": "rebuild", "users": 0, "with_vector": 0, "events": total, "per_segment": {}}
    old = users.serving_version()
    fresh = users.create_version(version_name(users.alias, model), dimension, model).name
    users.set_pointers({"building": fresh})
    for points in built.values():
        users.upsert(points, version=fresh)
    users.optimize(fresh)
    users.set_pointers({"serving": fresh, "previous": old, "building": None})
    for version in users.versions(counts=False):
        if version.name not in (fresh, old):
            users.drop_version(version.name)
    compact(home)
    for segment, points in built.items():
        _record_synced(home, segment, through, model, len(points))
    return {
        "mode": "rebuild",
        "users": segments.height,
        "with_vector": sum(len(p) for p in built.values()),
        "events": total,
        "per_segment": {segment: len(points) for segment, points in sorted(built.items())},
    }
