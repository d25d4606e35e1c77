"""Response models shared by the movies and the users sides of the HTTP API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, computed_field


class MovieOut(BaseModel):
    movie_id: str
    title: str
    language: str
    score: float
    year: int | None = None
    genres: list[str] = []
    sentiment: float = 0.0
    matched_kind: str = ""
    matched_text: str = ""
    # of the matched text, the sentence or transcript line holding the query's words (search), or
    # sharing the most words with the movie it was found for (similar movies, recommendations)
    matched_sentence: str | None = None
    start: float | None = None  # seconds into the video where the matched line is said
    video_id: str | None = None  # the video whose line matched
    video_kind: str | None = None
    picture_video: str | None = None  # the movie's video whose frame pictures it
    relevance: float | None = None  # search: how well the text matched, 0-1 (1: top of every fused list)
    renown: float | None = None  # search: how widely known, 0-1; the score adds a share of it
    because_of: str | None = None  # recommendations: the liked movie behind it
    because_of_title: str | None = None
    signals: dict[str, float] | None = None  # recommendations: content and collaborative scores

    @computed_field  # type: ignore[prop-decorator]
    @property
    def thumbnail(self) -> str | None:
        """The URL of the movie's picture (a representative frame of its film, trailer or clip)."""
        return f"/videos/{self.picture_video}/thumbnail" if self.picture_video else None


class UserRecOut(MovieOut):
    strategy: str  # profile | recent | similar_users | popular
    evidence: dict[str, Any]  # {"liked": movie} | {"users": [...]} | {"profile": ...} | {"popular_in": ...}
