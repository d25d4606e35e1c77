"""The `sentiment` stage: a score per transcript segment and a duration-weighted aggregate per movie."""

from __future__ import annotations

import hashlib
import time

import polars as pl

from ..sentiment import SentimentScorer, aggregate
from ..speech import Segment
from ..tables import SENTIMENT_SCHEMA, conform
from .report import StageReport, reusable, timed
from .transcripts import ok_rows, segments_of


def score_partition(
    movies: pl.DataFrame,
    transcripts: pl.DataFrame | None,
    previous: pl.DataFrame | None,
    scorer: SentimentScorer,
    fingerprint: str,
) -> tuple[pl.DataFrame, StageReport]:
    """Per movie: the segments of all its videos, or its overview when none was heard (a movie known
    only from the catalogue)."""
    started = time.perf_counter()
    report = StageReport()
    previous = conform(previous, SENTIMENT_SCHEMA)
    prior = {r["movie_id"]: r for r in previous.iter_rows(named=True)} if previous is not None else {}
    heard: dict[str, list[dict]] = {}
    for tr in ok_rows(transcripts):
        heard.setdefault(tr["movie_id"], []).append(tr)
    rows = []
    for movie in movies.iter_rows(named=True):
        trs = sorted(heard.get(movie["movie_id"], []), key=lambda t: t["video_id"])
        segments = [s for tr in trs for s in segments_of(tr)]
        if segments:
            source = "|".join(f"{t['content_hash']}:{t['fingerprint']}" for t in trs)
        elif movie["overview"]:
            source, segments = f"overview:{movie['overview']}", [Segment(0.0, 1.0, movie["overview"])]
        else:
            continue
        content = hashlib.sha256(source.encode()).hexdigest()
        old = prior.get(movie["movie_id"])
        if reusable(old, content, fingerprint):
            rows.append(old)
            report.cached += 1
            continue
        scores = scorer.score([s.text for s in segments])
        rows.append(
            {
                "movie_id": movie["movie_id"],
                "content_hash": content,
                "fingerprint": fingerprint,
                "segment_scores": scores,
                "sentiment": aggregate(scores, [max(s.end - s.start, 0.1) for s in segments]),
            }
        )
        report.processed += 1
    return pl.DataFrame(rows, schema=SENTIMENT_SCHEMA), timed(report, started)
