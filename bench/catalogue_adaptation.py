"""Would adapting the embedding models to the catalogue pay? (inverse-cloze fine-tuning)

The packaged all-MiniLM-L6-v2 and multilingual-e5-small learned from the web's sentence pairs, not
from how movies are described. The catalogue itself offers training pairs with no query in them:
one sentence of an overview as the question, the title and the rest of the overview as its passage
(the inverse cloze task of Lee et al., 2019). This trains both on such pairs drawn from the
*indexed* texts of the search benchmark (each overview already without the first sentence that is
the description query, so no query text is ever seen) by the product's own training,
`core/adaptation.py` (what `movrec adapt` runs: sentence-transformers' MultipleNegativesRankingLoss,
in-batch negatives, on the CPU; e5 with its "query: "/"passage: " prompts), and measures in the
same run:
* MiniLM dense alone, packaged and adapted, per query set and part;
* movrec's search over the same index as search_quality.py: packaged models; MiniLM adapted (USE
  kept for the other languages); e5 and MiniLM adapted (what `movrec adapt` makes); with
  `--quality`, the quality profile (mpnet as well) with e5 and MiniLM adapted.
The training settings (one pass, 32 pairs a step, learning rate 3e-5) were fixed before the first
run, not chosen on any part, and e5 was trained with MiniLM's settings unchanged.

Cost: 6-9 minutes of training MiniLM and 18-19 of e5 on 2 cores, then the adapted models' vectors
for the 10k movies (a further 8-10 minutes for mpnet's with `--quality`).
`--passes 3 --steps 1000` trains three passes (each asking each overview's next sentence);
`--learning-rate` and `--batch-size` train both models with another setting (the defaults are
`movrec adapt`'s); `--variants` measures other fusion settings over each index (tune on the tuning part).
Usage: python bench/catalogue_adaptation.py [--data ../shared/data] [--steps 100] [--passes 1] [--seed 7]
       [--learning-rate 3e-5] [--batch-size 32]
       [--quality] [--fusion-only] [--sets cross-lingual] [--unseen 4648] [--variants 8:1:dbsf,5:1:rrf,5:1:dbsf:0.3:1.0]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
from _shared import VARIANTS_HELP, QueryCache, build_index, fusion_variants
from search_quality import CACHE, HERE, K, benchmark_movies, index_cache, query_sets

from movrec_dagster.core.adaptation import MEASURED, AdaptSettings, adapt
from movrec_dagster.core.embedding import Embedder, EmbedderSettings
from movrec_dagster.core.models import MPNET, USE_MULTILINGUAL
from movrec_dagster.core.search import search
from movrec_dagster.core.vectorstore import types as vtypes


def summary(name: str, ranks: dict[tuple[str, str], list[int]]) -> None:
    for (group, part), found in sorted(ranks.items()):
        r = np.array(found)
        mrr = np.where((r > 0) & (r <= K), 1.0 / np.maximum(r, 1), 0.0).mean()
        print(f"| {group} | {part} | {len(r)} | {name} | {((r > 0) & (r <= K)).mean():.3f} | {mrr:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    parser.add_argument("--steps", type=int, default=100, help="at most")
    parser.add_argument("--passes", type=int, default=1, help="over the overviews, each asking another sentence")
    parser.add_argument("--seed", type=int, default=7, help="which pairs, in which order (runs differ)")
    parser.add_argument("--learning-rate", type=float, default=AdaptSettings.learning_rate, help="AdamW's, both models")
    parser.add_argument("--batch-size", type=int, default=AdaptSettings.batch_size, help="pairs a step")
    parser.add_argument("--quality", action="store_true", help="also the quality profile (mpnet) with both adapted")
    parser.add_argument("--fusion-only", action="store_true", help="skip MiniLM alone (packaged and adapted)")
    parser.add_argument("--sets", default="", help="only these query sets, e.g. 'cross-lingual' (default: all)")
    parser.add_argument("--unseen", type=int, default=0, help="as bench/search_quality.py's: more descriptions")
    parser.add_argument("--variants", default="", help=VARIANTS_HELP)
    args = parser.parse_args()
    data = Path(args.data)
    movies, firsts = benchmark_movies(data)
    queries = query_sets(data, movies, firsts, 1000, args.unseen).filter(pl.col("set") != "titles")
    if args.sets:
        queries = queries.filter(pl.col("set").is_in(args.sets.split(",")))
    # the product's own training (core/adaptation.py, what `movrec adapt` runs), into a home of its own
    os.environ["MOVREC_HOME"] = str(CACHE / "adapted-home")
    catalogue = list(movies.select("title", "overview").iter_rows())
    adapted = {}
    for base in MEASURED:  # what `movrec adapt` trains by default: e5 (the first model) and MiniLM
        done = adapt(
            catalogue,
            AdaptSettings(
                base=base,
                steps=args.steps,
                passes=args.passes,
                seed=args.seed,
                learning_rate=args.learning_rate,
                batch_size=args.batch_size,
            ),
        )
        print(
            f"{done.name}: {done.pairs} cloze pairs from {movies.height} indexed overviews, "
            f"{done.steps} steps in {done.seconds:.0f} s",
            flush=True,
        )
        adapted[base] = done.name
    e5, name = adapted["multilingual-e5-small"], adapted["all-MiniLM-L6-v2"]

    ids = movies["movie_id"].to_list()
    position = {m: i for i, m in enumerate(ids)}
    texts = [f"{t}. {o or ''}".strip() for t, o in movies.select("title", "overview").iter_rows()]
    asked = list(dict.fromkeys(queries["query"].to_list()))
    print("\n| query set | part | queries | system | Recall@10 | MRR@10 |\n|---|---|---|---|---|---|")
    alone = (
        () if args.fusion_only else (("MiniLM dense, packaged", "all-MiniLM-L6-v2"), ("MiniLM dense, adapted", name))
    )
    for label, model in alone:
        plain = Embedder(EmbedderSettings(model=model, backend="torch", second_model=None))
        docs = plain.encode(texts)
        vectors = dict(zip(asked, plain.encode(asked, kind="query")))
        ranks: dict[tuple[str, str], list[int]] = {}
        for group, movie, query, held_out in queries.iter_rows():
            scores = docs @ vectors[query]
            rank = int((scores > scores[position[movie]]).sum()) + 1
            ranks.setdefault((group, "held-out" if held_out else "tuning"), []).append(rank)
        summary(label, ranks)

    minilm_only = CACHE / f"index-{name}"
    both = CACHE / f"index-{e5}-{name}"
    configs = [
        ("movrec", EmbedderSettings(), index_cache(EmbedderSettings()), None),
        ("movrec, adapted MiniLM", EmbedderSettings(second_model=f"{name},{USE_MULTILINGUAL}"), minilm_only, None),
        (
            "movrec, adapted e5 + MiniLM (`movrec adapt`)",
            EmbedderSettings(model=e5, second_model=f"{name},{USE_MULTILINGUAL}"),
            both,
            minilm_only,
        ),
    ]
    if args.quality:
        configs.append(
            (
                "movrec quality profile, adapted e5 + MiniLM",
                EmbedderSettings(model=e5, second_model=f"{name},{MPNET},{USE_MULTILINGUAL}"),
                CACHE / f"index-{e5}-{name}-quality",
                both,
            )
        )
    default_fusion = vtypes.FUSION
    variants = fusion_variants(args.variants)
    for label, settings, cache, reuse in configs:
        embedder = Embedder(settings)
        vectors = QueryCache(embedder, asked)
        with tempfile.TemporaryDirectory() as tmp:
            store = build_index(movies, embedder, Path(tmp), cache, reuse=reuse or index_cache(EmbedderSettings()))
            tried = [default_fusion] + variants
            with store.session():
                for fusion in tried:
                    vtypes.FUSION = fusion
                    ranks: dict[tuple[str, str], list[int]] = {}
                    for group, movie, query, held_out in queries.iter_rows():
                        got = [hit.movie_id for hit in search(store, vectors, query, top_k=K)]
                        rank = got.index(movie) + 1 if movie in got else 0
                        ranks.setdefault((group, "held-out" if held_out else "tuning"), []).append(rank)
                    summary(label if fusion == default_fusion else f"{label}, {fusion}", ranks)
            vtypes.FUSION = default_fusion


if __name__ == "__main__":
    main()
