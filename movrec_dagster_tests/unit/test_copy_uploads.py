"""`movrec ingest DIR` copies uploads without following links out of DIR."""

from __future__ import annotations

from pathlib import Path

from movrec_dagster.runner import copy_uploads


def test_links_out_of_the_folder_are_skipped_and_reported(tmp_path: Path) -> None:
    source, uploads, outside = tmp_path / "in", tmp_path / "uploads", tmp_path / "secret"
    (source / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "passwd.mp4").write_bytes(b"root:x:0:0")
    (source / "film.mp4").write_bytes(b"video bytes")
    (source / "escape.mp4").symlink_to("/etc/passwd")
    (source / "same.mp4").symlink_to(source / "film.mp4")  # stays inside: followed
    (source / "sub" / "away").symlink_to(outside, target_is_directory=True)
    copied, skipped = copy_uploads(source, uploads)
    assert sorted(p.relative_to(uploads).as_posix() for p in copied) == ["film.mp4", "same.mp4"]
    assert not (uploads / "escape.mp4").exists() and not (uploads / "sub").exists()
    assert (uploads / "same.mp4").read_bytes() == b"video bytes" and not (uploads / "same.mp4").is_symlink()
    assert len(skipped) == 1 + ((source / "sub" / "away" / "passwd.mp4") in set(source.rglob("*")))
    assert all("not followed" in cause for cause in skipped) and "escape.mp4" in skipped[0]
