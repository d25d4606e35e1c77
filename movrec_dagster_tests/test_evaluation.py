"""The evaluation: its metrics by hand, and a small real run of the `evaluate` job on MovieLens."""

from __future__ import annotations

import math
import re

import dagster as dg
import polars as pl
import pytest

from movrec_dagster.core.evaluation import Scores
from movrec_dagster.core.home import MovrecHome
from movrec_dagster.core.recsys.data import hold_out_last
from movrec_dagster.runner import evaluate

from .conftest import SHARED_DATA


def test_metrics_follow_their_definitions() -> None:
    scores = Scores()
    scores.add("a", ["a", "b"])  # rank 1
    scores.add("c", ["x", "y", "c"])  # rank 3
    scores.add("z", ["x"])  # missed
    assert scores.ranks == [1, 3, None]
    assert scores.recall(1) == pytest.approx(1 / 3) and scores.recall(10) == pytest.approx(2 / 3)
    assert scores.ndcg() == pytest.approx((1 + 1 / math.log2(4)) / 3)
    assert scores.mrr() == pytest.approx((1 + 1 / 3) / 3)


def test_leave_last_out_holds_out_each_users_latest() -> None:
    ratings = pl.DataFrame(
        {
            "user_id": ["u", "u", "u", "v"],
            "movie_id": ["a", "b", "c", "a"],
            "timestamp": [3.0, 9.0, 5.0, 1.0],
        }
    )
    train, test = hold_out_last(ratings)
    assert test.select("user_id", "movie_id").rows() == [("u", "b")]  # v has nothing left to train on
    assert sorted(train.filter(pl.col("user_id") == "u")["movie_id"]) == ["a", "c"]


def test_evaluate_job_reports_every_model(tmp_path, dagster_instance: dg.DagsterInstance) -> None:  # noqa: ANN001
    config = {"data": str(SHARED_DATA), "max_movies": 300, "max_users": 40, "max_queries": 30}
    ok, report = evaluate(MovrecHome(tmp_path).ensure(), dagster_instance, config)
    assert ok, report
    assert "30 queries over 300 movies" in report and "**leave-last-out**: 40 test cases" in report
    models = ("popularity", "item-kNN", "EASE", "implicit ALS", "sequential", "content only", "served blend")
    for name in (*models, "global time split", "similar(x)", "dense only"):
        assert name in report
    rows = [line for line in report.splitlines() if line.startswith(f"| {models[-1]} |")]
    assert len(rows) == 3  # one per split, and similar movies
    ndcg = [float(v) for v in re.findall(r"\| (\d\.\d{4}) \[", rows[0])]
    assert len(ndcg) == 3 and all(0 <= v <= 1 for v in ndcg) and max(ndcg) > 0  # Recall, NDCG, MRR with CIs
