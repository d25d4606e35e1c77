"""Uploads, sidecars and probing with the real ffmpeg that moviepy ships."""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import pytest

from movrec_dagster.core.library import MediaError, find_videos, read_sidecar, scan_library, scan_video
from movrec_dagster.core.media import extract_audio
from movrec_dagster_tests.conftest import add_bad_uploads


def test_good_video_is_probed_and_hashed(demo_library: Path) -> None:
    record = scan_video(demo_library / "the-martian.mp4")
    assert record.error is None
    assert (record.video_id, record.sidecar_id, record.kind) == ("the-martian", "the-martian", "trailer")
    assert record.title == "The Martian" and record.year == 2015
    assert record.video_codec == "h264" and record.has_audio and 15 < record.duration_s < 30
    assert len(record.content_hash) == 64


def test_bad_uploads_are_named_with_their_cause(tmp_path: Path, demo_library: Path) -> None:
    expected = add_bad_uploads(tmp_path, demo_library)
    shutil.copy2(demo_library / "coco.mp4", tmp_path / "coco.mp4")
    records = {r.file_name: r for r in scan_library(tmp_path)}
    assert records["coco.mp4"].error is None
    for name, cause in expected.items():
        assert records[name].error and name in records[name].error and cause in records[name].error
    assert "empty file" in scan_video(_touch(tmp_path / "empty.mp4")).error


def _touch(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def test_same_content_claiming_the_same_movie_is_a_duplicate_but_another_movie_is_not(
    tmp_path: Path, demo_library: Path
) -> None:
    shutil.copy2(demo_library / "coco.mp4", tmp_path / "a.mp4")
    shutil.copy2(demo_library / "coco.mp4", tmp_path / "b.mp4")
    (tmp_path / "b.json").write_text(json.dumps({"id": "a"}))
    shutil.copy2(demo_library / "coco.mp4", tmp_path / "c.mp4")
    (tmp_path / "c.json").write_text(json.dumps({"movie_id": "coco-doblada"}))  # a dub filed as its own movie
    records = {r.file_name: r for r in scan_library(tmp_path)}
    assert "same content as a.mp4" in records["b.mp4"].error
    assert records["a.mp4"].error is None and records["c.mp4"].error is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"year": "soon"}', "'year' must be an integer"),
        ('{"genres": [1]}', "'genres' must be a list"),
        ('{"title": {"a": 1}}', "'title' must be text"),
    ],
)
def test_malformed_sidecars_are_rejected(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "x.json").write_text(content)
    with pytest.raises(MediaError, match=message):
        read_sidecar(tmp_path / "x.mp4")


def test_symlink_out_of_uploads_is_not_followed(tmp_path: Path, demo_library: Path) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "escape.mp4").symlink_to(demo_library / "coco.mp4")
    assert find_videos(uploads) == []


def test_audio_is_16k_mono_wav(tmp_path: Path, demo_library: Path) -> None:
    target = tmp_path / "a.wav"
    seconds = extract_audio(demo_library / "amelie.mp4", target)
    with wave.open(str(target)) as w:
        assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (1, 16000, 2)
        assert abs(w.getnframes() / 16000 - seconds) < 0.1
    assert not list(tmp_path.glob("*.partial*"))


def test_own_wavs_are_read_as_faster_whisper_decodes_them(tmp_path: Path, demo_library: Path) -> None:
    """The shortcut past `decode_audio` (and its gc.collect) must hand whisper the very same samples."""
    import numpy as np
    from faster_whisper import decode_audio

    from movrec_dagster.core.speech import _decode

    own = tmp_path / "own.wav"
    extract_audio(demo_library / "coco.mp4", own)
    expected = decode_audio(str(own), sampling_rate=16_000)
    assert np.array_equal(_decode(own), expected)
    # anything else (here 44.1 kHz stereo) still goes through decode_audio and is resampled
    with wave.open(str(own)) as w:
        mono = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    other = tmp_path / "other.wav"
    with wave.open(str(other), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44_100)
        w.writeframes(np.repeat(mono, 2).tobytes())
    samples = _decode(other)
    assert samples.dtype == np.float32 and abs(len(samples) / 16_000 - len(mono) / 44_100) < 0.05
