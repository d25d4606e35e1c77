"""The video library: find uploads, read sidecars, hash and probe files. No Dagster here."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".ts"})
# audio-only uploads (radio plays, audio-described films, soundtracks with dialogue) are accepted:
# everything downstream works from the audio
AUDIO_SUFFIXES = frozenset({".mp3", ".wav", ".m4a", ".flac", ".ogg", ".opus", ".aac"})
MEDIA_SUFFIXES = VIDEO_SUFFIXES | AUDIO_SUFFIXES
MAX_SIDECAR_BYTES = 1 << 20
SIDECAR_FIELDS = ("id", "title", "year", "genres", "overview", "language")
_MOVIE_ID = re.compile(r"[^\w.-]+", re.UNICODE)
MAX_TEXT_FIELD = 10_000


class MediaError(Exception):
    """A file that cannot be used; the message names the file and the cause."""


@dataclass
class Sidecar:
    id: str | None = None
    title: str | None = None
    year: int | None = None
    genres: list[str] = field(default_factory=list)
    overview: str | None = None
    language: str | None = None
    catalogue_id: str | None = None  # `tmdb_id` (or `catalogue_id`): the catalogue row this video is


@dataclass
class VideoRecord:
    """One upload as the `videos` asset records it; `error` is set when the file is unusable."""

    movie_id: str
    path: str
    file_name: str
    size_bytes: int
    mtime_ns: int
    content_hash: str = ""
    duration_s: float | None = None
    container: str = ""
    video_codec: str | None = None
    audio_codec: str | None = None
    has_audio: bool = False
    width: int | None = None
    height: int | None = None
    title: str = ""
    year: int | None = None
    genres: list[str] = field(default_factory=list)
    overview: str | None = None
    sidecar_language: str | None = None
    catalogue_id: str | None = None
    sidecar_hash: str = ""
    error: str | None = None

    def to_row(self) -> dict[str, Any]:
        return asdict(self)


def _candidates(uploads: Path) -> list[Path]:
    return [p for p in sorted(uploads.rglob("*")) if p.suffix.lower() in MEDIA_SUFFIXES and p.is_file()]


def find_videos(uploads: Path) -> list[Path]:
    """Every media file (video or audio) under `uploads`, sorted; symlinks are not followed out of it."""
    root = uploads.resolve()
    return [path for path in _candidates(uploads) if path.resolve().is_relative_to(root)]


def escaping_links(uploads: Path) -> list[Path]:
    """Media-named symlinks that point outside `uploads`: reported, never read."""
    root = uploads.resolve()
    return [path for path in _candidates(uploads) if not path.resolve().is_relative_to(root)]


def file_hash(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _text(value: Any, name: str, path: Path) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, int, float)):
        raise MediaError(f"{path}: sidecar field '{name}' must be text, got {type(value).__name__}")
    return str(value)[:MAX_TEXT_FIELD].strip() or None


def _catalogue_id(data: dict[str, Any], path: Path) -> str | None:
    value = data.get("tmdb_id", data.get("catalogue_id"))
    if value is None or isinstance(value, bool) or not isinstance(value, int | str):
        if value is not None:
            raise MediaError(f"{path}: sidecar field 'tmdb_id' must be an id, got {value!r:.40}")
        return None
    return str(value).strip() or None


def read_sidecar(video: Path) -> tuple[Sidecar, str]:
    """The `<stem>.json` beside a video (empty when there is none) and the hash of its bytes."""
    path = video.with_suffix(".json")
    if not path.is_file():
        return Sidecar(), ""
    if path.stat().st_size > MAX_SIDECAR_BYTES:
        raise MediaError(f"{path}: sidecar larger than {MAX_SIDECAR_BYTES >> 20} MB, not read")
    raw = path.read_bytes()
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MediaError(f"{path}: sidecar is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise MediaError(f"{path}: sidecar must be a JSON object")
    year = data.get("year")
    if year is not None and not (isinstance(year, int) and not isinstance(year, bool)):
        if isinstance(year, str) and year.strip().isdigit():
            year = int(year)
        else:
            raise MediaError(f"{path}: sidecar field 'year' must be an integer, got {year!r:.40}")
    genres = data.get("genres") or []
    if isinstance(genres, str):
        genres = [g.strip() for g in genres.split(",")]
    if not isinstance(genres, list) or not all(isinstance(g, str) for g in genres):
        raise MediaError(f"{path}: sidecar field 'genres' must be a list of strings")
    language = _text(data.get("language"), "language", path)
    sidecar = Sidecar(
        id=_text(data.get("id"), "id", path),
        title=_text(data.get("title"), "title", path),
        year=year,
        genres=[g.strip()[:100] for g in genres if g.strip()][:20],
        overview=_text(data.get("overview"), "overview", path),
        language=language.lower() if language else None,
        catalogue_id=_catalogue_id(data, path),
    )
    return sidecar, hashlib.sha256(raw).hexdigest()


def movie_id_for(video: Path, sidecar: Sidecar) -> str:
    """The sidecar `id`, else the file stem, made safe for paths and payloads."""
    raw = sidecar.id or video.stem
    return _MOVIE_ID.sub("-", raw).strip("-.") or hashlib.sha1(raw.encode()).hexdigest()[:12]


def probe(path: Path) -> dict[str, Any]:
    """Container and stream facts via moviepy's ffmpeg reader; raises MediaError when unreadable."""
    from moviepy.video.io.ffmpeg_reader import ffmpeg_parse_infos

    if path.stat().st_size == 0:
        raise MediaError(f"{path}: empty file (0 bytes)")
    try:
        info = ffmpeg_parse_infos(str(path), check_duration=True)
    except (OSError, IndexError, KeyError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise MediaError(f"{path}: not a readable video ({first_line[:200]})") from exc
    audio_stream = next(
        (s for i in info.get("inputs", []) for s in i.get("streams", []) if s.get("stream_type") == "audio"),
        None,
    )
    size = info.get("video_size") or [None, None]
    return {
        "duration_s": float(info.get("duration") or 0.0),
        "container": path.suffix.lower().lstrip("."),
        "video_codec": info.get("video_codec_name"),
        "audio_codec": (audio_stream or {}).get("codec_name"),
        "has_audio": bool(info.get("audio_found")),
        "width": size[0],
        "height": size[1],
    }


def scan_video(path: Path, previous: dict[str, Any] | None = None) -> VideoRecord:
    """Describe one upload. An unchanged file (same size and mtime) reuses the previous hash and probe."""
    stat = path.stat()
    record = VideoRecord(
        movie_id=path.stem,
        path=str(path),
        file_name=path.name,
        size_bytes=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
        title=path.stem,
    )
    try:
        sidecar, record.sidecar_hash = read_sidecar(path)
        record.movie_id = movie_id_for(path, sidecar)
        record.title = sidecar.title or path.stem
        record.year, record.genres, record.overview = sidecar.year, sidecar.genres, sidecar.overview
        record.sidecar_language = sidecar.language
        record.catalogue_id = sidecar.catalogue_id
        unchanged = (
            previous is not None
            and not previous.get("error")
            and previous["size_bytes"] == stat.st_size
            and previous["mtime_ns"] == stat.st_mtime_ns
        )
        if unchanged:
            record.content_hash = previous["content_hash"]
            for key in ("duration_s", "container", "video_codec", "audio_codec", "has_audio", "width", "height"):
                setattr(record, key, previous[key])
        else:
            for key, value in probe(path).items():
                setattr(record, key, value)
            record.content_hash = file_hash(path)
        if not record.has_audio:
            raise MediaError(f"{path}: no audio track, nothing to transcribe")
    except MediaError as exc:
        record.error = str(exc)
    except OSError as exc:
        record.error = f"{path}: cannot read ({exc.strerror or exc})"
    return record


def scan_library(uploads: Path, previous: dict[str, dict[str, Any]] | None = None) -> list[VideoRecord]:
    """Scan every upload. A second file claiming a movie id already taken, or with the same content as
    another upload (a duplicate; unless its sidecar gives it an `id` of its own, e.g. a dub filed as
    another movie), is reported and skipped; so are symlinks leading out of `uploads`."""
    previous = previous or {}
    records: list[VideoRecord] = []
    ids: dict[str, str] = {}
    contents: dict[str, str] = {}
    for path in find_videos(uploads):
        record = scan_video(path, previous.get(str(path)))
        if not record.error and record.movie_id in ids:
            record.error = f"{path}: movie id '{record.movie_id}' is already used by {ids[record.movie_id]}"
        own_id = record.movie_id != movie_id_for(path, Sidecar())
        if not record.error and record.content_hash in contents and not own_id:
            record.error = f"{path}: same content as {contents[record.content_hash]} (a duplicate upload); skipped"
        if not record.error:
            ids[record.movie_id] = path.name
            contents[record.content_hash] = path.name
        records.append(record)
    for link in escaping_links(uploads):
        stat = link.lstat()
        record = VideoRecord(link.stem, str(link), link.name, stat.st_size, stat.st_mtime_ns, title=link.stem)
        record.error = f"{link}: symlink to a file outside the upload folder; not followed"
        records.append(record)
    return records
