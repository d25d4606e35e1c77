"""Queries people ask: free-text search and similar movies, one hit per movie. No Dagster here."""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, replace
from typing import Any

from .catalogue import title_key
from .embedding import Embedder
from .sparse import query_vector
from .vectorstore import Hit, PayloadFilter, Sparse, VectorStore

CONTENT_KINDS = ("transcript", "overview")


@dataclass
class MovieHit:
    movie_id: str
    title: str
    language: str
    score: float
    year: int | None
    genres: list[str]
    sentiment: float
    matched_kind: str
    matched_text: str
    start: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def explanation(self) -> str:
        """The evidence for this hit in words: the transcript line (with its time) or overview that matched."""
        text = self.matched_text.strip()
        if self.matched_kind == "transcript":
            at = f" at {self.start:.0f} s" if self.start is not None else ""
            return f'its soundtrack says{at}: "{text}"'
        if self.matched_kind == "overview":
            return f'its overview: "{text}"'
        return f'closest overall (the mean of all its lines); it begins: "{text}"'


class MovieNotFound(LookupError):
    pass


def find_movie(store: VectorStore, key: str) -> str:
    """A movie id from an id, an exact title (case, accents and punctuation ignored) or the closest
    title (difflib ratio >= 0.6, for typos): what people type when they say "like that movie"."""
    if store.count(PayloadFilter(movie_ids=(key,), kinds=("profile",))):
        return key
    titles: dict[str, str] = {}
    for hit in store.scroll(PayloadFilter(kinds=("profile",))):
        titles.setdefault(title_key(hit.payload.get("title"), None), hit.payload["movie_id"])
    wanted = title_key(key, None)
    if wanted in titles:
        return titles[wanted]
    close = difflib.get_close_matches(wanted, list(titles), n=1, cutoff=0.6)
    if close:
        return titles[close[0]]
    raise MovieNotFound(f"'{key}' is not in the index (no movie with that id, title or a close title)")


def movie_hit(hit: Hit) -> MovieHit:
    p = hit.payload
    return MovieHit(
        movie_id=p["movie_id"],
        title=p.get("title") or p["movie_id"],
        language=p.get("language", ""),
        score=round(hit.score, 4),
        year=p.get("year"),
        genres=list(p.get("genres") or []),
        sentiment=float(p.get("sentiment") or 0.0),
        matched_kind=p.get("kind", ""),
        matched_text=p.get("text", ""),
        start=p.get("start"),
    )


def best_per_movie(
    store: VectorStore, vector: Any, flt: PayloadFilter, top_k: int, sparse: Sparse | None = None
) -> list[MovieHit]:
    """Top chunks, grouped to one (best) hit per movie; widens the search until `top_k` movies are found."""
    limit = max(top_k * 8, 32)
    while True:
        hits = store.query(vector, flt, limit=limit, sparse=sparse)
        movies: dict[str, MovieHit] = {}
        for hit in hits:  # hits come best first, so the first per movie is its best
            movies.setdefault(hit.payload["movie_id"], movie_hit(hit))
        if len(movies) >= top_k or len(hits) < limit:
            return list(movies.values())[:top_k]
        limit *= 4


def search(
    store: VectorStore,
    embedder: Embedder,
    text: str,
    top_k: int = 10,
    flt: PayloadFilter | None = None,
    hybrid: bool = True,
) -> list[MovieHit]:
    """Search over transcripts and overviews: dense (cross-lingual) fused with BM25 (names, rare words).

    With `hybrid`, scores are reciprocal-rank-fusion scores (about 1/60 per list a chunk tops), not cosines.
    """
    if not text.strip():
        raise ValueError("search text is empty")
    vector = embedder.encode([text], kind="query")[0]
    sparse = query_vector(text) if hybrid else None
    return best_per_movie(store, vector, replace(flt or PayloadFilter(), kinds=CONTENT_KINDS), top_k, sparse)


def similar(store: VectorStore, movie_id: str, top_k: int = 10, flt: PayloadFilter | None = None) -> list[MovieHit]:
    """Movies whose profile (mean of all their chunk vectors) is closest to this movie's, itself excluded."""
    profile = store.scroll(PayloadFilter(movie_ids=(movie_id,), kinds=("profile",)), with_vectors=True)
    if not profile or profile[0].vector is None:
        raise MovieNotFound(f"movie '{movie_id}' is not in the index")
    base = flt or PayloadFilter()
    query = replace(base, kinds=("profile",), exclude_movie_ids=(*base.exclude_movie_ids, movie_id))
    return with_evidence(store, profile[0].vector, best_per_movie(store, profile[0].vector, query, top_k))


def with_evidence(store: VectorStore, vector: Any, hits: list[MovieHit]) -> list[MovieHit]:
    """Each hit found by its profile (a mean) explained by its own transcript line or overview closest
    to `vector`: the evidence a person can read. One query for all the hits."""
    if not hits:
        return hits
    ids = tuple(h.movie_id for h in hits)
    chunks = store.query(vector, PayloadFilter(movie_ids=ids, kinds=CONTENT_KINDS), limit=len(ids) * 16)
    best: dict[str, Hit] = {}
    for chunk in chunks:  # best first
        best.setdefault(chunk.payload["movie_id"], chunk)
    out = []
    for h in hits:
        chunk = best.get(h.movie_id)
        if chunk is None:
            out.append(h)
            continue
        p = chunk.payload
        out.append(replace(h, matched_kind=p.get("kind", ""), matched_text=p.get("text", ""), start=p.get("start")))
    return out
