"""Recommendations for a known user: three strategies, a blend of them, and a cold start.

* `profile`: the user's taste vector against movie profiles;
* `recent`: the last ten movies they liked, each giving its two most similar;
* `similar_users`: the ten users whose taste vectors are closest, each giving two movies they liked;
* `blend` (default): the learned taste model (`recsys/`: collaborative, sequential, content and
  popularity, weights tuned on held-out data) once one is trained; before that, the three above
  taken in turn (recent, profile, similar users), each movie once;
* a user with no events, or none about indexed movies: the most popular movies of their language
  (else overall), diversified by MMR.
Nothing the user watched comes back; every result names the strategy and its evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..recommend import rerank
from ..recsys.blend import TasteModel
from ..recsys.serving import rank
from ..search import MovieHit, movie_hit, with_evidence
from ..vectorstore import Hit, PayloadFilter, VectorStore
from .profiles import UserTaste

STRATEGIES = ("blend", "profile", "recent", "similar_users")
RECENT = 10
PER_SOURCE = 2
NEIGHBOURS = 10
POPULAR_POOL = 50
CEILING = 200  # popular movies kept beyond the pool, for the ones a user watched already


@dataclass
class UserRecommendation:
    hit: MovieHit
    strategy: str  # profile | recent | similar_users | popular
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return self.hit.to_dict() | {"strategy": self.strategy, "evidence": self.evidence}


def _unwatched(flt: PayloadFilter | None, taste: UserTaste, also: set[str]) -> PayloadFilter:
    base = flt or PayloadFilter()
    excluded = (*base.exclude_movie_ids, *taste.watched, *sorted(also))
    return replace(base, kinds=("profile",), exclude_movie_ids=excluded)


def by_profile(store: VectorStore, taste: UserTaste, top_k: int, flt: PayloadFilter | None) -> list[UserRecommendation]:
    if taste.vector is None:
        return []
    hits = store.query(taste.vector, _unwatched(flt, taste, set()), limit=top_k)
    return [UserRecommendation(movie_hit(h), "profile", {"profile": "your taste vector"}) for h in hits]


def by_recent(store: VectorStore, taste: UserTaste, top_k: int, flt: PayloadFilter | None) -> list[UserRecommendation]:
    recent = [m for m in taste.recent if taste.weights.get(m, 0) > 0][:RECENT]
    if not recent:
        return []
    found = store.scroll(PayloadFilter(movie_ids=tuple(recent), kinds=("profile",)), with_vectors=True)
    vectors = {h.payload["movie_id"]: h.vector for h in found if h.vector is not None}
    out: list[UserRecommendation] = []
    chosen: set[str] = set()
    for movie in recent:
        if movie not in vectors or len(out) >= top_k:
            continue
        hits = store.query(vectors[movie], _unwatched(flt, taste, chosen), limit=PER_SOURCE)
        for h in hits:
            chosen.add(h.payload["movie_id"])
            out.append(UserRecommendation(movie_hit(h), "recent", {"liked": movie}))
    return out[:top_k]


def by_similar_users(
    store: VectorStore, neighbours: list[tuple[str, list[str]]], taste: UserTaste, top_k: int, flt: PayloadFilter | None
) -> list[UserRecommendation]:
    """`neighbours`: (user id, the movies they liked most) of the closest users, closest first."""
    picks: list[tuple[str, str]] = []  # (movie, the user who liked it)
    seen = set(taste.watched)
    for other, liked in neighbours[:NEIGHBOURS]:
        mine = [m for m in liked if m not in seen][:PER_SOURCE]
        picks += [(m, other) for m in mine]
        seen.update(mine)
    if not picks:
        return []
    allowed = replace(_unwatched(flt, taste, set()), movie_ids=tuple(m for m, _ in picks))
    hits = {h.payload["movie_id"]: h for h in store.scroll(allowed)}
    return [UserRecommendation(movie_hit(hits[m]), "similar_users", {"users": [u]}) for m, u in picks if m in hits][
        :top_k
    ]


_POPULAR: dict[tuple, list[Hit]] = {}  # (store root, version, filter) -> the most popular movies


def _most_popular(store: VectorStore, flt: PayloadFilter) -> list[Hit]:
    """The POPULAR_POOL + CEILING most popular movies passing `flt`, once per collection version: a
    scroll over every movie costs about a second at 10k movies (measured: the p99 of cold users)."""
    key = (str(getattr(store, "root", "")), store.alias, store.serving_version(), flt)
    if key not in _POPULAR:
        found = store.scroll(replace(flt, kinds=("profile",)), with_vectors=True)
        found.sort(key=lambda h: (-(h.payload.get("popularity") or 0.0), h.payload["movie_id"]))
        if len(_POPULAR) > 64:
            _POPULAR.clear()
        _POPULAR[key] = found[: POPULAR_POOL + CEILING]
    return _POPULAR[key]


def popular(
    store: VectorStore, taste: UserTaste, top_k: int, flt: PayloadFilter | None, model: TasteModel | None = None
) -> list[UserRecommendation]:
    """Cold start: the most popular movies of the user's language (else overall), diversified by MMR:
    popular by who watched them when a taste model is trained, else by the catalogue's popularity."""
    base = replace(flt or PayloadFilter(), exclude_movie_ids=())
    scopes = [(taste.segment,)] if taste.segment != "und" and not base.languages else []
    watched = {*taste.watched, *(flt or PayloadFilter()).exclude_movie_ids}
    candidates: list[Hit] = []
    for languages in [*scopes, base.languages]:
        scoped = replace(base, languages=languages)
        if model is not None:
            ranked = rank(model, store, [], watched, POPULAR_POOL, scoped, with_vectors=True)
            candidates = [r.raw for r in ranked]
        else:
            candidates = [h for h in _most_popular(store, scoped) if h.payload["movie_id"] not in watched]
        if candidates:
            break
    pool = [
        replace(h, score=float(h.score if model is not None else h.payload.get("popularity") or 0.0))
        for h in candidates[:POPULAR_POOL]
    ]
    return [
        UserRecommendation(movie_hit(h), "popular", {"popular_in": taste.segment})
        for h in rerank(pool, top_k, mmr_lambda=0.7)
    ]


def by_model(
    model: TasteModel, store: VectorStore, taste: UserTaste, top_k: int, flt: PayloadFilter | None
) -> list[UserRecommendation]:
    ranked = rank(model, store, list(reversed(taste.recent)), set(taste.watched), top_k, flt)
    return [UserRecommendation(r.hit, "blend", {"signal": r.signal, "liked": r.because_of}) for r in ranked]


def recommend_for_user(
    store: VectorStore,
    neighbours: list[tuple[str, list[str]]],
    taste: UserTaste,
    top_k: int = 10,
    flt: PayloadFilter | None = None,
    strategy: str = "blend",
    model: TasteModel | None = None,
) -> list[UserRecommendation]:
    """`neighbours`: the closest users and what they liked (`service.similar_users`); `model`: the
    served taste model, if one was trained."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}")
    if strategy == "blend" and model is not None and model.knows(taste.recent):
        return _readable(store, taste, by_model(model, store, taste, top_k, flt))
    lists = {
        "recent": lambda: by_recent(store, taste, top_k, flt),
        "profile": lambda: by_profile(store, taste, top_k, flt),
        "similar_users": lambda: by_similar_users(store, neighbours, taste, top_k, flt),
    }
    chosen = [lists[strategy]()] if strategy != "blend" else [make() for make in lists.values()]
    out: list[UserRecommendation] = []
    taken: set[str] = set()
    for position in range(top_k):  # in turn: each strategy's next best, each movie once
        for ranked in chosen:
            if position < len(ranked) and ranked[position].hit.movie_id not in taken and len(out) < top_k:
                taken.add(ranked[position].hit.movie_id)
                out.append(ranked[position])
    if not out:
        out = popular(store, taste, top_k, flt, model)
    return _readable(store, taste, out)


def _readable(store: VectorStore, taste: UserTaste, out: list[UserRecommendation]) -> list[UserRecommendation]:
    if out and taste.vector is not None:  # the evidence a person can read: the line closest to their taste
        seeds = {r.hit.movie_id: r.evidence.get("liked") for r in out}  # the liked movie behind it, where one is
        lines = {h.movie_id: h for h in with_evidence(store, np.asarray(taste.vector), [r.hit for r in out], seeds)}
        out = [replace(r, hit=lines.get(r.hit.movie_id, r.hit)) for r in out]
    return out
