"""The speech/no-speech decision on real speech and real non-speech, for each VAD setting tried.

Speech: the 36 real clips of ../shared/data/real_speech (film dialogue, read speech in eight
languages), each also under generated music (a chord progression with a beat, at the speech's own
loudness, and twice as loud), under white noise (10 dB below the speech), as 8-bit 11 kHz audio,
and a 1.2 s line of it under music. Non-speech:
silence, a 440 Hz tone, a chord progression with a beat, white and pink noise, a click track, each
4-30 s long. A clip is "speech" when the gate (`speech.SpeechGate`: silero VAD, faster-whisper's own,
and whisper's no-speech probability where the VAD is unsure) says so; the product's decision is
`speech.has_speech` with the default gate `speech.VAD`.

Printed: per setting, the share of speech clips kept (all / held-out: the clips whose number in
references.csv is odd) and of non-speech clips quarantined; the default is chosen on the other half.
Usage: python bench/speech_detection.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl

from movrec_dagster.core.media import SAMPLE_RATE
from movrec_dagster.core.speech import VAD, SpeechGate, WhisperSettings, _decode, has_speech, load_whisper

HERE = Path(__file__).resolve().parent
RNG = np.random.default_rng(11)


def music(seconds: float, loudness: float) -> np.ndarray:
    """Chords (three sines with harmonics) changing every second, over a kick on each beat."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    roots = [220.0, 174.6, 196.0, 261.6]
    out = np.zeros_like(t)
    for i in range(int(np.ceil(seconds))):
        part = (t >= i) & (t < i + 1)
        root = roots[i % len(roots)]
        for ratio in (1.0, 1.25, 1.5):
            for harmonic, gain in ((1, 1.0), (2, 0.4), (3, 0.2)):
                out[part] += gain * np.sin(2 * np.pi * root * ratio * harmonic * t[part])
    beat = (t % 0.5) < 0.08
    out += 2.0 * np.sin(2 * np.pi * 60 * t) * beat * np.exp(-((t % 0.5) * 40))
    return (out / (np.abs(out).max() or 1.0) * loudness).astype(np.float32)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)) or 1e-9)


def pink(n: int) -> np.ndarray:
    spectrum = np.fft.rfft(RNG.standard_normal(n))
    spectrum /= np.sqrt(np.arange(1, len(spectrum) + 1))
    out = np.fft.irfft(spectrum, n)
    return (out / np.abs(out).max() * 0.3).astype(np.float32)


def eight_bit(x: np.ndarray) -> np.ndarray:
    """8-bit 11 kHz, as old film transfers are: resampled down and up, 256 levels."""
    down = np.interp(np.arange(0, len(x), SAMPLE_RATE / 11_025), np.arange(len(x)), x)
    coarse = np.round(np.clip(down, -1, 1) * 127) / 127
    return np.interp(np.arange(len(x)) * 11_025 / SAMPLE_RATE, np.arange(len(coarse)), coarse).astype(np.float32)


def non_speech() -> dict[str, np.ndarray]:
    n = lambda s: int(s * SAMPLE_RATE)  # noqa: E731
    t = np.arange(n(8)) / SAMPLE_RATE
    clicks = np.zeros(n(10), dtype=np.float32)
    clicks[:: SAMPLE_RATE // 4] = 0.9
    return {
        "silence 8 s": np.zeros(n(8), dtype=np.float32),
        "near-silence (hiss) 8 s": (RNG.standard_normal(n(8)) * 0.002).astype(np.float32),
        "440 Hz tone 8 s": (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32),
        "chords with a beat 30 s": music(30, 0.6),
        "chords with a beat, quiet 30 s": music(30, 0.1),
        "white noise 8 s": (RNG.standard_normal(n(8)) * 0.2).astype(np.float32),
        "pink noise 8 s": pink(n(8)),
        "click track 10 s": clicks,
        "tone sweep 8 s": (0.5 * np.sin(2 * np.pi * (200 + 400 * t) * t)).astype(np.float32),
    }


def speech_clips(data: Path, limit: int = 0) -> list[tuple[str, bool, np.ndarray]]:
    refs = pl.read_csv(data / "real_speech" / "references.csv")
    refs = refs.head(limit) if limit else refs
    out = []
    for number, file in enumerate(refs["file"].to_list()):
        samples = _decode(data / "real_speech" / file)
        held_out = number % 2 == 1
        level = rms(samples)
        out.append((file, held_out, samples))
        score = music(len(samples) / SAMPLE_RATE, 1.0)
        out.append((f"{file} + music", held_out, samples + score * level / rms(score)))
        # film mixes: the score twice as loud as the speech (-6 dB), and a short line under it
        out.append((f"{file} + loud music", held_out, samples + 2 * score * level / rms(score)))
        start = int(np.argmax(np.abs(samples) > 0.1 * np.abs(samples).max()))
        line = samples[start : start + int(1.2 * SAMPLE_RATE)]
        beat = music(len(line) / SAMPLE_RATE, 1.0)
        out.append((f"{file} 1.2 s line + music", held_out, line + beat * rms(line) / rms(beat)))
        noise = RNG.standard_normal(len(samples)).astype(np.float32) * level / np.sqrt(10)
        out.append((f"{file} + noise", held_out, samples + noise))
        out.append((f"{file} 8-bit 11 kHz", held_out, eight_bit(samples)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    parser.add_argument("--limit", type=int, default=0, help="only the first N clips (smoke runs)")
    args = parser.parse_args()
    speech = speech_clips(Path(args.data), args.limit)
    quiet = non_speech()
    gates = [
        SpeechGate(candidate=0.5, sure=0.5),  # faster-whisper's default VAD (movrec's gate until 2026-12)
        SpeechGate(candidate=0.35, sure=0.35),
        SpeechGate(candidate=0.15, sure=0.15),
        SpeechGate(candidate=0.25, sure=0.5),
        SpeechGate(candidate=0.15, sure=0.5),
        SpeechGate(candidate=0.1, sure=0.5),
        SpeechGate(candidate=0.15, sure=0.5, no_speech=0.4),
        VAD,  # the product's default
    ]
    model = load_whisper(WhisperSettings())
    print(f"{len(speech)} speech clips ({sum(h for _, h, _ in speech)} held out), {len(quiet)} non-speech clips")
    print("\n| gate | speech kept, tuning | speech kept, held-out | non-speech quarantined | speech lost |")
    print("|---|---|---|---|---|")
    for gate in gates:
        kept = {True: [], False: []}
        lost = []
        for name, held_out, samples in speech:
            ok = has_speech(samples, gate, model)
            kept[held_out].append(ok)
            if not ok:
                lost.append(name)
        blocked = [not has_speech(samples, gate, model) for samples in quiet.values()]
        let_through = [name for name, b in zip(quiet, blocked) if not b]
        print(
            f"| {gate} | {sum(kept[False])}/{len(kept[False])} | {sum(kept[True])}/{len(kept[True])} | "
            f"{sum(blocked)}/{len(blocked)} {let_through or ''} | {lost[:6]} |"
        )
    language_thresholds(Path(args.data), model, args.limit)


def language_thresholds(data: Path, model: object, limit: int = 0) -> None:
    """Whisper's language guess on each real clip and on a 1.2 s line of it: how often it is right,
    and what a probability threshold keeps. Below the threshold movrec files a video under its
    catalogue language or the library's majority instead (stages/languages.py). The threshold is
    chosen on the tuning clips (even rows) and reported on the held-out ones (odd rows)."""
    refs = pl.read_csv(data / "real_speech" / "references.csv")
    refs = refs.head(limit) if limit else refs
    guesses = []
    for number, (file, language) in enumerate(refs.select("file", "language").iter_rows()):
        samples = _decode(data / "real_speech" / file)
        start = int(np.argmax(np.abs(samples) > 0.1 * np.abs(samples).max()))
        for label, part in (("clip", samples), ("1.2 s line", samples[start : start + int(1.2 * SAMPLE_RATE)])):
            guess, probability, _ = model.detect_language(part)
            guesses.append((label, number % 2 == 1, guess == language, probability))
    print("\nlanguage ID: right guesses kept / wrong guesses kept / fell back, per probability threshold\n")
    print("| threshold | clips, tuning | clips, held-out | 1.2 s lines, tuning | 1.2 s lines, held-out |")
    print("|---|---|---|---|---|")
    for threshold in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        cells = []
        for label in ("clip", "1.2 s line"):
            for held_out in (False, True):
                mine = [(ok, p) for lab, held, ok, p in guesses if lab == label and held == held_out]
                right = sum(ok and p >= threshold for ok, p in mine)
                wrong = sum((not ok) and p >= threshold for ok, p in mine)
                cells.append(f"{right} / {wrong} / {len(mine) - right - wrong}")
        print(f"| {threshold:g} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
