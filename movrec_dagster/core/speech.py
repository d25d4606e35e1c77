"""Speech to text with faster-whisper: language detection and VAD-filtered transcription."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .library import MediaError
from .models import whisper_model_path


@dataclass(frozen=True)
class WhisperSettings:
    model: str = "base"
    device: str = "cpu"  # "cpu", "cuda" or "auto"
    compute_type: str = "int8"  # "default" picks float16 on GPU
    cpu_threads: int = 0
    beam_size: int = 5
    vad_filter: bool = True

    @property
    def fingerprint(self) -> str:
        """What a cached transcript depends on; changing it invalidates the transcript."""
        return f"whisper:{self.model}:beam{self.beam_size}:vad{int(self.vad_filter)}"


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    language: str
    language_probability: float
    duration_s: float
    segments: list[Segment]


_load_lock = threading.Lock()


@lru_cache(maxsize=2)
def _load(model: str, device: str, compute_type: str, cpu_threads: int) -> object:
    from faster_whisper import WhisperModel

    path = whisper_model_path(model)
    return WhisperModel(
        path,
        device=device,
        compute_type=compute_type,
        cpu_threads=cpu_threads,
        local_files_only=Path(path).is_dir(),
    )


def load_whisper(settings: WhisperSettings) -> object:
    """The model, loaded once per process for a given setting."""
    with _load_lock:
        return _load(settings.model, settings.device, settings.compute_type, settings.cpu_threads)


def _decode(audio: Path) -> object:
    from faster_whisper import decode_audio

    try:
        return decode_audio(str(audio), sampling_rate=16_000)
    except Exception as exc:  # PyAV raises many unrelated types for broken files
        raise MediaError(f"{audio}: cannot decode audio ({exc})") from exc


def detect_language(audio: Path, settings: WhisperSettings) -> tuple[str, float]:
    """Whisper's language guess on the speech in `audio` (VAD skips leading silence/music)."""
    model = load_whisper(settings)
    samples = _decode(audio)
    if len(samples) < 1_600:
        raise MediaError(f"{audio}: audio shorter than 0.1 s, nothing to detect")
    language, probability, _ = model.detect_language(
        samples, vad_filter=settings.vad_filter, language_detection_segments=2
    )
    return language, float(probability)


def transcribe(audio: Path, settings: WhisperSettings, language: str | None = None) -> Transcript:
    """Segments of speech in `audio`; `language=None` lets whisper detect it."""
    model = load_whisper(settings)
    segments, info = model.transcribe(
        _decode(audio),
        language=language,
        beam_size=settings.beam_size,
        vad_filter=settings.vad_filter,
        condition_on_previous_text=False,
    )
    kept = [Segment(round(s.start, 2), round(s.end, 2), s.text.strip()) for s in segments if s.text.strip()]
    return Transcript(info.language, float(info.language_probability), float(info.duration), kept)
