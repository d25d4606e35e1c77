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
SIDECAR_FIELDS = ("id", "movie_id", "tmdb_id", "imdb_id", "kind", "title", "year", "genres", "overview", "language")
_MOVIE_ID = re.compile(r"[^\w.-]+", re.UNICODE)
MAX_TEXT_FIELD = 10_000
VIDEO_KINDS = ("trailer", "teaser", "clip", "featurette", "film", "other")
FILM_MIN_S = 40 * 60  # feature length: anything this long is the film itself


class MediaError(Exception):
    """A file that cannot be used; the message names the file and the cause."""


@dataclass
class Sidecar:
    id: str | None = None  # the movie's id when the video stands alone (legacy meaning, kept)
    movie_id: str | None = None  # explicit: the movie this video belongs to
    imdb_id: str | None = None
    kind: str | None = None
    title: str | None = None
    year: int | None = None
    genres: list[str] = field(default_factory=list)
    overview: str | None = None
    language: str | None = None
    catalogue_id: str | None = None  # `tmdb_id` (or `catalogue_id`): the catalogue row this video is


@dataclass
class VideoRecord:
    """One upload as the `videos` asset records it; `error` is set when the file is unusable.

    `video_id` names the file (its path under the upload folder, made safe); which movie it belongs
    to is decided later, with the catalogue in view (`entities.resolve_movies`), from the sidecar's
    `movie_id`, `tmdb_id`, `imdb_id`, `id`, or title and year.
    """

    video_id: str
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
    title_from_sidecar: bool = False
    year: int | None = None
    genres: list[str] = field(default_factory=list)
    overview: str | None = None
    sidecar_language: str | None = None
    catalogue_id: str | None = None
    sidecar_id: str | None = None
    movie_hint: str | None = None  # sidecar `movie_id`
    imdb_id: str | None = None
    kind: str = "other"
    kind_source: str = "inferred"
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
    kind = _text(data.get("kind"), "kind", path)
    if kind is not None and kind.lower() not in VIDEO_KINDS:
        raise MediaError(f"{path}: sidecar field 'kind' must be one of {', '.join(VIDEO_KINDS)}, got {kind!r:.40}")
    imdb = _text(data.get("imdb_id"), "imdb_id", path)
    sidecar = Sidecar(
        id=_text(data.get("id"), "id", path),
        movie_id=_text(data.get("movie_id"), "movie_id", path),
        imdb_id=normal_imdb_id(imdb) if imdb else None,
        kind=kind.lower() if kind else None,
        title=_text(data.get("title"), "title", path),
        year=year,
        genres=[g.strip()[:100] for g in genres if g.strip()][:20],
        overview=_text(data.get("overview"), "overview", path),
        language=language.lower() if language else None,
        catalogue_id=_catalogue_id(data, path),
    )
    return sidecar, hashlib.sha256(raw).hexdigest()


def safe_id(raw: str) -> str:
    """An id made safe for paths and payloads (a `..` cannot escape anything)."""
    return _MOVIE_ID.sub("-", raw).strip("-.") or hashlib.sha1(raw.encode()).hexdigest()[:12]


def movie_id_for(video: Path, sidecar: Sidecar) -> str:
    """The id a stand-alone video's movie gets: the sidecar `movie_id` or `id`, else the file stem."""
    return safe_id(sidecar.movie_id or sidecar.id or video.stem)


def video_id_for(path: Path, uploads: Path | None = None) -> str:
    """A video's own id: its path under the upload folder without the suffix (the stem at top level)."""
    rel = path.relative_to(uploads) if uploads is not None and path.is_relative_to(uploads) else Path(path.name)
    return safe_id(str(rel.with_suffix("")).replace("/", "--"))


def normal_imdb_id(value: str) -> str:
    """`tt0114709`, `114709` and `0114709` are one IMDb id: stored as `tt` + 7 or more digits."""
    digits = value.strip().lower().removeprefix("tt").lstrip("0") or "0"
    return f"tt{int(digits):07d}" if digits.isdigit() else safe_id(value)


_KIND_WORDS = ("teaser", "trailer", "featurette", "clip")


def infer_kind(name: str, duration_s: float | None) -> str:
    """A video's kind when the sidecar does not say: a word in the file name, else feature length
    (40 min or more) means the film, else `other`."""
    lowered = name.lower()
    for word in _KIND_WORDS:
        if word in lowered:
            return word
    return "film" if (duration_s or 0.0) >= FILM_MIN_S else "other"


def probe(path: Path) -> dict[str, Any]:
    """Container and stream facts from FFmpeg's own demuxers through PyAV (faster-whisper's decoder);
    raises MediaError when unreadable. Every container and codec FFmpeg opens is read, WAV files
    holding 8-bit, mu-law or MP3 audio included: moviepy's reader parsed ffmpeg's log text and took
    a valid 8-bit WAV for "not a readable video"."""
    import av

    if path.stat().st_size == 0:
        raise MediaError(f"{path}: empty file (0 bytes)")
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            video = next(iter(container.streams.video), None)
            audio = next(iter(container.streams.audio), None)
            duration = container.duration / av.time_base if container.duration else 0.0
            if not duration:  # some containers state it per stream only
                timed = [s for s in (audio, video) if s is not None and s.duration and s.time_base]
                duration = float(timed[0].duration * timed[0].time_base) if timed else 0.0
            facts = {
                "duration_s": float(duration),
                "container": path.suffix.lower().lstrip("."),
                "video_codec": video.codec_context.name if video is not None else None,
                "audio_codec": audio.codec_context.name if audio is not None else None,
                "has_audio": audio is not None,
                "width": video.codec_context.width if video is not None else None,
                "height": video.codec_context.height if video is not None else None,
            }
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        cause = str(exc).strip() or type(exc).__name__
        raise MediaError(f"{path}: not a readable video or audio file ({cause[:200]})") from exc
    if video is None and audio is None:
        raise MediaError(f"{path}: not a readable video or audio file (no audio or video stream)")
    return facts


def scan_video(path: Path, previous: dict[str, Any] | None = None, uploads: Path | None = None) -> VideoRecord:
    """Describe one upload. An unchanged file (same size and mtime) reuses the previous hash and probe."""
    stat = path.stat()
    record = VideoRecord(
        video_id=video_id_for(path, uploads),
        path=str(path),
        file_name=path.name,
        size_bytes=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
        title=path.stem,
    )
    try:
        sidecar, record.sidecar_hash = read_sidecar(path)
        record.sidecar_id = safe_id(sidecar.id) if sidecar.id else None
        record.movie_hint = safe_id(sidecar.movie_id) if sidecar.movie_id else None
        record.imdb_id = sidecar.imdb_id
        record.title = sidecar.title or path.stem
        record.title_from_sidecar = bool(sidecar.title)
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
        record.kind = sidecar.kind or infer_kind(path.name, record.duration_s)
        record.kind_source = "sidecar" if sidecar.kind else "inferred"
        if not record.has_audio:
            raise MediaError(f"{path}: no audio track, nothing to transcribe")
    except MediaError as exc:
        record.error = str(exc)
    except OSError as exc:
        record.error = f"{path}: cannot read ({exc.strerror or exc})"
    return record


def scan_library(uploads: Path, previous: dict[str, dict[str, Any]] | None = None) -> list[VideoRecord]:
    """Scan every upload. Several videos may belong to one movie (a trailer, clips, the film). A second
    upload with the same content as another (a duplicate; unless its sidecar names a movie of its own,
    e.g. a dub filed as another movie) is reported and skipped; so are symlinks leading out of `uploads`."""
    previous = previous or {}
    records: list[VideoRecord] = []
    ids: dict[str, str] = {}
    contents: dict[str, tuple[str, str]] = {}  # content hash -> (first file, the movie it claims)
    for path in find_videos(uploads):
        record = scan_video(path, previous.get(str(path)), uploads)
        if not record.error and record.video_id in ids:  # `a/b.mp4` vs `a--b.mp4`: only by construction
            record.error = f"{path}: video id '{record.video_id}' is already used by {ids[record.video_id]}"
        claim = record.movie_hint or record.sidecar_id or record.video_id  # the movie it says it is
        first = contents.get(record.content_hash)
        own_movie = bool(record.sidecar_id or record.movie_hint)
        if not record.error and first is not None and (not own_movie or claim == first[1]):
            record.error = f"{path}: same content as {first[0]} (a duplicate upload); skipped"
        if not record.error:
            ids[record.video_id] = path.name
            contents.setdefault(record.content_hash, (path.name, claim))
        records.append(record)
    for link in escaping_links(uploads):
        stat = link.lstat()
        record = VideoRecord(
            video_id_for(link, uploads), str(link), link.name, stat.st_size, stat.st_mtime_ns, title=link.stem
        )
        record.error = f"{link}: symlink to a file outside the upload folder; not followed"
        records.append(record)
    return records
