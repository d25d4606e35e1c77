"""Would adapting the English second model to the catalogue pay? (inverse-cloze fine-tuning)

The packaged all-MiniLM-L6-v2 learned from the web's sentence pairs, not from how movies are
described. The catalogue itself offers training pairs with no query in them: one sentence of an
overview as the question, the title and the rest of the overview as its passage (the inverse cloze
task of Lee et al., 2019). This trains MiniLM on such pairs drawn from the *indexed* texts of the
search benchmark (each overview already without the first sentence that is the description query,
so no query text is ever seen), with sentence-transformers' MultipleNegativesRankingLoss
(in-batch negatives) in a plain torch loop on the CPU, and measures in the same run:
* MiniLM dense alone, packaged and adapted, per query set and part;
* movrec's search over the same index as search_quality.py, its English second model packaged or
  adapted (USE kept for the other languages; every other setting unchanged).
The training settings (one pass, 32 pairs a step, learning rate 3e-5) were fixed before the first
run, not chosen on any part.

Cost: about 10 minutes of training on 2 cores, then the adapted model's vectors for the 10k movies.
Usage: python bench/catalogue_adaptation.py [--data ../shared/data] [--steps 100] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
import torch
from _shared import QueryCache, build_index
from search_quality import CACHE, HERE, SENTENCE_END, K, benchmark_movies, index_cache, query_sets

from movrec_dagster.core import embedding, models
from movrec_dagster.core.embedding import Embedder, EmbedderSettings
from movrec_dagster.core.models import USE_MULTILINGUAL, embedder_model_path
from movrec_dagster.core.search import search

BATCH, LEARNING_RATE = 32, 3e-5


def cloze_pairs(movies: pl.DataFrame, rng: random.Random) -> list[tuple[str, str]]:
    """One (sentence, title + the rest) pair per indexed overview with two sentences of >= 6 words."""
    pairs = []
    for title, overview in movies.select("title", "overview").iter_rows():
        sentences = [s for s in SENTENCE_END.split((overview or "").strip()) if len(s.split()) >= 6]
        if len(sentences) < 2:
            continue
        asked = rng.randrange(len(sentences))
        rest = " ".join(s for i, s in enumerate(sentences) if i != asked)
        pairs.append((sentences[asked], f"{title}. {rest}"))
    return pairs


def adapt(pairs: list[tuple[str, str]], steps: int, seed: int, out: Path) -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    torch.manual_seed(seed)
    model = SentenceTransformer(embedder_model_path("all-MiniLM-L6-v2"), device="cpu")
    model.max_seq_length = 128
    loss = MultipleNegativesRankingLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    model.train()
    started = time.perf_counter()
    for step in range(min(steps, len(pairs) // BATCH)):
        batch = pairs[step * BATCH : (step + 1) * BATCH]
        features = [model.preprocess([q for q, _ in batch]), model.preprocess([p for _, p in batch])]
        value = loss(features, labels=None)
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        if step % 25 == 0:
            print(f"  step {step}: loss {value.item():.3f} ({time.perf_counter() - started:.0f} s)", flush=True)
    print(f"  trained {step + 1} steps in {time.perf_counter() - started:.0f} s", flush=True)
    model.save(str(out))


def summary(name: str, ranks: dict[tuple[str, str], list[int]]) -> None:
    for (group, part), found in sorted(ranks.items()):
        r = np.array(found)
        mrr = np.where((r > 0) & (r <= K), 1.0 / np.maximum(r, 1), 0.0).mean()
        print(f"| {group} | {part} | {len(r)} | {name} | {((r > 0) & (r <= K)).mean():.3f} | {mrr:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7, help="which pairs, in which order (runs differ)")
    args = parser.parse_args()
    data = Path(args.data)
    movies, firsts = benchmark_movies(data)
    queries = query_sets(data, movies, firsts, 1000).filter(pl.col("set") != "titles")
    adapted = CACHE / f"minilm-cloze-{args.steps}-{args.seed}"
    if not (adapted / "config.json").exists():
        pairs = cloze_pairs(movies, random.Random(args.seed))
        random.Random(args.seed).shuffle(pairs)
        print(f"{len(pairs)} cloze pairs from {movies.height} indexed overviews", flush=True)
        adapt(pairs, args.steps, args.seed, adapted)
    name = str(adapted)
    # the adapted model reads what the packaged one reads: English (search asks it nothing else)
    models.MODEL_LANGUAGES[name] = embedding.MODEL_LANGUAGES[name] = ("en",)

    ids = movies["movie_id"].to_list()
    position = {m: i for i, m in enumerate(ids)}
    texts = [f"{t}. {o or ''}".strip() for t, o in movies.select("title", "overview").iter_rows()]
    asked = list(dict.fromkeys(queries["query"].to_list()))
    print("\n| query set | part | queries | system | Recall@10 | MRR@10 |\n|---|---|---|---|---|---|")
    for label, model in (("MiniLM dense, packaged", "all-MiniLM-L6-v2"), ("MiniLM dense, adapted", name)):
        plain = Embedder(EmbedderSettings(model=model, backend="torch", second_model=None))
        docs = plain.encode(texts)
        vectors = dict(zip(asked, plain.encode(asked, kind="query")))
        ranks: dict[tuple[str, str], list[int]] = {}
        for group, movie, query, held_out in queries.iter_rows():
            scores = docs @ vectors[query]
            rank = int((scores > scores[position[movie]]).sum()) + 1
            ranks.setdefault((group, "held-out" if held_out else "tuning"), []).append(rank)
        summary(label, ranks)

    for label, second in (("movrec", None), ("movrec, adapted MiniLM", f"{name},{USE_MULTILINGUAL}")):
        settings = EmbedderSettings() if second is None else EmbedderSettings(second_model=second)
        embedder = Embedder(settings)
        vectors = QueryCache(embedder, asked)
        cache = index_cache(settings) if second is None else CACHE / f"index-{adapted.name}"
        ranks = {}
        with tempfile.TemporaryDirectory() as tmp:
            store = build_index(movies, embedder, Path(tmp), cache, reuse=index_cache(EmbedderSettings()))
            with store.session():
                for group, movie, query, held_out in queries.iter_rows():
                    got = [hit.movie_id for hit in search(store, vectors, query, top_k=K)]
                    rank = got.index(movie) + 1 if movie in got else 0
                    ranks.setdefault((group, "held-out" if held_out else "tuning"), []).append(rank)
        summary(label, ranks)


if __name__ == "__main__":
    main()
