"""Audio extraction with moviepy's ffmpeg: 16 kHz mono 16-bit WAV, written atomically."""

from __future__ import annotations

import os
import wave
from pathlib import Path

from .library import MediaError

SAMPLE_RATE = 16_000


def extract_audio(video: Path, target: Path) -> float:
    """Write the audio track of `video` to `target` (WAV) and return its duration in seconds.

    One ffmpeg process through moviepy's own binary and call helper: decoding straight to a 16 kHz mono
    WAV is as fast as ffmpeg itself, where moviepy's clip API would pull the samples through Python
    (4-5x slower; see BENCHMARKS.md). The file appears only when complete (temp file + rename), so a
    crash never leaves a half-written WAV that a later run would take for finished work.
    """
    from moviepy.config import FFMPEG_BINARY
    from moviepy.tools import subprocess_call

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial.wav")
    command = [FFMPEG_BINARY, "-y", "-nostdin", "-loglevel", "error", "-i", str(video), "-vn", "-sn", "-dn"]
    command += ["-ac", "1", "-ar", str(SAMPLE_RATE), "-c:a", "pcm_s16le", "-f", "wav", str(partial)]
    try:
        subprocess_call(command, logger=None)
        with wave.open(str(partial), "rb") as wav:
            duration = wav.getnframes() / float(wav.getframerate())
    except (OSError, wave.Error, EOFError) as exc:
        partial.unlink(missing_ok=True)
        cause = str(exc).strip()
        if "does not contain any stream" in cause or "matches no streams" in cause:
            raise MediaError(f"{video}: no audio track, nothing to transcribe") from exc
        raise MediaError(f"{video}: audio extraction failed ({cause[-200:]})") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if duration <= 0:
        partial.unlink(missing_ok=True)
        raise MediaError(f"{video}: no audio track, nothing to transcribe")
    partial.replace(target)
    return duration
