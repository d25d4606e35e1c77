"""Materialization metadata shared by every stage: counts, timings and failures by file."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from movrec_dagster.core.stages import StageReport

CELL = 300  # characters a table cell keeps


def _cell(text: str) -> str:
    # a cause names the file first and what movrec did about it last ("...; still serving the last
    # good version"): a long path or decoder message is cut from the middle, so both ends stay
    text = text.replace("\n", " ")
    if len(text) > CELL:
        text = f"{text[: CELL // 2]} … {text[-(CELL // 2 - 3) :]}"
    return text.replace("|", "\\|")  # after the cut, which must not split an escape from its pipe


def failures_markdown(failures: dict[str, str]) -> str:
    if not failures:
        return "No failures."
    lines = ["| file | cause |", "|---|---|"]
    lines += [f"| {_cell(name)} | {_cell(cause)} |" for name, cause in sorted(failures.items())]
    return "\n".join(lines)


def report_metadata(report: StageReport, **extra: Any) -> dict[str, Any]:
    return {
        "processed": dg.MetadataValue.int(report.processed),
        "cached": dg.MetadataValue.int(report.cached),
        "failed": dg.MetadataValue.int(len(report.failures)),
        "failures": dg.MetadataValue.md(failures_markdown(report.failures)),
        "stage_seconds": dg.MetadataValue.float(report.seconds),
        **extra,
    }


def log_failures(context: dg.AssetExecutionContext, report: StageReport) -> None:
    for name, cause in sorted(report.failures.items()):
        context.log.error(f"skipped {name}: {cause}")


def frame_markdown(frame: pl.DataFrame, limit: int = 20) -> str:
    """A small Markdown table of the first rows, for previews in the UI."""
    if frame.is_empty():
        return "(empty)"
    head = frame.head(limit)
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * len(head.columns)]
    lines += ["| " + " | ".join(_cell(str(v)) for v in row) + " |" for row in head.iter_rows()]
    return "\n".join(lines)


def bar_chart(counts: dict[str, float], width: int = 30) -> str:
    """A text bar chart (Markdown code block): per-language counts read at a glance in the UI."""
    if not counts:
        return "(none)"
    top = max(counts.values()) or 1
    label = max(len(k) for k in counts)
    rows = [f"{k:<{label}} {'█' * max(1, round(v / top * width))} {v:g}" for k, v in counts.items()]
    return "```\n" + "\n".join(rows) + "\n```"


def thumbnail_markdown(pictures: pl.DataFrame) -> dg.MetadataValue:
    """Videos' pictures (`file_name`, `thumbnail_path` rows) as images inline in the metadata: a 320 px
    JPEG is ~10 kB, small enough to travel in the event log, and needs no file server to be seen."""
    if pictures.is_empty():
        return dg.MetadataValue.md("No video pictures (audio-only uploads).")
    cells = []
    for name, path in pictures.select("file_name", "thumbnail_path").iter_rows():
        data = base64.b64encode(Path(path).read_bytes()).decode()
        cells.append(f"**{_cell(name)}**\n\n![{_cell(name)}](data:image/jpeg;base64,{data})")
    return dg.MetadataValue.md("\n\n".join(cells))
