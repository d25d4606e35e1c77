"""Long audio (a whole film) in windows: bounded memory, checkpoints, progress.

A two-hour film is 115 M samples (460 MB as float32, more again inside whisper's feature pipeline)
and an hour or more of whisper on two cores. Its WAV (what `media.extract_audio` writes: 16 kHz mono
16-bit) is read WINDOW_S (half an hour) at a time, each window ending at the quietest fifth of a second of the
SEARCH_S before its nominal end, so that no word is cut in two. The windows depend on the audio
alone, so a run that resumes from checkpoints (`speech.transcribe`) cuts the same windows as an
uninterrupted one and produces the same transcript.
"""

from __future__ import annotations

import json
import os
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .media import SAMPLE_RATE

# 30 min: each window boundary costs whisper one short extra segment (10 min windows made a 2-hour
# film 6 % slower than one faster-whisper call: bench/throughput.py); a kill loses at most one window
WINDOW_S = 1800
SEARCH_S = 10
FRAME = SAMPLE_RATE // 5
# (seconds done, seconds in all, what is being done): how a long step reports where it is
Progress = Callable[[float, float, str], None]


def is_plain_wav(path: Path) -> bool:
    """A 16 kHz mono 16-bit PCM WAV, the format windows can be read from without decoding."""
    try:
        with wave.open(str(path), "rb") as wav:
            return (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (SAMPLE_RATE, 1, 2)
    except (wave.Error, EOFError, OSError):
        return False


def read(path: Path, start: int, end: int) -> np.ndarray:
    """Samples [start, end) of a plain WAV as float32 in [-1, 1]."""
    with wave.open(str(path), "rb") as wav:
        wav.setpos(start)
        frames = wav.readframes(max(end - start, 0))
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def length(path: Path) -> int:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes()


def windows(path: Path, window_s: int | None = None) -> Iterator[tuple[int, int]]:
    """(start, end) sample offsets covering the whole WAV, each cut at a quiet moment."""
    total, start = length(path), 0
    while start < total:
        nominal = start + (window_s or WINDOW_S) * SAMPLE_RATE
        if nominal + SAMPLE_RATE * SEARCH_S >= total:  # the rest fits: no cut that leaves a scrap
            yield start, total
            return
        lo = nominal - SEARCH_S * SAMPLE_RATE
        region = read(path, lo, nominal)
        frames = region[: len(region) // FRAME * FRAME].reshape(-1, FRAME)
        quietest = int(np.argmin((frames.astype(np.float64) ** 2).mean(axis=1)))
        end = lo + quietest * FRAME + FRAME // 2
        yield start, end
        start = end


class Checkpoints:
    """One JSON file per finished window under `folder`, written atomically; `None` keeps nothing."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def _path(self, start: int, end: int) -> Path:
        assert self.folder is not None
        return self.folder / f"{start:012d}-{end:012d}.json"

    def load(self, start: int, end: int) -> dict[str, Any] | None:
        if self.folder is None or not self._path(start, end).is_file():
            return None
        return json.loads(self._path(start, end).read_text())

    def save(self, start: int, end: int, done: dict[str, Any]) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = self.folder / f".{start}-{os.getpid()}.partial"
        partial.write_text(json.dumps(done))
        partial.replace(self._path(start, end))
