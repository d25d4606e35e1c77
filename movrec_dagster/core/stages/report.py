"""What a stage did (for logs and Dagster metadata), and the rule for reusing a stored row."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StageReport:
    processed: int = 0
    cached: int = 0
    failures: dict[str, str] = field(default_factory=dict)  # file or movie id -> cause
    notes: dict[str, str] = field(default_factory=dict)  # decisions worth telling (not failures)
    seconds: float = 0.0

    def fail(self, key: str, error: str) -> None:
        self.failures[key] = error


def reusable(old: dict[str, Any] | None, content_hash: str, fingerprint: str) -> bool:
    """A stored row is reused when it was computed from the same content with the same settings."""
    return bool(
        old and old["content_hash"] == content_hash and old["fingerprint"] == fingerprint and not old.get("error")
    )


def timed(report: StageReport, started: float) -> StageReport:
    report.seconds = round(time.perf_counter() - started, 3)
    return report
