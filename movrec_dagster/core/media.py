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


THUMBNAIL_WIDTH = 320
DARK = 16  # mean brightness (0-255) below which a frame is a fade or a black frame


def extract_thumbnail(video: Path, target: Path, duration_s: float) -> bool:
    """Write a representative frame of `video` to `target` (JPEG, 320 px wide); False when the file
    has no picture. ffmpeg's `thumbnail` filter picks, among 60 frames from 20 % into the video, the
    one closest to their average (not a flash or a cut); a dark result (a fade, a black frame) is
    tried again further in, at 40 % and 60 %."""
    from moviepy.config import FFMPEG_BINARY
    from moviepy.tools import subprocess_call
    from PIL import Image, ImageStat

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial.jpg")
    best: tuple[float, bytes] | None = None
    for share in (0.2, 0.4, 0.6):
        command = [FFMPEG_BINARY, "-y", "-nostdin", "-loglevel", "error", "-ss", f"{duration_s * share:.2f}"]
        command += ["-i", str(video), "-map", "0:v:0", "-vf", f"thumbnail=60,scale={THUMBNAIL_WIDTH}:-2"]
        command += ["-frames:v", "1", "-q:v", "4", str(partial)]
        try:
            subprocess_call(command, logger=None)
            with Image.open(partial) as image:
                brightness = float(ImageStat.Stat(image.convert("L")).mean[0])
        except (OSError, ValueError):
            partial.unlink(missing_ok=True)
            continue
        if best is None or brightness > best[0]:
            best = (brightness, partial.read_bytes())
        if brightness >= DARK:
            break
    partial.unlink(missing_ok=True)
    if best is None:
        return False
    partial.write_bytes(best[1])
    partial.replace(target)
    return True
