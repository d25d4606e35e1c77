"""The served blend: every component scores every item for a history, each score vector is
standardised (z-score over the catalogue) and the blend is their weighted sum. The weights (and the
recency decays) come from a validation split carved from the training data - each training user's
latest interaction held out - never from the users a model is evaluated on.

Components (history = item indices, oldest first; recency weight of the k-th newest = decay^k):
* collaborative: EASE rows of every watched item, summed;
* recent_collaborative: the same, recency-weighted;
* sequential: transition rows of the last SEQ_LAST items, recency-weighted;
* content: centred profile vectors against the recency-weighted mean of the history's;
* popularity: log(1 + watchers).
A history with nothing the model knows gets popularity.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl
from scipy import sparse

from .data import Interactions, hold_out_last, interactions
from .models import centred, ease, transitions

COMPONENTS = ("collaborative", "recent_collaborative", "sequential", "content", "popularity")
SEQ_LAST = 5
GRID = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)
DECAYS = (0.5, 0.8, 0.95)
CONTENT_DECAYS = (0.05, 0.3, 0.6)
EASE_LAMBDAS = (50.0, 150.0, 500.0)
VALIDATION_USERS = 3_000  # at most, the most recent first: the tuning stays a few seconds at 100k users


@dataclass
class TasteModel:
    items: list[str]
    ease: sparse.csr_matrix
    transitions: sparse.csr_matrix
    content: np.ndarray  # items x dim, centred unit vectors (zero rows: no vector)
    popularity: np.ndarray  # log(1 + watchers)
    weights: dict[str, float] = field(default_factory=lambda: dict.fromkeys(COMPONENTS, 1.0))
    decay: float = 0.8
    content_decay: float = 0.3
    info: dict = field(default_factory=dict)
    popular_when_empty: bool = True  # the served cold start; off to measure a component alone

    def __post_init__(self) -> None:
        self._index = {m: i for i, m in enumerate(self.items)}

    def knows(self, movie_ids: list[str]) -> bool:
        """Whether any of these movies is in the model (else a history gets the cold start)."""
        return any(m in self._index for m in movie_ids)

    def indices(self, movie_ids: list[str]) -> np.ndarray:
        return np.asarray([self._index[m] for m in movie_ids if m in self._index], dtype=np.int64)

    def components(self, history: np.ndarray) -> dict[str, np.ndarray]:
        n = len(self.items)
        out = {"popularity": self.popularity}
        if not len(history):
            return out | {c: np.zeros(n, dtype=np.float32) for c in COMPONENTS if c != "popularity"}
        rows = self.ease[history]
        out["collaborative"] = np.asarray(rows.sum(axis=0)).ravel()
        recent, recency = _recent(history, self.decay)
        out["recent_collaborative"] = np.asarray(self.ease[recent].T @ recency).ravel()
        out["sequential"] = np.asarray(self.transitions[recent[-SEQ_LAST:]].T @ recency[-SEQ_LAST:]).ravel()
        recent, weights = _recent(history, self.content_decay)
        query = weights @ self.content[recent]
        out["content"] = self.content @ query
        return out

    def score(self, history: np.ndarray, parts: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """The blend; with an empty history (a cold-start user), popularity, as served."""
        parts = parts or self.components(history)
        if not len(history) and self.popular_when_empty:
            return _standard(self.popularity)
        total = np.zeros(len(self.items), dtype=np.float32)
        for name, weight in self.weights.items():
            if weight:
                total += weight * _standard(parts[name])
        return total

    def strongest(self, history: np.ndarray, item: int, parts: dict[str, np.ndarray]) -> tuple[str, int | None]:
        """The component that weighs most in an item's score, and the history item behind it."""
        share = {c: w * _standard(parts[c])[item] for c, w in self.weights.items() if w}
        component = max(share, key=share.__getitem__) if share else "popularity"
        matrix = {"collaborative": self.ease, "recent_collaborative": self.ease, "sequential": self.transitions}
        if component in matrix and len(history):
            column = np.asarray(matrix[component][history, item].todense()).ravel()
            return component, int(history[int(np.argmax(column))]) if column.max() > 0 else None
        if component == "content" and len(history):
            return component, int(history[int(np.argmax(self.content[history] @ self.content[item]))])
        return component, None


def _recent(history: np.ndarray, decay: float) -> tuple[np.ndarray, np.ndarray]:
    """The newest items whose recency weight decay^k is still above 1e-4, and those weights (older
    ones would add nothing, and tiny powers turn into slow subnormal floats)."""
    horizon = max(1, int(np.ceil(np.log(1e-4) / np.log(decay)))) if 0 < decay < 1 else len(history)
    recent = history[-horizon:]
    return recent, (decay ** np.arange(len(recent), dtype=np.float64)[::-1]).astype(np.float32)


def _standard(values: np.ndarray) -> np.ndarray:
    spread = float(values.std())
    return (values - float(values.mean())) / spread if spread > 0 else np.zeros_like(values)


def fit(frame: pl.DataFrame, items: list[str], vectors: np.ndarray, present: np.ndarray) -> TasteModel:
    """The components trained on `frame` (user_id, movie_id, timestamp) and blended with weights tuned
    on its own validation split (each user's latest interaction held out); deterministic."""
    train, validation = hold_out_last(frame)
    data = interactions(train, items)
    cases = validation_cases(data, validation)
    tuned = tune(*components_of(data, vectors, present, EASE_LAMBDAS), cases)
    final, _ = components_of(interactions(frame, items), vectors, present, (tuned.info["ease_lambda"],))
    final.weights, final.decay, final.content_decay = tuned.weights, tuned.decay, tuned.content_decay
    final.info = tuned.info | final.info
    return final


def components_of(
    data: Interactions, vectors: np.ndarray, present: np.ndarray, lambdas: tuple[float, ...]
) -> tuple[TasteModel, dict[float, sparse.csr_matrix]]:
    """The components (EASE with the first lambda), and EASE for every lambda (what tuning picks from)."""
    weights = ease(data.matrix, lambdas)
    model = TasteModel(
        items=data.items,
        ease=weights[lambdas[0]],
        transitions=transitions(data.sequences, len(data.items)),
        content=centred(vectors, present),
        popularity=np.log1p(data.popularity()),
        info={"users": len(data.users), "interactions": int(data.matrix.nnz)},
    )
    return model, weights


Case = tuple[np.ndarray, int]  # (history, the held-out item)


def validation_cases(data: Interactions, held: pl.DataFrame, limit: int = VALIDATION_USERS) -> list[Case]:
    """(history, held-out item) of the `limit` most recent held-out interactions whose item and
    user the training data knows."""
    index = data.index
    held = held.filter(pl.col("movie_id").is_in(data.items)).sort(["timestamp", "user_id"], descending=True)
    cases = []
    for user, movie in held.select("user_id", "movie_id").head(limit).iter_rows():
        history = data.sequences.get(user)
        if history is not None and len(history):
            cases.append((history, index[movie]))
    return cases


def ndcg(model: TasteModel, cases: list[Case], parts: list[dict[str, np.ndarray]] | None = None) -> float:
    gains = []
    for k, (history, answer) in enumerate(cases):
        rank = rank_of(model.score(history, parts[k] if parts else None), history, answer)
        gains.append(1.0 / np.log2(rank + 1) if rank <= 10 else 0.0)
    return float(np.mean(gains)) if gains else 0.0


def rank_of(scores: np.ndarray, watched: np.ndarray, answer: int) -> float:
    """The answer's rank among the unwatched items, ties broken at random in expectation (a model
    that scores everything 0 must not rank the answer first)."""
    scores = scores.astype(np.float64, copy=True)
    scores[watched] = -np.inf
    above = int((scores > scores[answer]).sum())
    tied = int((scores == scores[answer]).sum()) - 1
    return above + 1 + tied / 2


def _only(model: TasteModel, name: str) -> TasteModel:
    return replace(model, weights={name: 1.0})


def tune(model: TasteModel, choices: dict[float, sparse.csr_matrix], cases: list[Case]) -> TasteModel:
    """EASE lambda (from `choices`) and recency decays (each the best alone), then the weights by
    coordinate ascent over GRID (two rounds) from the best single component; each choice the best
    validation NDCG@10."""
    tuned = replace(model, info=dict(model.info))
    by_lambda = {lam: ndcg(_only(replace(tuned, ease=m), "collaborative"), cases) for lam, m in choices.items()}
    lam = max(choices, key=lambda v: (by_lambda[v], -v))
    tuned.ease = choices[lam]
    for attribute, values, component in (
        ("decay", DECAYS, "recent_collaborative"),
        ("content_decay", CONTENT_DECAYS, "content"),
    ):
        scored = {}
        for value in values:
            setattr(tuned, attribute, value)
            scored[value] = ndcg(_only(tuned, component), cases)
        setattr(tuned, attribute, max(values, key=lambda v: (scored[v], -values.index(v))))
    # each case's standardised components once; a weight vector then scores a case in one product
    stacks = [np.stack([_standard(p[c]) for c in COMPONENTS]) for p in (tuned.components(h) for h, _ in cases)]

    def value(weights: dict[str, float]) -> float:
        vector = np.array([weights[c] for c in COMPONENTS], dtype=np.float32)
        gains = []
        for stack, (history, answer) in zip(stacks, cases):
            rank = rank_of(vector @ stack, history, answer)
            gains.append(1.0 / np.log2(rank + 1) if rank <= 10 else 0.0)
        return float(np.mean(gains)) if gains else 0.0

    single = {c: value(dict.fromkeys(COMPONENTS, 0.0) | {c: 1.0}) for c in COMPONENTS}
    weights = dict.fromkeys(COMPONENTS, 0.0) | {max(COMPONENTS, key=lambda c: (single[c], -COMPONENTS.index(c))): 1.0}
    best = value(weights)
    for _ in range(2):
        for component in COMPONENTS:
            for step in GRID:
                trial = weights | {component: step}
                if any(trial.values()):
                    score = value(trial)
                    if score > best + 1e-9:
                        best, weights = score, trial
    tuned.weights = weights
    tuned.info |= {
        "ease_lambda": lam,
        "validation_cases": len(cases),
        "validation_ndcg": round(best, 5),
        "validation_single": {c: round(v, 5) for c, v in single.items()},
    }
    return tuned
