"""Run every benchmark and write their figures (machine, versions, date; medians, min-max) to a Markdown file.

Usage: python bench/run_all.py [--output BENCHMARKS-run.md] [--smoke] [--device cpu]
--smoke runs each benchmark on tiny input (the test suite does, to keep them from rotting); the figures
of a smoke run mean nothing. BENCHMARKS.md quotes the figures of full runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGES = (
    "dagster",
    "faster-whisper",
    "ctranslate2",
    "sentence-transformers",
    "torch",
    "qdrant-edge-py",
    "qdrant-client",
)


def run(script: str, *args: str) -> list[dict]:
    out = subprocess.run([sys.executable, str(HERE / script), *args], check=True, capture_output=True, text=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def table(rows: list[dict]) -> str:
    if not rows:
        return "(none)\n"
    keys = list(dict.fromkeys(k for row in rows for k in row))

    def cell(value: object) -> str:
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(row.get(k, "")) for k in keys) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def machine() -> str:
    cores = os.cpu_count()
    versions = ", ".join(f"{p} {version(p)}" for p in PACKAGES)
    return f"{platform.machine()}, {cores} cores, Python {platform.python_version()}; {versions}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="BENCHMARKS-run.md")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    smoke = ["--smoke"] if args.smoke else []
    sections = {
        "Stages vs the plain libraries (`bench/stages.py`)": run("stages.py", "--device", args.device, *smoke),
        "Query latency and recall (`bench/query.py`)": run("query.py", *smoke),
        "End to end and cost curve (`bench/end_to_end.py`)": run("end_to_end.py", *smoke),
    }
    text = [f"# Benchmark run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC{' (SMOKE: figures mean nothing)' * bool(smoke)}"]
    text.append(f"\n{machine()}\n")
    for title, rows in sections.items():
        text.append(f"\n## {title}\n\n{table(rows)}")
    Path(args.output).write_text("".join(text))
    print(Path(args.output).read_text())


if __name__ == "__main__":
    main()
