"""Recommendations from a watch history, with re-ranking people can reason about. No Dagster here.

Formulae (documented in the README):
* relevance r_i = the engine's recommend score of movie i's profile ("best score": its cosine to the
  closest liked profile, unless a disliked one is closer; those rank below all others), min-max
  normalised over the candidates to [0, 1]
* user vector = normalise(mean(liked profiles) - 0.5 * mean(disliked profiles)) (Rocchio): picks each
  recommendation's evidence line, and scores content for a trained taste model
* with ratings (item-kNN, see collaborative.py) and weight c: r_i = (1 - c) * r_i + c * cf_i / max(cf),
  the candidates being the content top-N and the collaborative top-N together
* with a trained taste model (recsys/) and c > 0, the candidates and their relevance come from the
  model's learned blend instead (the liked movies as the history, the last one the most recent)
* with sentiment weight w: score_i = (1 - w) * r_i + w * (sentiment_i + 1) / 2
* MMR with lambda l: pick next argmax  l * score_i - (1 - l) * max_{j picked} sim_ij, sim the cosine of
  the two profiles min-max normalised over the candidates' pairs to [0, 1]. Hand-written: the engine's
  MMR (as good, bench/diversity.py) diversifies by similarity to one query vector, and these scores
  come from the recommend query, ratings or a taste model, which it cannot weigh.
* The sentiment weight is no engine score formula either: a formula sees raw cosines, which span
  0.02 over a pool of 40 (bench/diversity.py), so any weight above that let sentiment alone decide.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .collaborative import ItemNeighbours
from .recsys.blend import TasteModel
from .recsys.serving import rank
from .search import MovieHit, MovieNotFound, movie_hit, resolve_ids, with_evidence
from .vectorstore import Examples, Hit, PayloadFilter, VectorStore

DISLIKE_WEIGHT = 0.5


@dataclass
class Recommendation:
    hit: MovieHit
    because_of: str | None  # the liked movie that drove this one most
    content: float = 0.0  # the recommend score (with a taste model: cosine to the user vector)
    collaborative: float = 0.0  # item-kNN score (0 without ratings)
    because_of_title: str | None = None  # that movie's title, for people

    def to_dict(self) -> dict:
        signals = {"content": round(self.content, 4), "collaborative": round(self.collaborative, 4)}
        because = {"because_of": self.because_of, "because_of_title": self.because_of_title}
        return self.hit.to_dict() | because | {"signals": signals}

    @property
    def liked(self) -> str | None:
        """The liked movie behind it, for people: "The Martian (tmdb-286217)", or its id alone."""
        return f"{self.because_of_title} ({self.because_of})" if self.because_of_title else self.because_of

    def explanation(self) -> str:
        source = "people who liked it also liked this" if self.collaborative > 0 else "closest in content"
        return (
            f"because you liked {self.liked} ({source}; content {self.content:.2f}, "
            f"collaborative {self.collaborative:.2f}); {self.hit.explanation()}"
        )


def profiles(store: VectorStore, movie_ids: list[str]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Each movie's profile vector, and its title (for people), from one scroll."""
    if not movie_ids:
        return {}, {}
    found = store.scroll(PayloadFilter(movie_ids=tuple(movie_ids), kinds=("profile",)), with_vectors=True)
    vectors = {h.payload["movie_id"]: np.asarray(h.vector, dtype=np.float32) for h in found}
    titles = {h.payload["movie_id"]: h.payload.get("title") or h.payload["movie_id"] for h in found}
    missing = sorted(set(movie_ids) - set(vectors))
    if missing:
        raise MovieNotFound(f"not in the index: {', '.join(missing)}")
    return vectors, titles


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
    # similarities min-max scaled over the pool like the relevance: raw cosines of neighbours sit in a
    # band a few hundredths wide, so against a 0-1 relevance lambda hardly diversified (bench/diversity.py:
    # list similarity 0.856 at lambda 1, still 0.853 at lambda 0.3; now 0.838)
    similar = vectors @ vectors.T
    off = similar[~np.eye(len(hits), dtype=bool)]
    low, high = (off.min(), off.max()) if len(off) else (0.0, 1.0)
    similar = (similar - low) / (high - low) if high > low else np.zeros_like(similar)
    picked: list[int] = []
    left = list(range(len(hits)))
    while left and len(picked) < top_k:
        redundancy = similar[np.ix_(left, picked)].max(axis=1) if picked else np.zeros(len(left))
        value = mmr_lambda * blended[left] - (1 - mmr_lambda) * redundancy
        best = left[int(np.argmax(value))]
        picked.append(best)
        left.remove(best)
    return [hits[i] for i in picked]


def _blend(hits: list[Hit], cf: dict[str, float], weight: float) -> list[Hit]:
    """Min-max content relevance blended with the collaborative score scaled by its maximum."""
    content = np.array([h.score for h in hits], dtype=np.float64)
    span = content.max() - content.min()
    content = (content - content.min()) / span if span > 0 else np.ones_like(content)
    collab = np.array([cf.get(h.payload["movie_id"], 0.0) for h in hits], dtype=np.float64)
    collab = collab / collab.max() if collab.max() > 0 else collab
    return [replace(h, score=float((1 - weight) * c + weight * s)) for h, c, s in zip(hits, content, collab)]


def recommend_known(
    store: VectorStore, liked: list[str], disliked: list[str] | None = None, **options: object
) -> tuple[list[Recommendation], list[str]]:
    """`recommend`, skipping ids that are not in the index (a movie not indexed yet, a typo): those
    come back as the second value instead of failing the whole history."""
    disliked = disliked or []
    resolved = resolve_ids(store, list(dict.fromkeys([*liked, *disliked])))
    ignored = [key for key in dict.fromkeys([*liked, *disliked]) if key not in resolved]
    known_liked = [key for key in liked if key in resolved]
    if not known_liked:
        return [], ignored
    return recommend(store, known_liked, [key for key in disliked if key in resolved], **options), ignored


def recommend(
    store: VectorStore,
    liked: list[str],
    disliked: list[str] | None = None,
    top_k: int = 10,
    flt: PayloadFilter | None = None,
    sentiment_weight: float = 0.0,
    mmr_lambda: float = 1.0,
    neighbours: ItemNeighbours | None = None,
    collaborative_weight: float = 0.5,
    pool: int | None = None,
    watched: list[str] | None = None,
    model: TasteModel | None = None,
) -> list[Recommendation]:
    """Movies for someone who liked `liked` and disliked `disliked`; those and `watched` are excluded.

    With `neighbours` (item-kNN from ratings) the content relevance is blended with the collaborative
    score; movies only the collaborative side found are scored on content too, under the same filter.
    """
    if not liked:
        raise ValueError("give at least one liked movie")
    disliked = disliked or []
    # ids and aliases (ids a movie was served under before) both work; the canonical id is used
    resolved = resolve_ids(store, list(dict.fromkeys([*liked, *disliked, *(watched or [])])))
    missing = [key for key in (*liked, *disliked) if key not in resolved]
    if missing:
        raise MovieNotFound(f"not in the index: {', '.join(missing)}")
    liked = list(dict.fromkeys(resolved[key] for key in liked))
    disliked = list(dict.fromkeys(resolved[key] for key in disliked))
    watched = [resolved.get(key, key) for key in watched or []]
    liked_vectors, titles = profiles(store, liked)
    disliked_vectors, _ = profiles(store, disliked)
    liked_list, disliked_list = list(liked_vectors.values()), list(disliked_vectors.values())
    query = user_vector(liked_list, disliked_list)
    base = flt or PayloadFilter()
    watched_ids = (*base.exclude_movie_ids, *liked, *disliked, *(watched or []))
    pool = pool or max(top_k * 4, 20)
    unwatched = replace(base, kinds=("profile",), exclude_movie_ids=watched_ids)
    drivers: dict[str, str | None] = {}  # the history movie the model's blend credits
    if model is not None and collaborative_weight > 0 and model.knows(liked):
        ranked = rank(model, store, liked, set(watched_ids), pool, unwatched, with_vectors=True)
        candidates = [r.raw for r in ranked]
        drivers = {r.hit.movie_id: r.because_of for r in ranked}
        cosine = {h.payload["movie_id"]: float(np.asarray(h.vector, dtype=np.float32) @ query) for h in candidates}
        cf = {h.payload["movie_id"]: h.score for h in candidates}
        neighbours = None
    else:
        # Qdrant's recommend query ("best score": the closest liked example counts, unless a disliked
        # one is closer) rather than the nearest to the Rocchio vector `query`: on held-out MovieLens
        # users, NDCG@10 0.056 against 0.031 (bench/recommend_examples.py, EVALUATION.md)
        candidates = store.recommend(Examples(liked_list, disliked_list, unwatched, pool, with_vectors=True))
        cosine = {h.payload["movie_id"]: h.score for h in candidates}
        cf = {}
    if neighbours is not None and len(neighbours) and collaborative_weight > 0:
        seen = set(watched_ids)
        cf = {m: s for m, s in neighbours.scores(liked, disliked).items() if s > 0 and m not in seen}
        wanted = [m for m in sorted(cf, key=cf.__getitem__, reverse=True)[:pool] if m not in cosine]
        if wanted:  # scored on content the same way, by the engine
            only = replace(unwatched, movie_ids=tuple(wanted))
            extra = store.recommend(Examples(liked_list, disliked_list, only, len(wanted), with_vectors=True))
            cosine.update({h.payload["movie_id"]: h.score for h in extra})
            candidates += extra
        if candidates:
            candidates = _blend(candidates, cf, collaborative_weight)
    chosen = rerank(candidates, top_k, sentiment_weight, mmr_lambda)
    because: dict[str, str] = {}
    for hit in chosen:
        movie = hit.payload["movie_id"]
        vector = np.asarray(hit.vector, dtype=np.float32)
        pull = {m: float(v @ vector) for m, v in liked_vectors.items()}
        if drivers.get(movie):
            pull = {drivers[movie]: 1.0}
        elif cf.get(movie) and neighbours is not None:  # the liked movie it co-occurs with most, when ratings drove it
            pairs = {m: dict(neighbours.neighbours.get(m, [])).get(movie, 0.0) for m in liked}
            pull = pairs if max(pairs.values()) > 0 else pull
        because[movie] = max(pull, key=pull.__getitem__)
    # each one's evidence: its line or sentence sharing the most words with the liked movie behind it
    evidence = {h.movie_id: h for h in with_evidence(store, query, [movie_hit(hit) for hit in chosen], because)}
    out = []
    for hit in chosen:
        movie = hit.payload["movie_id"]
        out.append(
            Recommendation(
                evidence[movie],
                because[movie],
                cosine.get(movie, 0.0),
                cf.get(movie, 0.0),
                titles.get(because[movie]),
            )
        )
    return out
