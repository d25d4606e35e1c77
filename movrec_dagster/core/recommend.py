"""Recommendations from a watch history, with re-ranking people can reason about. No Dagster here.

Formulae (documented in the README):
* user vector = normalise(mean(liked profiles) - 0.5 * mean(disliked profiles))  (Rocchio)
* relevance r_i = cosine(user vector, movie profile), min-max normalised over the candidates to [0, 1]
* with sentiment weight w: score_i = (1 - w) * r_i + w * (sentiment_i + 1) / 2
* MMR with lambda l: pick next argmax  l * score_i - (1 - l) * max_{j picked} cosine(profile_i, profile_j)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .search import MovieHit, MovieNotFound, movie_hit
from .vectorstore import Hit, PayloadFilter, VectorStore

DISLIKE_WEIGHT = 0.5


@dataclass
class Recommendation:
    hit: MovieHit
    because_of: str | None  # the liked movie closest to this one

    def to_dict(self) -> dict:
        return self.hit.to_dict() | {"because_of": self.because_of}


def profiles(store: VectorStore, movie_ids: list[str]) -> dict[str, np.ndarray]:
    if not movie_ids:
        return {}
    found = store.scroll(PayloadFilter(movie_ids=tuple(movie_ids), kinds=("profile",)), with_vectors=True)
    vectors = {h.payload["movie_id"]: np.asarray(h.vector, dtype=np.float32) for h in found}
    missing = sorted(set(movie_ids) - set(vectors))
    if missing:
        raise MovieNotFound(f"not in the index: {', '.join(missing)}")
    return vectors


def user_vector(liked: list[np.ndarray], disliked: list[np.ndarray]) -> np.ndarray:
    vector = np.mean(liked, axis=0)
    if disliked:
        vector = vector - DISLIKE_WEIGHT * np.mean(disliked, axis=0)
    return vector / (np.linalg.norm(vector) or 1.0)


def rerank(hits: list[Hit], top_k: int, sentiment_weight: float = 0.0, mmr_lambda: float = 1.0) -> list[Hit]:
    """Sentiment-weighted relevance, then maximal marginal relevance for diversity (lambda 1 = off)."""
    if not hits:
        return []
    scores = np.array([h.score for h in hits], dtype=np.float64)
    span = scores.max() - scores.min()
    relevance = (scores - scores.min()) / span if span > 0 else np.ones_like(scores)
    mood = np.array([(float(h.payload.get("sentiment") or 0.0) + 1) / 2 for h in hits])
    blended = (1 - sentiment_weight) * relevance + sentiment_weight * mood
    vectors = np.array([h.vector for h in hits], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
    picked: list[int] = []
    left = list(range(len(hits)))
    while left and len(picked) < top_k:
        redundancy = (vectors[left] @ vectors[picked].T).max(axis=1) if picked else np.zeros(len(left))
        value = mmr_lambda * blended[left] - (1 - mmr_lambda) * redundancy
        best = left[int(np.argmax(value))]
        picked.append(best)
        left.remove(best)
    return [hits[i] for i in picked]


def recommend(
    store: VectorStore,
    liked: list[str],
    disliked: list[str] | None = None,
    top_k: int = 10,
    flt: PayloadFilter | None = None,
    sentiment_weight: float = 0.0,
    mmr_lambda: float = 1.0,
) -> list[Recommendation]:
    """Movies for someone who liked `liked` and disliked `disliked`; watched movies are excluded."""
    if not liked:
        raise ValueError("give at least one liked movie")
    disliked = disliked or []
    liked_vectors = profiles(store, liked)
    disliked_vectors = profiles(store, disliked)
    query = user_vector(list(liked_vectors.values()), list(disliked_vectors.values()))
    base = flt or PayloadFilter()
    watched = (*base.exclude_movie_ids, *liked, *disliked)
    candidates = store.query(
        query,
        replace(base, kinds=("profile",), exclude_movie_ids=watched),
        limit=max(top_k * 4, 20),
        with_vectors=True,
    )
    chosen = rerank(candidates, top_k, sentiment_weight, mmr_lambda)
    out = []
    for hit in chosen:
        vector = np.asarray(hit.vector, dtype=np.float32)
        because = max(liked_vectors, key=lambda m: float(liked_vectors[m] @ vector))
        out.append(Recommendation(movie_hit(hit), because))
    return out
