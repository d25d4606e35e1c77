"""The failure tables the UI shows: a long cause keeps the file it names and what movrec did about it."""

from __future__ import annotations

import re

from movrec_dagster.defs.metadata import CELL, failures_markdown


def test_a_long_cause_is_cut_from_the_middle() -> None:
    path = "/srv/movrec/" + "deeply/nested/" * 30 + "coco.mp4"
    cause = f"{path}: not a readable video ({path}); still serving the last good version of this file"
    table = failures_markdown({"coco.mp4": cause, "short.mp4": "no audio | track"})
    rows = table.splitlines()[2:]
    cell = rows[0].removeprefix("| coco.mp4 | ").removesuffix(" |")
    assert len(cell) <= CELL and cell.startswith("/srv/movrec/deeply")
    assert cell.endswith("still serving the last good version of this file")
    assert rows[1] == "| short.mp4 | no audio \\| track |"  # a short one is whole, its pipe escaped


def test_every_pipe_of_a_cut_cause_stays_escaped() -> None:
    row = failures_markdown({"piped.mp4": "|" * 400}).splitlines()[2]
    cell = row.removeprefix("| piped.mp4 | ").removesuffix(" |")
    assert " … " in cell and re.search(r"(?<!\\)\|", cell) is None, cell
