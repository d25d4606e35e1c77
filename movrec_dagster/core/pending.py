"""The crash-safe to-do list of language partitions: changed tables whose points are not written yet.

A scan marks the partitions it changed *before* it writes the new movies table, and an index run
clears its partition only *after* its points are written. A run killed anywhere in between leaves
the partition marked, so the next run (the CLI's, or the index sensor after any scan) indexes it:
no gaps. Point ids are deterministic, so indexing twice leaves no duplicates.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from filelock import FileLock

from .home import MovrecHome, write_text_atomic

# the movie language partitions, and the user segments (the users side keeps the same kind of list)
LISTS = {"movies": "pending_partitions.json", "users": "users/pending_segments.json"}


def _path(home: MovrecHome, kind: str = "movies") -> Path:
    return home.data / LISTS[kind]


def pending_partitions(home: MovrecHome, kind: str = "movies") -> list[str]:
    path = _path(home, kind)
    return sorted(json.loads(path.read_text())) if path.is_file() else []


def _update(home: MovrecHome, change: dict[str, float | None], kind: str = "movies") -> None:
    path = _path(home, kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=60):
        marked = json.loads(path.read_text()) if path.is_file() else {}
        for language, stamp in change.items():
            if stamp is None:
                marked.pop(language, None)
            else:
                marked[language] = stamp
        write_text_atomic(path, json.dumps(marked, sort_keys=True))


def mark_pending(home: MovrecHome, languages: list[str], kind: str = "movies") -> None:
    if languages:
        _update(home, dict.fromkeys(languages, time.time()), kind)


def clear_pending(home: MovrecHome, language: str, kind: str = "movies") -> None:
    _update(home, {language: None}, kind)
