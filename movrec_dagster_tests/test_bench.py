"""The benchmarks stay runnable: each runs on tiny input (its figures mean nothing; BENCHMARKS.md has real ones)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_benchmark_runs_in_smoke_mode(tmp_path: Path) -> None:
    output = tmp_path / "run.md"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run_all.py"), "--smoke", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = output.read_text()
    for figure in (
        "audio extraction",
        "transcription",
        "embedding",
        "indexing",
        "recall_at_10",
        "end to end",
        "cost curve",
    ):
        assert figure in report, figure
    assert "SMOKE" in report


DATA = ROOT.parent / "shared" / "data"


@pytest.mark.skipif(not (DATA / "real_speech").is_dir(), reason="../shared/data/real_speech is not here")
@pytest.mark.parametrize(
    ("script", "args", "figure"),
    [
        ("speech_detection.py", ["--limit", "2"], "non-speech quarantined"),
        ("transcription_quality.py", ["--limit", "2", "--configs", "movrec default"], "WER held-out"),
        ("throughput.py", ["--minutes", "0.3", "--skip-trailers"], "0.3-minute film"),
    ],
)
def test_the_speech_benchmarks_run(script: str, args: list[str], figure: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--data", str(DATA), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert figure in done.stdout, done.stdout[-3000:]
