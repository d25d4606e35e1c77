"""Noticing upload changes cheaply: stat every file, hash only what changed, wait for writes to settle."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .entities import UNDETERMINED
from .home import MovrecHome
from .library import MediaError, Sidecar, file_hash, find_videos, movie_id_for, read_sidecar
from .media import extract_audio
from .speech import WhisperSettings
from .stages import detected_language


@dataclass
class UploadChanges:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # still being written

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.deleted)

    def run_key(self, seen: dict[str, list[Any]]) -> str:
        """File identity + content hash of every change: the same change never launches two runs."""
        lines = sorted(f"{rel}:{seen[rel][2]}" for rel in self.added + self.changed)
        lines += sorted(f"{rel}:deleted" for rel in self.deleted)
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:32]


def listen_for_languages(
    home: MovrecHome,
    changes: UploadChanges,
    seen: dict[str, list[Any]],
    whisper: WhisperSettings,
    min_probability: float,
    budget_s: float,
    max_bytes: int,
) -> dict[str, str]:
    """The partition whisper puts each new or changed video in (no sidecar `language`), within `budget_s`.

    Extracts the audio and detects its language exactly as the scan will, into the same content-hash
    caches, so the scan reuses both and the answer cannot differ. Files beyond the budget, or that
    fail to decode, are left out (the scan reports failures); so are files over `max_bytes`, whose
    audio takes too long to extract inside a sensor tick (and whose transcription dwarfs a second
    run launch anyway).
    """
    deadline = time.monotonic() + budget_s
    heard: dict[str, str] = {}
    for rel in changes.added + changes.changed:
        video = home.uploads / rel
        if time.monotonic() >= deadline or video.suffix.lower() == ".json" or seen[rel][0] > max_bytes:
            continue
        try:
            sidecar, _ = read_sidecar(video)
            if sidecar.language:
                continue
            audio = home.audio_file(seen[rel][2])
            if not audio.exists():
                extract_audio(video, audio)
            language, probability = detected_language(audio, seen[rel][2], whisper, home.detections)
        except MediaError:
            continue
        heard[rel] = language if probability >= min_probability else UNDETERMINED
    return heard


def expected_language(
    uploads: Path, changes: UploadChanges, known: dict[str, str], heard: dict[str, str] | None = None
) -> str | None:
    """The language partition most of these uploads will land in, named before the scan runs.

    Per file: its sidecar `language`, else what whisper `heard` (see `listen_for_languages`), else
    the language its movie was filed under before (`known`: movie and video ids to it), else the
    library's most common language; a deleted file votes for the partition its movie leaves. None
    when there is nothing to go on (an empty library). A wrong guess costs only the fast path: the
    partitions that really changed are indexed after the scan.
    """
    heard = heard or {}
    common = Counter(known.values()).most_common(1)
    by_sidecar = {video.with_suffix(".json"): video for video in find_videos(uploads)}
    votes: Counter = Counter()
    # a video and its sidecar changing together are one movie: one vote
    touched = dict.fromkeys(by_sidecar.get(uploads / rel, uploads / rel) for rel in changes.added + changes.changed)
    for video in touched:
        try:
            sidecar, _ = read_sidecar(video)
        except MediaError:
            continue
        guess = (
            sidecar.language
            or heard.get(str(video.relative_to(uploads)))
            or known.get(movie_id_for(video, sidecar))
            or (common[0][0] if common else None)
        )
        if guess:
            votes[guess] += 1
    for rel in changes.deleted:  # a deleted movie leaves the partition it was in (known by file stem)
        if guess := known.get(movie_id_for(uploads / rel, Sidecar())):
            votes[guess] += 1
    return votes.most_common(1)[0][0] if votes else None


def _watched(uploads: Path) -> list[Path]:
    videos = find_videos(uploads) if uploads.exists() else []
    sidecars = [v.with_suffix(".json") for v in videos if v.with_suffix(".json").is_file()]
    return sorted(videos + sidecars)


def diff_uploads(
    uploads: Path,
    state: dict[str, Any],
    now: float,
    settle_s: float = 10.0,
    files: Callable[[Path], list[Path]] | None = None,
) -> tuple[UploadChanges, dict[str, Any]]:
    """Compare the upload folder with `state` ({"seen": {rel: [size, mtime_ns, hash]}, "pending": {...}}).

    A file counts once its size and mtime held still between two looks, or its mtime is older than
    `settle_s` (copies that keep the source's mtime, atomic renames). Until then it is `waiting`.
    `files` lists what to watch (default: videos and their sidecars).
    """
    seen: dict[str, list[Any]] = dict(state.get("seen", {}))
    pending: dict[str, list[int]] = dict(state.get("pending", {}))
    changes = UploadChanges()
    present = set()
    for path in (files or _watched)(uploads) if uploads.exists() else []:
        rel = str(path.relative_to(uploads))
        present.add(rel)
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        current = [stat.st_size, stat.st_mtime_ns]
        if rel in seen and seen[rel][:2] == current:
            pending.pop(rel, None)
            continue
        settled = pending.get(rel) == current or now - stat.st_mtime_ns / 1e9 >= settle_s
        if not settled:
            pending[rel] = current
            changes.waiting.append(rel)
            continue
        pending.pop(rel, None)
        digest = file_hash(path)
        if rel in seen and seen[rel][2] == digest:  # touched, not changed
            seen[rel] = [*current, digest]
            continue
        (changes.changed if rel in seen else changes.added).append(rel)
        seen[rel] = [*current, digest]
    for rel in sorted(set(seen) - present):
        changes.deleted.append(rel)
        del seen[rel]
    pending = {rel: v for rel, v in pending.items() if rel in present}
    return changes, {"seen": seen, "pending": pending}
