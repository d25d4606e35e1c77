"""Audio extraction with moviepy: 16 kHz mono 16-bit WAV, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

from .library import MediaError

SAMPLE_RATE = 16_000


def extract_audio(video: Path, target: Path) -> float:
    """Write the audio track of `video` to `target` (WAV) and return its duration in seconds.

    The file appears only when complete (temp file + rename), so a crash never leaves a
    half-written WAV that a later run would take for finished work.
    """
    from moviepy import VideoFileClip

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial.wav")
    try:
        with VideoFileClip(str(video), audio_fps=SAMPLE_RATE, audio_nbytes=2) as clip:
            if clip.audio is None:
                raise MediaError(f"{video}: no audio track, nothing to transcribe")
            duration = float(clip.audio.duration)
            clip.audio.write_audiofile(
                str(partial),
                fps=SAMPLE_RATE,
                nbytes=2,
                codec="pcm_s16le",
                ffmpeg_params=["-ac", "1"],
                logger=None,
            )
    except (OSError, ValueError, KeyError, IndexError) as exc:
        partial.unlink(missing_ok=True)
        raise MediaError(f"{video}: audio extraction failed ({str(exc).strip()[-200:]})") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    return duration
