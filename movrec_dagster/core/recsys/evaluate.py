"""Offline evaluation of next-movie recommendation and of similar movies, on held-out data.

Two splits of the interactions (user, movie, time):
* leave-last-out: each user's latest interaction is their test case, the rest is training;
* global time: training is everything before the 80th percentile of time; the test case of a user
  seen before is their first interaction after it.
Every model ranks the whole catalogue minus what the user watched in training. One relevant item
per case: Recall@10 (hit rate), NDCG@10 (1/log2(rank + 1)), MRR@10; ties in a score count at their
expected rank, so a model that scores everything alike gets chance, not a hit. Over all cases:
coverage (share of the catalogue in any top 10) and novelty (mean self-information
-log2(watchers / users) of recommended movies). Cold-start users: at most COLD_USER training
interactions; cold-start items: answers nobody watched in training. 95 % confidence intervals:
percentile bootstrap over users (BOOTSTRAP resamples, fixed seed). The served blend tunes its
weights on a validation split carved from the training data only (`blend.fit`).

Similar movies: a fifth of the users (by a hash of the id) are held out of training entirely; for
each, `similar(x)` of the first movie x they liked must rank the other movies they liked
(NDCG@10 with all of them relevant).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from ..collaborative import item_knn
from .blend import fit, rank_of
from .data import interactions, split_at
from .models import als

K = 10
COLD_USER = 5
SHORT = 2  # the "one or two events" user, simulated from every test user's latest training items
BOOTSTRAP = 1_000
LIKED = 4.0

Scorer = Callable[[str, np.ndarray], np.ndarray]  # (user, training history) -> a score per item


@dataclass
class ModelReport:
    name: str
    gains: dict[str, np.ndarray] = field(default_factory=dict)  # metric -> per case
    users: list[str] = field(default_factory=list)
    cold_users: np.ndarray | None = None  # mask
    short: np.ndarray | None = None  # NDCG@10 per case from the last SHORT training items only
    cold_items: np.ndarray | None = None
    recommended: set[int] = field(default_factory=set)
    novelty: float = 0.0
    coverage: float = 0.0

    def mean(self, metric: str, mask: np.ndarray | None = None) -> float:
        values = self.gains[metric] if mask is None else self.gains[metric][mask]
        return float(values.mean()) if len(values) else float("nan")

    def interval(self, metric: str, seed: int = 11) -> tuple[float, float]:
        return bootstrap(self.gains[metric], seed)


def bootstrap(values: np.ndarray, seed: int = 11) -> tuple[float, float]:
    if not len(values):
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(BOOTSTRAP, len(values)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


@dataclass
class SplitReport:
    split: str
    cases: int
    catalogue: int
    models: dict[str, ModelReport]
    blend_weights: dict[str, float]
    random_ndcg: float

    def paired(self, a: str, b: str, warm_only: bool = False) -> tuple[float, float, float]:
        """Mean and 95 % CI of NDCG@10(a) - NDCG@10(b), paired by user (optionally only the users
        with more than COLD_USER training interactions)."""
        diff = self.models[a].gains["ndcg"] - self.models[b].gains["ndcg"]
        cold = self.models[a].cold_users
        if warm_only and cold is not None:
            diff = diff[~cold]
        if not len(diff):
            return float("nan"), float("nan"), float("nan")
        low, high = bootstrap(diff)
        return float(diff.mean()), low, high


def evaluate_split(
    name: str,
    train: pl.DataFrame,
    test: pl.DataFrame,
    items: list[str],
    vectors: np.ndarray,
    present: np.ndarray,
    max_users: int = 0,
) -> SplitReport:
    data = interactions(train, items)
    index = data.index
    test = test.filter(pl.col("movie_id").is_in(items)).sort("user_id")
    if max_users:
        test = test.head(max_users)
    served = fit(train, items, vectors, present)
    only = {
        c: replace(served, weights={c: 1.0}, popular_when_empty=False)
        for c in ("collaborative", "sequential", "content")
    }
    neighbours = item_knn(train.select("user_id", "movie_id", pl.lit(1.0).alias("rating"), "timestamp"))
    user_factors, item_factors = als(data.matrix)
    user_row = {u: i for i, u in enumerate(data.users)}
    popularity = data.popularity()

    def knn(_: str, history: np.ndarray) -> np.ndarray:
        scores = neighbours.scores([items[i] for i in history])
        out = np.zeros(len(items), dtype=np.float64)
        for movie, value in scores.items():
            if movie in index:
                out[index[movie]] = value
        return out

    scorers: dict[str, Scorer] = {
        "popularity": lambda _u, _h: popularity,
        "item-kNN": knn,
        "EASE": lambda _u, h: only["collaborative"].score(h),
        "implicit ALS": lambda u, _h: (
            item_factors @ user_factors[user_row[u]] if u in user_row else np.zeros(len(items))
        ),
        "sequential (transitions)": lambda _u, h: only["sequential"].score(h),
        "content only (centred, recent)": lambda _u, h: only["content"].score(h),
        "served blend": lambda _u, h: served.score(h),
    }
    watchers = np.maximum(popularity, 1.0)
    information = -np.log2(watchers / max(len(data.users), 1))
    reports = {name_: ModelReport(name_) for name_ in scorers}
    cases = list(test.select("user_id", "movie_id").iter_rows())
    empty = np.zeros(0, dtype=np.int32)
    sequences = {u: data.sequences.get(u, empty) for u, _ in cases}  # cold-start users: nothing
    for model, scorer in scorers.items():
        report = reports[model]
        recall, ndcg, mrr, novelty, short = [], [], [], [], []
        for user, movie in cases:
            if model != "implicit ALS":  # its user factors come from the whole training history
                brief = sequences[user][-SHORT:]
                position = rank_of(np.asarray(scorer(user, brief), dtype=np.float64), brief, index[movie])
                short.append(1.0 / math.log2(position + 1) if position <= K else 0.0)
            history = sequences[user]
            scores = np.asarray(scorer(user, history), dtype=np.float64)
            position = rank_of(scores, history, index[movie])
            recall.append(1.0 if position <= K else 0.0)
            ndcg.append(1.0 / math.log2(position + 1) if position <= K else 0.0)
            mrr.append(1.0 / position if position <= K else 0.0)
            masked = scores.copy()
            masked[history] = -np.inf
            top = np.argpartition(-masked, K)[:K]
            report.recommended.update(int(i) for i in top)
            novelty.append(float(information[top].mean()))
        report.gains = {"recall": np.array(recall), "ndcg": np.array(ndcg), "mrr": np.array(mrr)}
        report.users = [u for u, _ in cases]
        report.cold_users = np.array([len(sequences[u]) <= COLD_USER for u, _ in cases])
        report.cold_items = np.array([popularity[index[m]] == 0 for _, m in cases])
        report.short = np.array(short) if short else None
        report.coverage = len(report.recommended) / max(len(items), 1)
        report.novelty = float(np.mean(novelty)) if novelty else 0.0
    unwatched = len(items) - np.mean([len(sequences[u]) for u, _ in cases]) if cases else len(items)
    random_ndcg = sum(1.0 / math.log2(r + 1) for r in range(1, K + 1)) / max(unwatched, 1.0)
    return SplitReport(name, len(cases), len(items), reports, served.weights, random_ndcg)


def time_split(frame: pl.DataFrame, quantile: float = 0.8) -> tuple[pl.DataFrame, pl.DataFrame]:
    moment = float(frame["timestamp"].quantile(quantile))
    return split_at(frame, moment)


def held_out_user(user: str, share: int = 5) -> bool:
    """A fifth of the users (stable across runs and machines)."""
    return int(hashlib.sha256(user.encode()).hexdigest()[:8], 16) % share == 0


@dataclass
class SimilarReport:
    users: int
    ndcg: dict[str, np.ndarray]


def evaluate_similar(
    ratings: pl.DataFrame, items: list[str], vectors: np.ndarray, present: np.ndarray, max_users: int = 0
) -> SimilarReport:
    """`ratings`: (user_id, movie_id, timestamp, rating). Held-out users never reach training."""
    held = ratings.filter(pl.col("user_id").map_elements(held_out_user, return_dtype=pl.Boolean))
    train = ratings.filter(~pl.col("user_id").is_in(held["user_id"].unique().implode()))
    model = fit(train.select("user_id", "movie_id", "timestamp"), items, vectors, present)
    index = model._index
    raw = vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9)
    content = replace(model, weights={"content": 1.0})
    rankers: dict[str, Callable[[int], np.ndarray]] = {
        "content (raw cosine: before)": lambda x: raw @ raw[x],
        "content (centred)": lambda x: content.score(np.array([x])),
        "served blend": lambda x: model.score(np.array([x])),
    }
    out: dict[str, list[float]] = {name: [] for name in rankers}
    liked = held.filter((pl.col("rating") >= LIKED) & pl.col("movie_id").is_in(items)).sort(["user_id", "timestamp"])
    groups = liked.group_by("user_id", maintain_order=True).agg("movie_id")
    if max_users:
        groups = groups.head(max_users)
    for _, movies in groups.iter_rows():
        if len(movies) < 2:
            continue
        first, rest = index[movies[0]], {index[m] for m in movies[1:]}
        ideal = sum(1.0 / math.log2(r + 2) for r in range(min(K, len(rest))))
        for name, ranker in rankers.items():
            scores = np.asarray(ranker(first), dtype=np.float64)
            scores[first] = -np.inf
            top = np.argsort(-scores, kind="stable")[:K]
            dcg = sum(1.0 / math.log2(r + 2) for r, i in enumerate(top) if int(i) in rest)
            out[name].append(dcg / ideal)
    return SimilarReport(len(out["served blend"]), {name: np.array(v) for name, v in out.items()})


def _cell(report: ModelReport, metric: str, mask: np.ndarray | None = None) -> str:
    if mask is not None:
        return f"{report.mean(metric, mask):.4f}" if mask.any() else "-"
    low, high = report.interval(metric)
    return f"{report.mean(metric):.4f} [{low:.4f}, {high:.4f}]"


def split_markdown(split: SplitReport) -> str:
    rows = [
        "| model | Recall@10 [95% CI] | NDCG@10 [95% CI] | MRR@10 [95% CI] | coverage | novelty (bits)"
        f" | cold-start users NDCG@10 | {SHORT} latest items only NDCG@10 | cold-start items NDCG@10 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, report in split.models.items():
        rows.append(
            f"| {name} | {_cell(report, 'recall')} | {_cell(report, 'ndcg')} | {_cell(report, 'mrr')} "
            f"| {report.coverage:.3f} | {report.novelty:.2f} | {_cell(report, 'ndcg', report.cold_users)} "
            f"| {f'{report.short.mean():.4f}' if report.short is not None else '-'} "
            f"| {_cell(report, 'ndcg', report.cold_items)} |"
        )
    any_model = next(iter(split.models.values()))
    cold_users = int(any_model.cold_users.sum()) if any_model.cold_users is not None else 0
    cold_items = int(any_model.cold_items.sum()) if any_model.cold_items is not None else 0
    best_part = max((n for n in split.models if n != "served blend"), key=lambda n: split.models[n].mean("ndcg"))
    vs_ease = split.paired("served blend", "EASE")
    vs_best = split.paired("served blend", best_part)
    ease_ndcg = split.models["EASE"].mean("ndcg")
    warm = split.paired("served blend", "EASE", warm_only=True)
    warm_mask = ~any_model.cold_users if any_model.cold_users is not None else None
    content = split.models["content only (centred, recent)"].mean("ndcg")
    lines = [
        f"**{split.split}**: {split.cases} test cases ({cold_users} cold-start users, {cold_items} cold-start"
        f" items), {split.catalogue} movies. Random ranking: NDCG@10 {split.random_ndcg:.5f} (expected).",
        "",
        *rows,
        "",
        f"- served blend / EASE: {split.models['served blend'].mean('ndcg') / max(ease_ndcg, 1e-12):.2f}x "
        f"(paired difference {vs_ease[0]:+.4f} [{vs_ease[1]:+.4f}, {vs_ease[2]:+.4f}]); vs the best other model"
        f" ({best_part}): {vs_best[0]:+.4f} [{vs_best[1]:+.4f}, {vs_best[2]:+.4f}]",
        f"- users with history only ({int(warm_mask.sum()) if warm_mask is not None else split.cases}): served blend"
        f" {split.models['served blend'].mean('ndcg', warm_mask):.4f} vs EASE"
        f" {split.models['EASE'].mean('ndcg', warm_mask):.4f} (paired {warm[0]:+.4f} [{warm[1]:+.4f}, {warm[2]:+.4f}])",
        f"- content only / random: {content / max(split.random_ndcg, 1e-12):.1f}x",
        f"- blend weights (tuned on the training data's own validation split): {split.blend_weights}",
    ]
    return "\n".join(lines)


def similar_markdown(report: SimilarReport) -> str:
    rows = ["| similar(x) | NDCG@10 [95% CI] |", "|---|---|"]
    for name, values in report.ndcg.items():
        low, high = bootstrap(values)
        rows.append(f"| {name} | {values.mean():.4f} [{low:.4f}, {high:.4f}] |")
    intro = (
        f"{report.users} held-out users (never in training): similar(first movie they liked) against the"
        " other movies they liked."
    )
    return intro + "\n\n" + "\n".join(rows)
