"""A bad-input corpus, generated with the ffmpeg binary moviepy ships: every kind of messy upload a
real library has, each with the outcome movrec promises for it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROCESSED, SKIPPED, QUARANTINED = "processed", "skipped", "quarantined"


@dataclass(frozen=True)
class Case:
    kind: str
    file: str  # the upload's file name (relative to the upload folder)
    outcome: str  # processed | skipped | quarantined
    cause: str = ""  # for skipped/quarantined: a piece of the reason that must be reported
    movie_id: str | None = None  # for processed: the id it must be searchable under


def ffmpeg(*args: str) -> None:
    from moviepy.config import FFMPEG_BINARY

    subprocess.run([FFMPEG_BINARY, "-y", "-nostdin", "-loglevel", "error", *args], check=True, timeout=300)


def _speech(demo_library: Path) -> Path:
    return demo_library / "the-martian.mp4"


def build_corpus(uploads: Path, demo_library: Path, outside: Path) -> list[Case]:
    """Writes the corpus into `uploads` (and a target for a symlink into `outside`)."""
    speech = _speech(demo_library)
    cases: list[Case] = []

    def add(case: Case, make: Callable[[Path], None]) -> None:
        make(uploads / case.file)
        cases.append(case)

    def clip(seconds: float, *encode: str) -> Callable[[Path], None]:
        # each upload a different stretch of speech (and tagged with its name): not duplicates
        start = 2 * (len(cases) % 7)
        return lambda target: ffmpeg(
            "-ss", str(start), "-i", str(speech), "-t", str(seconds), *encode,
            "-metadata", f"title={target.name}", str(target),
        )  # fmt: skip

    def sidecar(target: Path, content: str | bytes) -> None:
        path = target.with_suffix(".json")
        path.write_bytes(content if isinstance(content, bytes) else content.encode())

    good = (speech).read_bytes()
    add(Case("0-byte file", "empty.mp4", QUARANTINED, "empty file"), lambda t: t.write_bytes(b""))
    add(Case("truncated MP4", "truncated.mp4", QUARANTINED, "truncated.mp4"), lambda t: t.write_bytes(good[:3000]))
    add(
        Case("non-video with a video extension", "notes.mkv", QUARANTINED, "not a readable"),
        lambda t: t.write_text("shopping list: eggs, milk\n" * 50),
    )
    add(
        Case("video without an audio track", "mute.mp4", QUARANTINED, "no audio track"),
        lambda t: ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:rate=5", "-t", "2", "-c:v", "libx264", str(t)),
    )
    add(
        Case("silent audio", "silence.mp4", QUARANTINED, "no speech"),
        lambda t: ffmpeg(
            "-f", "lavfi", "-i", "testsrc=size=64x64:rate=5", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono",
            "-t", "4", "-c:v", "libx264", "-c:a", "aac", "-shortest", str(t),
        ),
    )  # fmt: skip
    add(
        Case("music/noise without speech", "tones.mp4", QUARANTINED, "no speech"),
        lambda t: ffmpeg(
            "-f", "lavfi", "-i", "testsrc=size=64x64:rate=5",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000,volume=0.5",
            "-t", "4", "-c:v", "libx264", "-c:a", "aac", "-shortest", str(t),
        ),
    )  # fmt: skip
    add(Case("very short (< 0.3 s)", "blink.mp4", QUARANTINED, "too short"), clip(0.2, "-c", "copy"))
    add(
        Case("variable frame rate, MPEG-4 part 2 + MP3 in Matroska", "vfr.mkv", PROCESSED, movie_id="vfr"),
        clip(6, "-vf", "setpts='PTS+0.02*sin(N)/TB'", "-fps_mode", "vfr", "-c:v", "mpeg4", "-c:a", "libmp3lame"),
    )
    add(
        Case("odd codecs: VP9 + Opus in WebM", "odd.webm", PROCESSED, movie_id="odd"),
        clip(6, "-c:v", "libvpx-vp9", "-deadline", "realtime", "-c:a", "libopus"),
    )
    add(Case("audio-only .mp3 (accepted)", "radio-play.mp3", PROCESSED, movie_id="radio-play"), clip(6, "-vn"))
    add(Case("audio-only .wav (accepted)", "dictation.wav", PROCESSED, movie_id="dictation"), clip(6, "-vn"))
    add(
        Case("unicode file name", "Amélie – 映画.mp4", PROCESSED, movie_id="Amélie-映画"),
        clip(6, "-c", "copy"),
    )
    add(
        Case("spaces and quotes in the name", 'it\'s a "quoted" film.mp4', PROCESSED, movie_id="it-s-a-quoted-film"),
        clip(6, "-c", "copy"),
    )
    add(Case("leading dashes in the name", "-rf --help.mp4", PROCESSED, movie_id="rf---help"), clip(6, "-c", "copy"))

    def escape(target: Path) -> None:
        real = outside / "secret.mp4"
        shutil.copy2(speech, real)
        os.symlink(real, target)

    add(Case("symlink pointing outside the upload folder", "escape.mp4", SKIPPED, "outside the upload folder"), escape)

    def dotdot(target: Path) -> None:
        clip(6, "-c", "copy")(target)
        sidecar(target, json.dumps({"id": "../../../etc/passwd", "title": "Path games"}))

    add(Case("`..` in sidecar values", "dotdot.mp4", PROCESSED, movie_id="etc-passwd"), dotdot)

    def malformed(target: Path) -> None:
        clip(6, "-c", "copy")(target)
        sidecar(target, '{"title": "Unclosed", "year": 19')

    add(Case("malformed sidecar JSON", "malformed.mp4", QUARANTINED, "not valid JSON"), malformed)

    def wrong_types(target: Path) -> None:
        clip(6, "-c", "copy")(target)
        sidecar(target, json.dumps({"title": {"nested": True}, "year": "last summer", "genres": 7}))

    add(Case("sidecar with wrong types", "wrongtypes.mp4", QUARANTINED, "must be"), wrong_types)

    def huge_strings(target: Path) -> None:
        clip(6, "-c", "copy")(target)
        sidecar(target, json.dumps({"title": "T" * 200_000, "overview": "o" * 200_000, "evil": ["x"] * 1000}))

    add(Case("sidecar with huge strings and extra fields", "huge.mp4", PROCESSED, movie_id="huge"), huge_strings)

    def enormous_sidecar(target: Path) -> None:
        clip(6, "-c", "copy")(target)
        sidecar(target, b'{"title": "' + b"A" * (3 << 20) + b'"}')

    add(Case("sidecar of several MB", "bloated.mp4", QUARANTINED, "larger than"), enormous_sidecar)

    def duplicate(target: Path) -> None:
        shutil.copy2(uploads / "Amélie – 映画.mp4", target)

    add(Case("duplicate content under a second name", "copy of amelie.mp4", SKIPPED, "same content as"), duplicate)
    return cases
