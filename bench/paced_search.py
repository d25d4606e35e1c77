"""Searches a few seconds apart, as a person asks them: what the API's held shard saves.

The API keeps the embedded shard open between queries (`edge_lock.HeldReader`). It used to give the
shard back after one idle second, so a person searching every few seconds paid for reopening it
(0.3-0.4 s at 30k points) on every query. This measures, in one process over the TMDB top-10k index
built by the product's code (bench/search_quality.py's cached embeddings), `search()` back to back
and with `--pause` seconds between queries, for readers that let go after 1 s idle (before) and
after the default (now). As a control it times the plain libraries alone (a `tokenizers` call and
an ONNX Runtime run of the same int8 model, no movrec) with the same pauses: on a virtual machine
whose memory goes cold when idle, that is the floor any server pays.

Usage: python bench/paced_search.py [--queries 12] [--pause 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _shared import build_index
from search_quality import CACHE, HERE, benchmark_movies

from movrec_dagster.core.embedding import Embedder, EmbedderSettings
from movrec_dagster.core.search import search
from movrec_dagster.core.vectorstore import EdgeStore, edge_lock

QUERIES = [
    "a man stranded on mars",
    "a boy and his dog",
    "a heist in a casino",
    "love in paris",
    "a shark attacks a town",
    "robots take over",
    "a haunted house",
    "a boxing champion",
    "a spy in moscow",
    "twins separated at birth",
    "a rat who wants to cook",
    "an alien invasion of earth",
]


def timed(call: object, queries: list[str], pause: float) -> list[float]:
    out = []
    for text in queries:
        time.sleep(pause)
        started = time.perf_counter()
        call(text)  # type: ignore[operator]
        out.append((time.perf_counter() - started) * 1000)
    return out


def line(label: str, ms: list[float]) -> str:
    return f"| {label} | {np.percentile(ms, 50):.1f} | {max(ms):.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    parser.add_argument("--queries", type=int, default=12)
    parser.add_argument("--pause", type=float, default=2.0)
    args = parser.parse_args()
    queries = (QUERIES * (args.queries // len(QUERIES) + 1))[: args.queries]
    movies, _ = benchmark_movies(Path(args.data))
    embedder = Embedder(EmbedderSettings())
    encoder = embedder.onnx_encoder()
    assert encoder is not None, "the default ONNX encoder is needed for the control"

    def plain(text: str) -> None:  # the libraries alone: tokenizers + one ONNX Runtime run
        encoding = encoder.tokenizer.encode("query: " + text)
        ids = np.array([encoding.ids])
        mask = np.array([encoding.attention_mask])
        encoder.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})

    with tempfile.TemporaryDirectory() as tmp:
        build_index(movies, embedder, Path(tmp), CACHE / f"index-{embedder.settings.backend}")
        print(f"\n{len(queries)} queries, {args.pause:g} s apart where paced\n")
        print("| what | p50 ms | max ms |")
        print("|---|---|---|")
        default_idle = edge_lock.HeldReader.IDLE_S
        for label, idle in (("before: reader lets go after 1 s idle", 1.0), ("now", default_idle)):
            edge_lock.HeldReader.IDLE_S = idle
            edge_lock._READERS.clear()  # a fresh reader with this setting (the old one idles out)
            store = EdgeStore(Path(tmp), keep_open=True)

            def ask(text: str, store: EdgeStore = store) -> None:
                search(store, embedder, text)

            ask("warm up")
            print(line(f"search(), {label}, back to back", timed(ask, queries, 0)))
            print(line(f"search(), {label}, paced", timed(ask, queries, args.pause)))
            held = edge_lock._READERS.get(str(Path(tmp).resolve()))
            if held is not None:  # give the shard back before the next reader takes it
                with held.mutex:
                    held._release()
        edge_lock.HeldReader.IDLE_S = default_idle
        print(line("plain tokenizers + ONNX Runtime (no movrec), back to back", timed(plain, queries, 0)))
        print(line("plain tokenizers + ONNX Runtime (no movrec), paced", timed(plain, queries, args.pause)))


if __name__ == "__main__":
    main()
