"""Sentiment scores in [-1, 1]: VADER's packaged lexicon offline, or any local transformers classifier."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol


@dataclass(frozen=True)
class SentimentSettings:
    backend: str = "vader"  # "vader" (English lexicon, offline) or "transformers"
    model_path: str | None = None  # a local text-classification model folder for "transformers"

    @property
    def fingerprint(self) -> str:
        return f"{self.backend}:{self.model_path or 'lexicon'}"


class SentimentScorer(Protocol):
    def score(self, texts: list[str]) -> list[float]: ...


class VaderScorer:
    """VADER's compound score: rule/lexicon based, English only (other languages score near 0)."""

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.analyzer = SentimentIntensityAnalyzer()

    def score(self, texts: list[str]) -> list[float]:
        return [float(self.analyzer.polarity_scores(t)["compound"]) for t in texts]


class TransformersScorer:
    """A transformers text-classification model: P(positive) - P(negative), neutral labels count 0."""

    def __init__(self, model_path: str) -> None:
        from transformers import pipeline

        self.pipe = pipeline("text-classification", model=model_path, top_k=None, truncation=True)

    def score(self, texts: list[str]) -> list[float]:
        if not texts:
            return []
        scores = []
        for labels in self.pipe(texts):
            by_label = {d["label"].lower(): float(d["score"]) for d in labels}
            positive = sum(
                v for k, v in by_label.items() if k.startswith("pos") or k in {"label_2", "5 stars", "4 stars"}
            )
            negative = sum(
                v for k, v in by_label.items() if k.startswith("neg") or k in {"label_0", "1 star", "2 stars"}
            )
            scores.append(max(-1.0, min(1.0, positive - negative)))
        return scores


@lru_cache(maxsize=2)
def load_scorer(settings: SentimentSettings) -> SentimentScorer:
    if settings.backend == "vader":
        return VaderScorer()
    if settings.backend == "transformers":
        if not settings.model_path:
            raise ValueError("sentiment backend 'transformers' needs model_path (a local model folder)")
        return TransformersScorer(settings.model_path)
    raise ValueError(f"unknown sentiment backend {settings.backend!r} (use 'vader' or 'transformers')")


def aggregate(scores: list[float], weights: list[float]) -> float:
    """Weighted mean (weights = segment durations), clipped to [-1, 1]; 0 when there is no speech."""
    total = sum(weights)
    if not scores or total <= 0:
        return 0.0
    return max(-1.0, min(1.0, sum(s * w for s, w in zip(scores, weights)) / total))
