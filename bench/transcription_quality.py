"""Transcript quality on real recorded speech: word error rate per clip and per language, and
language-ID accuracy, for movrec's whisper settings and the alternatives tried, against
faster-whisper called directly with its own defaults, in the same run.

Clips: the 36 of ../shared/data/real_speech (references.csv: film dialogue from *Night of the Living
Dead*, read speech in eight languages, LibriVox, JFK). Held out from choosing the default: the clips
with an odd row number (the same split as bench/speech_detection.py). WER after whisper's own
normalisation (bench/wer.py); Chinese and Japanese by character. Throughput: seconds of audio per
second of wall time (= hours of audio per hour) on this machine.

Each configuration detects the language itself (no hint), as an upload without a sidecar is.
Usage: python bench/transcription_quality.py [--data ../shared/data] [--configs default,plain,...]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import polars as pl
from wer import errors

from movrec_dagster.core.library import MediaError
from movrec_dagster.core.media import SAMPLE_RATE
from movrec_dagster.core.speech import WhisperSettings, _decode, detect_language, load_whisper, transcribe

HERE = Path(__file__).resolve().parent
Result = tuple[str, str]  # (language, text)


def movrec(settings: WhisperSettings) -> Callable[[Path, dict], Result]:
    """The product's path: its language detection (VAD gate first), then its transcription."""

    def run(path: Path, clip: dict) -> Result:
        try:
            language, _ = detect_language(path, settings)
        except MediaError:
            return "none", ""
        found = transcribe(path, settings, language)
        return language, " ".join(s.text for s in found.segments)

    return run


def plain(**options: object) -> Callable[[Path, dict], Result]:
    """faster-whisper's WhisperModel.transcribe on the decoded audio, defaults plus `options`."""
    model = load_whisper(WhisperSettings())

    def run(path: Path, clip: dict) -> Result:
        extra = dict(options)
        if extra.pop("prompt_title", False) and clip.get("movie"):
            extra["initial_prompt"] = clip["movie"]
        segments, info = model.transcribe(_decode(path), **extra)
        return info.language, " ".join(s.text.strip() for s in segments)

    return run


CONFIGS: dict[str, Callable[[], Callable[[Path, dict], Result]]] = {
    "movrec default": lambda: movrec(WhisperSettings()),
    "movrec batched (batch 8)": lambda: movrec(replace(WhisperSettings(), batch_size=8)),
    "movrec beam 1": lambda: movrec(replace(WhisperSettings(), beam_size=1)),
    "faster-whisper defaults": lambda: plain(),
    "faster-whisper + VAD": lambda: plain(vad_filter=True),
    "faster-whisper without previous-text conditioning": lambda: plain(condition_on_previous_text=False),
    "faster-whisper with the title as initial_prompt": lambda: plain(prompt_title=True),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated names of CONFIGS")
    parser.add_argument("--limit", type=int, default=0, help="only the first N clips (smoke runs)")
    args = parser.parse_args()
    folder = Path(args.data) / "real_speech"
    clips = pl.read_csv(folder / "references.csv").with_row_index("number").to_dicts()
    clips = clips[: args.limit] if args.limit else clips
    audio_s = {c["file"]: len(_decode(folder / c["file"])) / SAMPLE_RATE for c in clips}
    load_whisper(WhisperSettings())  # loading is not part of any configuration's time
    summary, per_clip = [], {}
    for name in [n.strip() for n in args.configs.split(",") if n.strip()]:
        run = CONFIGS[name]()
        wrong: dict[tuple[str, bool], list[int]] = {}
        right_language, seconds = 0, 0.0
        for clip in clips:
            started = time.perf_counter()
            language, text = run(folder / clip["file"], clip)
            seconds += time.perf_counter() - started
            right_language += language == clip["language"]
            e, n = errors(clip["reference"], text, clip["language"])
            held_out = clip["number"] % 2 == 1
            for key in ((clip["language"], held_out), ("all", held_out)):
                counts = wrong.setdefault(key, [0, 0])
                counts[0] += e
                counts[1] += n
            per_clip.setdefault(clip["file"], {})[name] = (e / n if n else float(e > 0), language)
        row = {"configuration": name, "language ID": f"{right_language}/{len(clips)}"}
        for held_out, label in ((False, "WER tuning"), (True, "WER held-out")):
            e, n = wrong.get(("all", held_out), [0, 0])
            row[label] = f"{e / n:.3f}" if n else "n/a"
        for language in sorted({c["language"] for c in clips}):
            e = sum(wrong.get((language, h), [0, 0])[0] for h in (False, True))
            n = sum(wrong.get((language, h), [0, 0])[1] for h in (False, True))
            row[f"WER {language}"] = f"{e / n:.2f}" if n else "n/a"
        row["audio s / wall s"] = f"{sum(audio_s.values()) / seconds:.1f}"
        summary.append(row)
        print(f"  {name}: done in {seconds:.0f} s", flush=True)
    columns = list(summary[0])
    print("\n| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for row in summary:
        print("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    names = [r["configuration"] for r in summary]
    print("\nPer clip (WER, detected language):\n\n| clip | " + " | ".join(names) + " |\n|" + "---|" * (len(names) + 1))
    for file, got in per_clip.items():
        cells = [f"{got[n][0]:.2f} {got[n][1]}" if n in got else "" for n in names]
        print(f"| {file} ({audio_s[file]:.0f} s) | " + " | ".join(cells) + " |")
    total = sum(audio_s.values())
    print(f"\n{len(clips)} clips, {total / 60:.1f} min of audio; mean clip {total / len(clips):.0f} s")


if __name__ == "__main__":
    main()
