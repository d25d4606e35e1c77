"""A long file (a film-like stretch of real speech, silence and music) is transcribed a window at a
time: a process killed in the middle resumes without redoing finished windows, and the result
equals an uninterrupted run's; the progress bar shows on a real terminal."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from movrec_dagster.core import longform
from movrec_dagster.core.speech import WhisperSettings, _decode, transcribe

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "real_speech"
WINDOW_S = 30
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data/real_speech is not here")


def film(target: Path) -> Path:
    """Nearly two minutes: real lines with silences and a chord between them."""
    t = np.arange(16_000 * 4) / 16_000
    chord = (0.1 * (np.sin(2 * np.pi * 220 * t) + np.sin(2 * np.pi * 277 * t))).astype(np.float32)
    parts = []
    for name in ("15s_there_are_two_of_them_out_there", "30s_i_wont_open_this_door_again", "45s_dont_be_afraid_of_me"):
        parts += [_decode(DATA / "notld" / f"{name}.wav"), np.zeros(16_000 * 3, np.float32), chord]
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes((np.concatenate(parts) * 32767).astype("<i2").tobytes())
    return target


RESUME = """
import sys
from pathlib import Path
from movrec_dagster.core import longform
from movrec_dagster.core.speech import WhisperSettings, transcribe
longform.WINDOW_S = {window}
transcribe(Path(sys.argv[1]), WhisperSettings(), "en", checkpoints=Path(sys.argv[2]))
"""


def test_a_killed_transcription_resumes_and_equals_an_uninterrupted_one(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    audio = film(tmp_path / "film.wav")
    monkeypatch.setattr(longform, "WINDOW_S", WINDOW_S)
    cuts = list(longform.windows(audio))
    assert len(cuts) >= 3 and cuts[0][0] == 0 and cuts[-1][1] == longform.length(audio)
    assert all(a[1] == b[0] for a, b in zip(cuts, cuts[1:]))  # no gap, no overlap
    whole = transcribe(audio, WhisperSettings(), "en")

    kept = tmp_path / "checkpoints"
    child = subprocess.Popen(
        [sys.executable, "-c", RESUME.format(window=WINDOW_S), str(audio), str(kept)], start_new_session=True
    )
    deadline = time.monotonic() + 300
    while not (kept.is_dir() and len(list(kept.glob("*.json"))) >= 1) and time.monotonic() < deadline:
        assert child.poll() is None, "the transcription ended before it could be killed"
        time.sleep(0.2)
    os.killpg(child.pid, signal.SIGKILL)  # in the middle of the film, as a crash would
    child.wait(30)
    finished = {p.name: p.stat().st_mtime_ns for p in kept.glob("*.json")}
    assert 1 <= len(finished) < len(cuts)

    seen = []
    resumed = transcribe(audio, WhisperSettings(), "en", checkpoints=kept, progress=lambda d, t, n: seen.append(d))
    assert resumed == whole
    assert {p.name: p.stat().st_mtime_ns for p in kept.glob("*.json") if p.name in finished} == finished
    assert len(list(kept.glob("*.json"))) == len(cuts) and seen[-1] == pytest.approx(longform.length(audio) / 16_000)


def test_the_ingest_progress_bar_shows_on_a_terminal(tmp_path: Path) -> None:
    (tmp_path / "uploads").mkdir()
    film(tmp_path / "uploads" / "film.wav")
    env = {**os.environ, "MOVREC_HOME": str(tmp_path / "home"), "COLUMNS": "120"}
    movrec = str(Path(sys.executable).parent / "movrec")
    pid, fd = pty.fork()
    if pid == 0:  # the child: `movrec ingest` on a real terminal
        os.execve(movrec, [movrec, "ingest", str(tmp_path / "uploads")], env)
    screen = b""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
    _, status = os.waitpid(pid, 0)
    text = screen.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text[-3000:]
    assert "transcribing film.wav:" in text and "ETA" in text, text[-3000:]
    assert "100%" in text or "indexed" in text
