"""Speech to text with faster-whisper: language detection and VAD-filtered transcription."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from . import longform
from .library import MediaError
from .media import SAMPLE_RATE
from .models import whisper_model_path


@dataclass(frozen=True)
class WhisperSettings:
    model: str = "base"
    device: str = "auto"  # "auto": CUDA when ctranslate2 sees a GPU, else CPU; or "cpu", "cuda"
    compute_type: str = "auto"  # "auto": float16 on a GPU, int8 on CPU; or any CTranslate2 type
    cpu_threads: int = 0
    beam_size: int = 5
    vad_filter: bool = True
    # > 1: faster-whisper's BatchedInferencePipeline over VAD chunks: 1.2x the speed on 2 cores, but it
    # lost whole lines of long film dialogue (WER 0.41 against 0.14 sequential on the tuning clips of
    # bench/transcription_quality.py), so sequential is the default
    batch_size: int = 1

    @property
    def fingerprint(self) -> str:
        """What a cached transcript depends on; changing it invalidates the transcript."""
        batched = f":batch{self.batch_size}" if self.batch_size > 1 else ""
        gate = f"@{VAD.candidate:g}" if self.vad_filter and VAD.candidate != 0.5 else ""
        return f"whisper:{self.model}:beam{self.beam_size}:vad{int(self.vad_filter)}{gate}{batched}"


@dataclass(frozen=True)
class SpeechGate:
    """The speech/no-speech decision, in two stages. Silero VAD (the one inside faster-whisper)
    finds candidate speech at `candidate` (a low threshold: film dialogue under a loud score scores
    low); where it is sure (`sure`) that is speech; otherwise whisper listens to the candidates and
    it is speech when a segment has text and whisper's own no-speech probability is below
    `no_speech` (faster-whisper's default). Transcription cuts the audio with the same VAD threshold
    and drops segments by the same rule, so what passes the gate is what gets transcribed.
    Chosen with bench/speech_detection.py (BENCHMARKS.md)."""

    candidate: float = 0.15
    sure: float = 0.5
    no_speech: float = 0.6

    def options(self) -> Any:  # faster_whisper.vad.VadOptions
        from faster_whisper.vad import VadOptions

        return VadOptions(threshold=self.candidate)

    def __str__(self) -> str:
        if self.sure <= self.candidate:
            return f"VAD {self.candidate:g}"
        return f"VAD {self.candidate:g}, whisper decides below {self.sure:g} (no-speech < {self.no_speech:g})"


VAD = SpeechGate()


def speech_spans(samples: np.ndarray, gate: SpeechGate = VAD, model: Any = None) -> list[dict[str, int]]:
    """The speech in `samples` (sample offsets), or [] when the gate says there is none. Without a
    whisper `model`, candidates the VAD is unsure of count as no speech."""
    from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

    samples = np.asarray(samples, dtype=np.float32)
    spans = get_speech_timestamps(samples, gate.options())
    if not spans or gate.sure <= gate.candidate:
        return spans
    if get_speech_timestamps(samples, VadOptions(threshold=gate.sure)):
        return spans
    if model is None:
        return []
    heard = np.concatenate(collect_chunks(samples, spans)[0], axis=0)
    segments, _ = model.transcribe(
        heard, vad_filter=False, beam_size=1, condition_on_previous_text=False, without_timestamps=True
    )
    spoken = any(s.text.strip() and s.no_speech_prob < gate.no_speech for s in segments)
    return spans if spoken else []


def has_speech(samples: np.ndarray, gate: SpeechGate = VAD, model: Any = None) -> bool:
    return bool(speech_spans(samples, gate, model))


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


def resolve_device(device: str, compute_type: str) -> tuple[str, str]:
    """("auto", "auto") becomes ("cuda", "float16") where CTranslate2 sees a GPU, else ("cpu", "int8")."""
    if device == "auto":
        import ctranslate2

        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


@lru_cache(maxsize=2)
def _load(model: str, device: str, compute_type: str, cpu_threads: int) -> object:
    from faster_whisper import WhisperModel

    path = whisper_model_path(model)
    device, compute_type = resolve_device(device, compute_type)
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


def _decode(audio: Path) -> np.ndarray:
    from faster_whisper import decode_audio

    # the audio stage's WAV, read directly: faster-whisper's `decode_audio` ends with a full
    # `gc.collect()` (to free PyAV frames), 0.2 s per file in a process holding Dagster and torch
    if longform.is_plain_wav(audio):
        return longform.read(audio, 0, longform.length(audio))
    try:
        return decode_audio(str(audio), sampling_rate=SAMPLE_RATE)
    except Exception as exc:  # PyAV raises many unrelated types for broken files
        raise MediaError(f"cannot decode audio ({exc})") from exc


NO_SPEECH = (
    "no speech found (silence, music or noise only); a sidecar with `language` (and an `overview`) "
    "indexes it by its metadata"
)


def _windows(audio: Path) -> Iterator[tuple[int, int, Callable[[], np.ndarray]]]:
    """(start, end, read) per window of `audio`: a plain WAV (what the audio stage writes) in
    `longform` windows, read only when asked; anything else decoded whole, as one window."""
    if longform.is_plain_wav(audio):
        for start, end in longform.windows(audio):
            yield start, end, functools.partial(longform.read, audio, start, end)
        return
    samples = _decode(audio)
    yield 0, len(samples), lambda: samples


def detect_language(audio: Path, settings: WhisperSettings) -> tuple[str, float]:
    """Whisper's language guess on the first speech in `audio` (VAD skips silence and music; a
    film is read a window at a time until its first words).

    Raises MediaError (without the file name: callers name the upload) when there is no speech,
    where whisper would otherwise guess a language from nothing.
    """
    from faster_whisper.vad import collect_chunks

    model = load_whisper(settings)
    for start, end, samples_of in _windows(audio):
        if start == 0 and end < 1_600:
            raise MediaError("audio shorter than 0.1 s, nothing to detect")
        samples = samples_of()
        speech = speech_spans(samples, VAD, model)
        if not speech:
            continue
        if settings.vad_filter:  # the speech found above, as faster-whisper's own vad_filter would cut it
            samples = np.concatenate(collect_chunks(samples, speech)[0], axis=0)
        language, probability, _ = model.detect_language(samples, vad_filter=False, language_detection_segments=2)
        return language, float(probability)
    raise MediaError(NO_SPEECH)


def transcribe(
    audio: Path,
    settings: WhisperSettings,
    language: str | None = None,
    checkpoints: Path | None = None,
    progress: longform.Progress | None = None,
) -> Transcript:
    """Segments of speech in `audio`; `language=None` lets whisper detect it (on the first window
    with speech; later windows keep that language). Long audio goes a window at a time; with
    `checkpoints`, each finished window is kept there and a rerun skips it (see `longform`)."""
    model = load_whisper(settings)
    kept = longform.Checkpoints(checkpoints)
    segments: list[Segment] = []
    heard: tuple[str, float] | None = (language, 1.0) if language else None
    total = 0
    length = longform.length(audio) if longform.is_plain_wav(audio) else 0
    for start, end, samples_of in _windows(audio):
        total, length = end, max(length, end)
        done = kept.load(start, end)
        if done is None:
            offset = start / SAMPLE_RATE
            # reported within the window too: a window of a film is minutes of work
            heard_until = _reporter(progress, offset, length / SAMPLE_RATE, len(segments))
            found, detected = _transcribe_window(
                model, samples_of(), settings, heard[0] if heard else None, heard_until
            )
            done = {
                "language": detected[0],
                "probability": detected[1],
                "segments": [[round(s.start + offset, 2), round(s.end + offset, 2), s.text] for s in found],
            }
            kept.save(start, end, done)
        if heard is None and done["segments"]:
            heard = (done["language"], float(done["probability"]))
        segments += [Segment(*s) for s in done["segments"]]
        if progress is not None:
            progress(end / SAMPLE_RATE, length / SAMPLE_RATE, f"{len(segments)} lines")
    language, probability = heard or (language or "", 0.0)
    return Transcript(language, probability, total / SAMPLE_RATE, segments)


def _reporter(
    progress: longform.Progress | None, offset_s: float, total_s: float, lines: int
) -> Callable[[float], None]:
    if progress is None:
        return lambda seconds: None
    return lambda seconds: progress(offset_s + seconds, total_s, f"{lines} lines")


def _transcribe_window(
    model: Any,
    samples: np.ndarray,
    settings: WhisperSettings,
    language: str | None,
    heard_until: Callable[[float], None] = lambda seconds: None,
) -> tuple[list[Segment], tuple[str, float]]:
    if settings.batch_size > 1:
        from faster_whisper import BatchedInferencePipeline

        segments, info = BatchedInferencePipeline(model).transcribe(
            samples,
            language=language,
            beam_size=settings.beam_size,
            vad_filter=True,  # the batches are the VAD's speech chunks
            vad_parameters=VAD.options(),
            batch_size=settings.batch_size,
        )
    else:
        segments, info = model.transcribe(
            samples,
            language=language,
            beam_size=settings.beam_size,
            vad_filter=settings.vad_filter,
            vad_parameters=VAD.options(),
            condition_on_previous_text=False,
        )
    kept = []
    for s in segments:  # whisper decodes as this generator is read
        heard_until(s.end)
        if s.text.strip():
            kept.append(Segment(round(s.start, 2), round(s.end, 2), s.text.strip()))
    return kept, (info.language, float(info.language_probability))
