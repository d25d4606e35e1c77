"""Watch events: validated, stored durably in micro-batches, read back deduplicated. No Dagster here.

An event is `(user_id, movie_id, event, value, timestamp, language?)`; `event` is one of
EVENT_KINDS and `value` is the rating (0.5-5, MovieLens scale) or the fraction watched (0-1).
A batch is validated whole (an error names the event's index and field, and nothing of the batch is
stored) and written as one Parquet file, atomically: a reader sees all of it or none. The same
(user, movie, event, timestamp) counts once, however often it arrives.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from ..home import MovrecHome, write_table

EVENT_KINDS = ("play", "progress", "finish", "like", "dislike", "rating")
EVENT_SCHEMA = {
    "user_id": pl.String,
    "movie_id": pl.String,
    "event": pl.String,
    "value": pl.Float64,
    "timestamp": pl.Float64,  # seconds since 1970, UTC
    "language": pl.String,
}
KEY = ("user_id", "movie_id", "event", "timestamp")
MAX_ID = 200
FUTURE_SLACK_S = 300.0  # clocks differ a little; an event from further ahead is an error


class EventError(ValueError):
    """A batch that cannot be stored; `errors` name each bad event by index and field."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors[:20]) + (f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""))
        self.errors = errors


@dataclass(frozen=True)
class Event:
    user_id: str
    movie_id: str
    event: str
    value: float | None
    timestamp: float
    language: str | None = None


def _timestamp(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError("must be seconds since 1970 or an ISO 8601 time")
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError("must be seconds since 1970 or an ISO 8601 time") from exc
        if parsed.tzinfo is None:
            raise ValueError("an ISO time needs its time zone (e.g. Z)")
        return parsed.timestamp()
    raise ValueError("must be seconds since 1970 or an ISO 8601 time")


def _text(raw: Any, name: str, limit: int) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(f"{name} must be a non-empty string")
    if len(raw) > limit:
        raise ValueError(f"{name} is longer than {limit} characters")
    return raw.strip()


def _field(raw: dict[str, Any], index: int, field: str, parse: Any, problems: list[str]) -> Any:
    try:
        return parse(raw.get(field))
    except ValueError as exc:
        problems.append(f"events[{index}].{field}: {exc}")
        return None


def _user(value: Any) -> str:
    return _text(value, "user_id", MAX_ID)


def _movie(value: Any) -> str:
    return _text(value, "movie_id", MAX_ID)


def _language(value: Any) -> str | None:
    return None if value is None else _text(value, "language", 16).lower()


def validate(raw_events: list[Any], now: float | None = None) -> list[Event]:
    """Every event checked; EventError lists each problem as `events[i].field: cause`."""
    now = time.time() if now is None else now
    out, errors = [], []
    for i, raw in enumerate(raw_events):
        if not isinstance(raw, dict):
            errors.append(f"events[{i}]: must be an object")
            continue
        problems: list[str] = []
        user = _field(raw, i, "user_id", _user, problems)
        movie = _field(raw, i, "movie_id", _movie, problems)
        kind = _field(raw, i, "event", _kind, problems)
        stamp = _field(raw, i, "timestamp", _timestamp, problems)
        if stamp is not None and not 0 <= stamp <= now + FUTURE_SLACK_S:
            problems.append(f"events[{i}].timestamp: {stamp:.0f} is before 1970 or in the future")
        language = _field(raw, i, "language", _language, problems)
        value = _field(raw, i, "value", lambda v, kind=kind: _value(kind, v), problems)
        if problems:
            errors += problems
            continue
        out.append(Event(user, movie, kind, value, stamp, language))
    if errors:
        raise EventError(errors)
    return out


def _kind(raw: Any) -> str:
    if raw not in EVENT_KINDS:
        raise ValueError(f"must be one of {', '.join(EVENT_KINDS)}")
    return str(raw)


def _value(kind: str | None, raw: Any) -> float | None:
    if raw is not None and (isinstance(raw, bool) or not isinstance(raw, int | float)):
        raise ValueError("must be a number")
    if kind == "rating":
        if raw is None or not 0.5 <= raw <= 5.0:
            raise ValueError("a rating is a number from 0.5 to 5")
    elif kind == "progress":
        if raw is None or not 0.0 <= raw <= 1.0:
            raise ValueError("progress is the fraction watched, from 0 to 1")
    return float(raw) if raw is not None else None


def events_folder(home: MovrecHome) -> Path:
    return home.data / "events"


def frame_of(events: list[Event]) -> pl.DataFrame:
    rows = [e.__dict__ for e in events]
    return pl.DataFrame(rows, schema=EVENT_SCHEMA).unique(list(KEY), keep="first", maintain_order=True)


def store_events(home: MovrecHome, events: list[Event]) -> Path | None:
    """One micro-batch, written atomically (temp file + rename): all of it is stored, or none."""
    return store_frame(home, frame_of(events)) if events else None


def batch_stamp(path: Path) -> float:
    """When a batch was stored (seconds since 1970): its name carries the time in ns."""
    stamp = path.name.split("-")[1] if path.name.count("-") >= 2 else ""
    return int(stamp) / 1e9 if stamp.isdigit() else 0.0


def event_batches(home: MovrecHome) -> list[Path]:
    return sorted(events_folder(home).glob("batch-*.parquet"))


def batches_since(home: MovrecHome, moment: float) -> list[Path]:
    """Batches stored after `moment` (seconds since 1970)."""
    return [path for path in event_batches(home) if batch_stamp(path) > moment]


def read_events(
    home: MovrecHome, user_id: str | list[str] | None = None, files: list[Path] | None = None
) -> pl.DataFrame:
    """Every stored event (optionally one user's, or these users'; optionally from these batches
    only), each (user, movie, event, timestamp) once."""
    files = event_batches(home) if files is None else files
    if not files:
        return pl.DataFrame(schema=EVENT_SCHEMA)
    scan = pl.scan_parquet(files)
    if isinstance(user_id, str):
        scan = scan.filter(pl.col("user_id") == user_id)
    elif user_id is not None:
        scan = scan.filter(pl.col("user_id").is_in(pl.Series(user_id, dtype=pl.String).implode()))
    return scan.collect().unique(list(KEY), keep="first", maintain_order=True).sort("timestamp")


def read_event_file(path: Path) -> list[dict[str, Any]]:
    """Events from a CSV, JSONL or Parquet file with the event fields as columns / keys."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        try:
            return [json.loads(line) for line in lines]
        except json.JSONDecodeError as exc:
            raise EventError([f"{path.name}: line {exc.lineno}: not valid JSON"]) from exc
    if suffix not in (".csv", ".parquet"):
        raise EventError([f"{path.name}: events come as .csv, .jsonl or .parquet"])
    frame = pl.read_parquet(path) if suffix == ".parquet" else pl.read_csv(path, infer_schema_length=10_000)
    return [{k: v for k, v in row.items() if v is not None} for row in frame.to_dicts()]


RATINGS_USER_PREFIX = "ml-"  # MovieLens user ids are numbers: kept apart from the API's user ids


def rating_events(ratings: pl.DataFrame) -> pl.DataFrame:
    """MovieLens-shaped ratings (`collaborative.read_ratings`) as rating events of users `ml-<userId>`."""
    return ratings.select(
        (pl.lit(RATINGS_USER_PREFIX) + pl.col("user_id").cast(pl.String)).alias("user_id"),
        "movie_id",
        pl.lit("rating").alias("event"),
        pl.col("rating").clip(0.5, 5.0).alias("value"),
        pl.col("timestamp").cast(pl.Float64),
        pl.lit(None, pl.String).alias("language"),
    ).unique(list(KEY), keep="first", maintain_order=True)


def store_frame(home: MovrecHome, frame: pl.DataFrame) -> Path | None:
    """An already valid frame of events (EVENT_SCHEMA) as one atomic batch."""
    if frame.is_empty():
        return None
    path = events_folder(home) / f"batch-{time.time_ns()}-{uuid.uuid4().hex[:8]}.parquet"
    write_table(frame.select(list(EVENT_SCHEMA)).cast(EVENT_SCHEMA), path)
    return path
