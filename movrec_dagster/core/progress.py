"""Progress of long steps (a film's transcription, a catalogue's embeddings) for whoever watches.

A step makes a `Tracker` and calls it as work gets done; the tracker turns that into percent and
an ETA and hands it to every sink listening in this process: the CLI's progress bar (`bar`) and the
Dagster run log (the asset passes `context.log.info` as `log`, called at most every `every_s`).
Dagster runs started by the CLI execute in-process, so the bar sees the assets' own reports.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Report:
    stage: str
    item: str
    done: float
    total: float
    note: str = ""
    started: float = field(default_factory=time.monotonic)

    @property
    def fraction(self) -> float:
        return min(self.done / self.total, 1.0) if self.total > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        spent = time.monotonic() - self.started
        if self.fraction <= 0 or spent <= 0:
            return None
        return spent * (1 - self.fraction) / self.fraction

    def line(self) -> str:
        eta = self.eta_s
        left = f", ETA {clock(eta)}" if eta is not None and self.fraction < 1 else ""
        note = f" ({self.note})" if self.note else ""
        return f"{self.stage} {self.item}: {self.fraction:.0%}{left}{note}"


def clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


_sinks: list[Callable[[Report], None]] = []


@contextlib.contextmanager
def watching(sink: Callable[[Report], None]) -> Iterator[None]:
    _sinks.append(sink)
    try:
        yield
    finally:
        _sinks.remove(sink)


class Tracker:
    """Where one item of a step is: call it with (done, total[, note]) in any unit."""

    def __init__(self, stage: str, item: str, log: Callable[[str], None] | None = None, every_s: float = 30.0):
        self.report = Report(stage, item, 0.0, 0.0)
        self.log, self.every_s, self.logged = log, every_s, 0.0

    def __call__(self, done: float, total: float, note: str = "") -> None:
        self.report.done, self.report.total, self.report.note = done, total, note
        for sink in list(_sinks):
            sink(self.report)
        now = time.monotonic()
        finished = total > 0 and done >= total
        if self.log is not None and (now - self.logged >= self.every_s or finished):
            self.logged = now
            self.log(self.report.line())


class Bar:
    """The CLI's sink: a tqdm bar per item on a terminal; elsewhere nothing (logs stay clean).

    It writes to its own copy of the terminal's descriptor: while a Dagster step runs, the compute
    log manager points descriptor 2 at the step's log file, and the bar belongs on the screen."""

    def __init__(self) -> None:
        self.stream: Any = None
        if sys.stderr.isatty():
            self.stream = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1)
        self.bar: Any = None
        self.current: tuple[str, str] | None = None

    def __call__(self, report: Report) -> None:
        if self.stream is None:
            return
        from tqdm import tqdm

        key = (report.stage, report.item)
        if key != self.current:
            self.close()
            self.current = key
            self.bar = tqdm(
                total=1000, desc=f"{report.stage} {report.item}", file=self.stream, leave=False,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} elapsed, ETA {remaining} {postfix}",
            )  # fmt: skip
        assert self.bar is not None
        self.bar.n = int(report.fraction * 1000)
        self.bar.set_postfix_str(report.note, refresh=False)
        self.bar.refresh()
        if report.fraction >= 1:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar, self.current = None, None

    def done(self) -> None:
        self.close()
        if self.stream is not None:
            self.stream.close()
            self.stream = None
