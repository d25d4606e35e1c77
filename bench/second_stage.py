"""Would a second stage after the fusion find more? A plain simulation, before any product change.

The issue asks for a reranking stage "if a packaged cross-encoder or the embedder itself helps".
No package here ships a cross-encoder (../shared/MODELS.md), so this measures the two second stages
the embedders themselves allow, each one the engine could run:
- **late interaction**: the fused candidates reordered by MaxSim between the query's and each
  document's token vectors (the last hidden states the encoder already computes before pooling;
  Qdrant stores them as a multivector and scores them with `MultiVectorComparator.MaxSim`), by
  MiniLM's tokens (for the queries MiniLM is asked about: those read as English) or by e5's (every
  query), added to the fused score with a weight;
- **pseudo-relevance feedback**: each dense query vector moved towards the mean of the fused
  list's first `k` documents (Rocchio, `q + b * mean`; the engine's `RecommendQuery` with its
  average-vector strategy computes the same), and the lists searched and fused again.
The first stage is movrec's as the other simulations build it (bench/dense_lists.py: e5, MiniLM
or USE by the query's language, TF-IDF in the place of the engine's BM25, DBSF of the top 50 of
each, then `+ 0.8 x renown`). Same texts, query sets and held-out split as bench/search_quality.py.
Each idea's setting is chosen on the tuning part's descriptions (Recall@10, then MRR@10) and
reported on the held-out part. Token vectors are cached in ~/.cache/movrec/bench/second_stage
(first run: ~3 min on 2 cores, after bench/dense_lists.py's ~3).
Usage: python bench/second_stage.py [--data ../shared/data]
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from dense_lists import (
    FIRST_STAGE,
    arguments,
    digest,
    first_stage,
    print_chosen,
    print_ranks,
    ranked,
    renown_fused,
    top,
)

from movrec_dagster.core.embedding import DEFAULT_MAX_SEQ_LENGTH, Embedder, EmbedderSettings
from movrec_dagster.core.onnx_encoder import OnnxEncoder, onnx_encoder

CACHE = Path.home() / ".cache" / "movrec" / "bench" / "second_stage"
TOKEN_WEIGHTS = (0.05, 0.1, 0.2, 0.4)  # x the candidates' standardised MaxSim
FEEDBACK = [(k, b) for k in (3, 5, 10) for b in (0.3, 0.6, 1.0)]
TOKEN_MODELS = {"MiniLM": "all-MiniLM-L6-v2", "e5": "multilingual-e5-small"}


class Tokens:
    """One model's unit token vectors per text (its specials dropped), float16, end to end in one array."""

    def __init__(self, encoder: OnnxEncoder, texts: list[str], kind: str, name: str) -> None:
        path = CACHE / f"{name}-{kind}-{digest(texts)}.npz"
        if not path.exists():
            CACHE.mkdir(parents=True, exist_ok=True)
            with ThreadPoolExecutor(2) as pool:
                each = list(pool.map(lambda text: token_vectors(encoder, text, kind), texts))
            np.savez(path, flat=np.concatenate(each), ends=np.cumsum([0] + [len(t) for t in each]))
        stored = np.load(path)
        self.flat, self.ends = stored["flat"], stored["ends"]

    def __getitem__(self, i: int) -> np.ndarray:
        return self.flat[self.ends[i] : self.ends[i + 1]].astype(np.float32)


def token_vectors(encoder: OnnxEncoder, text: str, kind: str) -> np.ndarray:
    """What the encoder pools, unpooled: one unit vector per token, no CLS / SEP."""
    hidden = encoder.token_states(encoder.meta["prompts"][kind] + text)[0][0][1:-1]
    return (hidden / (np.linalg.norm(hidden, axis=1, keepdims=True) + 1e-12)).astype(np.float16)


def main() -> None:
    data, _ = arguments()
    stage = first_stage(data)
    queries, ids, texts, asked, vectors = stage.queries, stage.ids, stage.texts, stage.asked, stage.vectors
    tfidf_docs, tfidf_queries, prior = stage.tfidf_docs, stage.tfidf_queries, stage.prior
    english = Embedder(EmbedderSettings(model="all-MiniLM-L6-v2", second_model=None))  # who asks MiniLM
    wanted = list(dict.fromkeys(queries["query"].to_list()))
    tokens = {}
    for name, model in TOKEN_MODELS.items():
        encoder = onnx_encoder(model, DEFAULT_MAX_SEQ_LENGTH)
        tokens[name] = (Tokens(encoder, texts, "passage", name), Tokens(encoder, wanted, "query", name))
    row, asked_row = {q: i for i, q in enumerate(wanted)}, {q: i for i, q in enumerate(asked)}
    position = {m: i for i, m in enumerate(ids)}
    ranks: dict[tuple[str, str, str], list[int | None]] = {}

    def record(group: str, subset: str, system: str, movie: str, got: list[int]) -> None:
        rank = got.index(position[movie]) + 1 if position[movie] in got else None
        ranks.setdefault((group, subset, system), []).append(rank)

    for group, movie, text, held_out in queries.iter_rows():
        subset, i = "held-out" if held_out else "tuning", asked_row[text]
        second = "minilm" if english.asked(text) else "use"
        query = {name: vectors[name][1][i] for name in ("e5", second)}
        words = top((tfidf_docs @ tfidf_queries[i].T).toarray().ravel())
        lists = [top(vectors[name][0] @ query[name]) for name in ("e5", second)]
        candidates, base = renown_fused(lists + [words], prior)
        record(group, subset, FIRST_STAGE, movie, ranked(candidates, base))
        for name, (docs, asked_tokens) in tokens.items():
            if name == "MiniLM" and second != "minilm":
                maxsim = None  # MiniLM is not asked about this query: the first stage stands
            else:
                q = asked_tokens[row[text]]
                maxsim = np.array([(q @ docs[c].T).max(axis=1).mean() for c in candidates])
                maxsim = (maxsim - maxsim.mean()) / (maxsim.std() or 1.0)
            for weight in TOKEN_WEIGHTS:
                scores = base if maxsim is None else base + weight * maxsim
                system = f"MaxSim rerank, {name} tokens, weight {weight}"
                record(group, subset, system, movie, ranked(candidates, scores))
        first = candidates[np.argsort(-base, kind="stable")]
        for k, b in FEEDBACK:
            moved = []
            for name in ("e5", second):
                docs = vectors[name][0]
                v = query[name] + b * docs[first[:k]].mean(axis=0)
                moved.append(top(docs @ (v / np.linalg.norm(v))))
            record(group, subset, f"feedback, k {k}, b {b}", movie, ranked(*renown_fused(moved + [words], prior)))
    print_ranks(ranks)
    print_chosen(ranks, ("MaxSim rerank, MiniLM", "MaxSim rerank, e5", "feedback"))


if __name__ == "__main__":
    main()
