"""Transcription throughput and memory: movrec's transcription against faster-whisper called directly
with the same settings (same model, beam, batching and VAD), on the same audio, in the same run.
Hours of audio per hour of wall time on this machine, and each side's peak memory
(every side runs in its own process, measured with wait4).

* trailers: the 36 real clips of ../shared/data/real_speech, one after another;
* a whole film: --minutes of real film dialogue (Night of the Living Dead clips, cycled), silences
  and generated music, written as the 16 kHz WAV the audio stage makes. movrec reads it a window at
  a time with checkpoints; plain faster-whisper decodes it whole, as its API does.

Usage: python bench/throughput.py [--minutes 120] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

MOVREC = """
import sys, json
from pathlib import Path
from movrec_dagster.core.speech import WhisperSettings, transcribe, load_whisper
load_whisper(WhisperSettings())
import time
started = time.perf_counter()
lines = 0
for path in sys.argv[2:]:
    kept = Path(sys.argv[1]) / Path(path).stem
    lines += len(transcribe(Path(path), WhisperSettings(), "en", checkpoints=kept).segments)
print(json.dumps({"seconds": time.perf_counter() - started, "lines": lines}))
"""
PLAIN = """
import sys, json
from faster_whisper import BatchedInferencePipeline, decode_audio
from movrec_dagster.core.speech import VAD, WhisperSettings, load_whisper
settings = WhisperSettings()
model = load_whisper(settings)
import time
started = time.perf_counter()
lines = 0
for path in sys.argv[2:]:
    options = dict(language="en", beam_size=settings.beam_size, vad_filter=True, vad_parameters=VAD.options())
    if settings.batch_size > 1:
        segments, _ = BatchedInferencePipeline(model).transcribe(
            decode_audio(path), batch_size=settings.batch_size, **options
        )
    else:
        segments, _ = model.transcribe(decode_audio(path), condition_on_previous_text=False, **options)
    lines += sum(1 for s in segments if s.text.strip())
print(json.dumps({"seconds": time.perf_counter() - started, "lines": lines}))
"""


def measure(script: str, files: list[Path], scratch: Path) -> dict:
    """Run one side in its own process; its time (model load excluded) and peak memory."""
    import json

    child = subprocess.Popen([sys.executable, "-c", script, str(scratch), *map(str, files)], stdout=subprocess.PIPE)
    assert child.stdout is not None
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"a side failed: {out[-2000:]!r}")
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4: Popen must not wait again
    return json.loads(out.decode().strip().splitlines()[-1]) | {"peak_mb": usage.ru_maxrss / 1024}


def build_film(target: Path, minutes: float, data: Path) -> float:
    """Real dialogue, silence and music, written a piece at a time (never all in memory)."""
    from movrec_dagster.core.speech import _decode

    clips = sorted((data / "real_speech" / "notld").glob("*.wav"))
    t = np.arange(16_000 * 20) / 16_000
    music = (0.15 * np.sin(2 * np.pi * 196 * t) * (1 + np.sin(2 * np.pi * 2 * t))).astype(np.float32)
    written, goal, i = 0, int(minutes * 60 * 16_000), 0
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        while written < goal:
            for part in (_decode(clips[i % len(clips)]), np.zeros(16_000 * 5, np.float32), music):
                part = part[: goal - written]
                out.writeframes((part * 32767).astype("<i2").tobytes())
                written += len(part)
            i += 1
    return written / 16_000


def report(name: str, audio_s: float, ours: dict, theirs: dict) -> None:
    ratio = theirs["seconds"] / ours["seconds"]
    print(
        f"| {name} | {audio_s / 3600:.2f} h | {audio_s / ours['seconds']:.1f} | {audio_s / theirs['seconds']:.1f} | "
        f"{ratio:.2f} | {ours['peak_mb']:.0f} MB | {theirs['peak_mb']:.0f} MB | {ours['lines']} / {theirs['lines']} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=120.0, help="length of the generated film")
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    parser.add_argument("--skip-trailers", action="store_true")
    args = parser.parse_args()
    data = Path(args.data)
    print("| audio | length | movrec (h of audio per h) | faster-whisper (h per h) | ratio | movrec peak | "
          "faster-whisper peak | lines movrec / plain |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        if not args.skip_trailers:
            from movrec_dagster.core.speech import _decode

            clips = sorted((data / "real_speech").glob("*/*.wav")) + sorted((data / "real_speech").glob("*/*.flac"))
            wavs = []
            for clip in clips:  # as the audio stage hands them to whisper: 16 kHz mono 16-bit WAV
                target = scratch / f"{clip.parent.name}-{clip.stem}.wav"
                with wave.open(str(target), "wb") as out:
                    out.setnchannels(1)
                    out.setsampwidth(2)
                    out.setframerate(16_000)
                    out.writeframes((_decode(clip) * 32767).astype("<i2").tobytes())
                wavs.append(target)
            seconds = sum(wave.open(str(w)).getnframes() for w in wavs) / 16_000
            report("36 real clips", seconds, measure(MOVREC, wavs, scratch / "a"), measure(PLAIN, wavs, scratch / "b"))
        film = scratch / "film.wav"
        started = time.perf_counter()
        seconds = build_film(film, args.minutes, data)
        print(f"<!-- film of {seconds / 60:.0f} min written in {time.perf_counter() - started:.0f} s -->", flush=True)
        report(
            f"a {args.minutes:g}-minute film",
            seconds,
            measure(MOVREC, [film], scratch / "c"),
            measure(PLAIN, [film], scratch / "d"),
        )


if __name__ == "__main__":
    main()
