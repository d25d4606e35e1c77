"""Keyed pseudonyms of users and the one place that maps them back to user ids. No Dagster here.

The store only ever holds a pseudonym (HMAC-SHA256 of the user id with a secret made for this home):
see `service.py` for why. `data/users/directory.parquet` maps pseudonyms back to ids, for the
evidence a person reads ("users u17 and u42 liked it").

The directory is a compacted base plus an append-only log (`directory.log`, one JSON line per new
user): a new user costs one appended line, not a rewrite of every row (measured: rewriting 94k rows
took 40 ms of each real-time request). A torn last line (a crash mid-append) is ignored. Compaction
(the batch path) and forgetting rewrite the files atomically; a serving process reads the log from
where it stopped, and everything again only when the base or the log's file was replaced.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ..home import MovrecHome, read_table, write_table, write_text_atomic


def pseudonym(home: MovrecHome, user_id: str) -> str:
    return hmac.new(_secret(home), user_id.encode(), hashlib.sha256).hexdigest()[:32]


def _secret(home: MovrecHome) -> bytes:
    path = home.data / "users" / ".secret"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, os.urandom(32).hex())
    return bytes.fromhex(path.read_text().strip())


def _base(home: MovrecHome) -> Path:
    return home.data / "users" / "directory.parquet"


def _log(home: MovrecHome) -> Path:
    return home.data / "users" / "directory.log"


@dataclass
class _Cached:
    base_stamp: int
    log_inode: int
    offset: int
    names: dict[str, str] = field(default_factory=dict)


_CACHE: dict[str, _Cached] = {}
_LOCK = threading.Lock()


def directory(home: MovrecHome) -> dict[str, str]:
    """pseudonym -> user id (read-only: callers copy before changing it)."""
    base, log = _base(home), _log(home)
    base_stamp = base.stat().st_mtime_ns if base.is_file() else 0
    log_stat = log.stat() if log.is_file() else None
    inode, size = (log_stat.st_ino, log_stat.st_size) if log_stat else (0, 0)
    with _LOCK:
        cached = _CACHE.get(str(base))
        if cached is None or cached.base_stamp != base_stamp or cached.log_inode != inode or size < cached.offset:
            frame = read_table(base)
            names = dict(frame.select("user_key", "user_id").iter_rows()) if frame is not None else {}
            cached = _Cached(base_stamp, inode, 0, names)
            _CACHE[str(base)] = cached
        if size > cached.offset:
            with log.open("rb") as handle:
                handle.seek(cached.offset)
                tail = handle.read(size - cached.offset)
            complete = tail[: tail.rfind(b"\n") + 1]
            for line in complete.splitlines():
                try:
                    row = json.loads(line)
                    cached.names[row["k"]] = row["u"]
                except (ValueError, KeyError, TypeError):
                    continue  # a torn line from a crash mid-append
            cached.offset += len(complete)
        return cached.names


def remember(home: MovrecHome, user_ids: list[str]) -> dict[str, str]:
    """user id -> pseudonym; users the directory does not know yet are appended to its log."""
    keys = {user: pseudonym(home, user) for user in user_ids}
    known = directory(home)
    new = [(key, user) for user, key in keys.items() if known.get(key) != user]
    if new:
        log = _log(home)
        log.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps({"k": key, "u": user}) + "\n" for key, user in new)
        with log.open("a", encoding="utf-8") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())
    return keys


def compact(home: MovrecHome, without: str | None = None) -> None:
    """The base rewritten with every row (less `without`, a forgotten pseudonym), the log emptied."""
    names = dict(directory(home))
    if without and _log(home).is_file():  # first out of the log: a crash later leaves it nowhere new
        kept = [line for line in _log(home).read_text().splitlines(keepends=True) if without not in line]
        write_text_atomic(_log(home), "".join(kept))
    names.pop(without or "", None)
    write_table(pl.DataFrame({"user_key": list(names), "user_id": list(names.values())}), _base(home))
    write_text_atomic(_log(home), "")


def _forgotten_path(home: MovrecHome) -> Path:
    return home.data / "users" / "forgotten.json"


def forgotten(home: MovrecHome) -> set[str]:
    path = _forgotten_path(home)
    return set(json.loads(path.read_text())) if path.is_file() else set()


def mark_forgotten(home: MovrecHome, key: str) -> None:
    write_text_atomic(_forgotten_path(home), json.dumps(sorted(forgotten(home) | {key})))
