"""Serving the taste model: a history's ranking over the whole catalogue (numpy, a row lookup per
history item), then the store for the payloads and the request's filters.

The model scores every movie in about a millisecond, so ranking happens here and the store only
checks the best candidates against the filter (one scroll by id): the engine's recommend query
scores by vector similarity alone and cannot express the learned blend.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..search import MovieHit, movie_hit, similar, with_evidence
from ..vectorstore import Hit, PayloadFilter, VectorStore
from .blend import TasteModel

CANDIDATES = 4  # x top_k, first pass
WIDE = 2_000  # second pass when a filter kept too few


@dataclass
class Ranked:
    hit: MovieHit
    vector: list[float] | None
    signal: str  # the component that weighs most in the score
    because_of: str | None  # the history movie behind it
    raw: Hit  # the profile point, its score the blend's


def rank(
    model: TasteModel,
    store: VectorStore,
    history: list[str],
    watched: set[str],
    top_k: int,
    flt: PayloadFilter | None = None,
    with_vectors: bool = False,
) -> list[Ranked]:
    """The best `top_k` unwatched movies for `history` (movie ids, oldest first) that pass `flt`."""
    known = model.indices(history)
    parts = model.components(known)
    scores = model.score(known, parts).astype(np.float64)
    scores[model.indices(sorted(watched))] = -np.inf
    order = np.argsort(-scores, kind="stable")
    order = order[np.isfinite(scores[order])]
    base = replace(flt or PayloadFilter(), kinds=("profile",))
    hits: dict[str, Hit] = {}
    for depth in (top_k * CANDIDATES + 20, WIDE, len(order)):
        wanted = [model.items[i] for i in order[:depth]]
        found = store.scroll(replace(base, movie_ids=tuple(wanted)), with_vectors=with_vectors) if wanted else []
        hits = {h.payload["movie_id"]: h for h in found}
        if len(hits) >= top_k or depth >= len(order):
            break
    out = []
    for i in order:
        movie = model.items[i]
        if movie not in hits:
            continue
        signal, source = model.strongest(known, int(i), parts)
        hit = replace(hits[movie], score=float(scores[i]))
        because = model.items[source] if source is not None else None
        out.append(Ranked(movie_hit(hit), hit.vector, signal, because, hit))
        if len(out) >= top_k:
            break
    return out


def similar_movies(
    model: TasteModel | None, store: VectorStore, movie_id: str, top_k: int, flt: PayloadFilter | None = None
) -> list[MovieHit]:
    """Movies like this one: by the learned blend (who watched it, what they watched next, its
    content) when the model knows the movie, else by content alone (`search.similar`)."""
    if model is None or not model.knows([movie_id]):
        return similar(store, movie_id, top_k, flt)
    hits = [r.hit for r in rank(model, store, [movie_id], {movie_id}, top_k, flt)]
    profile = store.scroll(PayloadFilter(movie_ids=(movie_id,), kinds=("profile",)), with_vectors=True)
    if not profile or profile[0].vector is None:
        return hits
    return with_evidence(store, profile[0].vector, hits, {h.movie_id: movie_id for h in hits})
