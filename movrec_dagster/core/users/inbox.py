"""Event files dropped into MOVREC_HOME/events/ (CSV, JSONL, Parquet), and which user segments the
stored events changed. No Dagster here.

A file is taken in whole, as one batch (validated like `POST /events`: a bad file is reported by
name and nothing of it is stored), then removed: the stored batch is the durable copy, so a
forgotten user's events never linger in a second place. The upload sensor's settle rule (unchanged
across two looks) applies before a file is read.

Segments: every stored batch not yet profiled names its users; their segments are marked pending
(`pending.py`, kind "users") before the batches are recorded as seen, and `user_profiles` clears a
segment only after its points are written — the same crash-safe bookkeeping as the movies side.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from ..home import MovrecHome, write_text_atomic
from ..pending import mark_pending
from .batch import user_segments
from .events import EventError, events_folder, read_event_file, read_events, store_events, validate
from .service import canonical_events, drop_forgotten

INBOX_SUFFIXES = (".csv", ".jsonl", ".parquet")


def inbox(home: MovrecHome) -> Path:
    return home.root / "events"


def inbox_files(home: MovrecHome) -> list[Path]:
    folder = inbox(home)
    return (
        sorted(p for p in folder.glob("*") if p.suffix.lower() in INBOX_SUFFIXES and p.is_file())
        if folder.is_dir()
        else []
    )


def take_in(home: MovrecHome) -> tuple[dict[str, int], dict[str, str]]:
    """Every inbox file stored as a batch and removed: (file -> events stored, file -> cause)."""
    stored, failures = {}, {}
    for path in inbox_files(home):
        try:
            events, _ = drop_forgotten(home, validate(read_event_file(path)))
        except (EventError, pl.exceptions.PolarsError) as exc:
            failures[path.name] = f"{path}: nothing stored: {exc}"
            continue
        store_events(home, events)
        path.unlink(missing_ok=True)
        stored[path.name] = len(events)
    return stored, failures


def _seen_path(home: MovrecHome) -> Path:
    return home.data / "users" / "profiled_batches.json"


def unprofiled_batches(home: MovrecHome) -> list[Path]:
    seen = set(json.loads(_seen_path(home).read_text())) if _seen_path(home).is_file() else set()
    return [p for p in sorted(events_folder(home).glob("batch-*.parquet")) if p.name not in seen]


def mark_changed_segments(home: MovrecHome) -> list[str]:
    """The segments of every user in a batch not yet profiled, marked pending; the batches recorded."""
    batches = unprofiled_batches(home)
    if not batches:
        return []
    changed_users = pl.scan_parquet(batches).select("user_id").unique().collect()["user_id"].to_list()
    mine = read_events(home, changed_users)
    events, movie_language = canonical_events(home, mine)
    segments = sorted(user_segments(events, movie_language)["segment"].unique().to_list())
    mark_pending(home, segments, kind="users")  # first: a crash before the record redoes, never skips
    seen = set(json.loads(_seen_path(home).read_text())) if _seen_path(home).is_file() else set()
    live = {p.name for p in events_folder(home).glob("batch-*.parquet")}
    write_text_atomic(_seen_path(home), json.dumps(sorted((seen | {b.name for b in batches}) & live)))
    return segments
