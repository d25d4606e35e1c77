"""Exact-title search over the TMDB top-10k catalogue: is the movie named ranked first?

Every title of the file is a query. A title several movies share (remakes) is asked as "title year",
the way people tell them apart ("Dune 1984"); the same question without the year is reported apart
(the more popular one is expected first, so the others cannot be). Titles that are identical *and*
have the same year are ties and left out. Reported on all titles and on the held-out fifth (TMDB id
divisible by 5), which no setting was ever tuned on.

In the same run, on the same titles, with the same model's vectors: plain multilingual-e5-small
dense retrieval over "title (year)" texts (numpy), and plain scikit-learn TF-IDF (word 1-2 grams)
over the same texts. movrec is its real `search()` over a real embedded collection holding every
movie's title, overview pieces and profile (no transcripts: the catalogue only).

Embeddings are cached under ~/.cache/movrec/bench/title_search (the first run embeds 20k texts:
about 10 min on 2 cores).
Usage: python bench/title_search.py [--data ../shared/data] [--limit 0]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
from _shared import QueryCache, build_index, wilson

from movrec_dagster.core.catalogue import read_catalogue
from movrec_dagster.core.embedding import Embedder, EmbedderSettings
from movrec_dagster.core.entities import normal_title, resolve_movies
from movrec_dagster.core.search import search
from movrec_dagster.core.stages.embeddings import title_text
from movrec_dagster.core.tables import VIDEO_SCHEMA

CACHE = Path.home() / ".cache" / "movrec" / "bench" / "title_search"


def misspelt(title: str) -> str | None:
    """The title with the middle letter of its longest word dropped (deterministic); None when that
    word is too short to stay recognisable."""
    words = title.split()
    longest = max(range(len(words)), key=lambda i: len(words[i]))
    word = words[longest]
    if len(word) < 6 or not word.isalpha():
        return None
    words[longest] = word[: len(word) // 2] + word[len(word) // 2 + 1 :]
    return " ".join(words)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--limit", type=int, default=0, help="only the first N titles as queries (0 = all)")
    parser.add_argument("--misses", type=int, default=0, help="print the first N queries movrec ranked wrong")
    args = parser.parse_args()
    catalogue, _ = read_catalogue(Path(args.data) / "tmdb_top10k" / "top10K-TMDB-movies.csv")
    movies = resolve_movies(pl.DataFrame(schema=VIDEO_SCHEMA), {}, catalogue).movies
    embedder = Embedder(EmbedderSettings())
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        store = build_index(movies, embedder, Path(tmp), CACHE)
        print(f"index: {len(movies)} movies, {store.count()} points, {time.perf_counter() - started:.0f} s")
        rows = list(movies.select("movie_id", "title", "year", "popularity").iter_rows(named=True))
        shared = Counter(normal_title(r["title"]) for r in rows)
        exact = Counter((normal_title(r["title"]), r["year"]) for r in rows)
        queries = []
        for r in rows:
            if exact[(normal_title(r["title"]), r["year"])] > 1:
                continue  # identical title and year: a tie no query can break
            remake = shared[normal_title(r["title"])] > 1
            text = f"{r['title']} {r['year']}" if remake and r["year"] else r["title"]
            queries.append((r["movie_id"], text, "shared: title + year" if remake else "unique title", r))
            if not remake and (typo := misspelt(r["title"])):  # near-exact: a typo no lookup can match
                queries.append((r["movie_id"], typo, "unique title, one typo", r))
        queries = queries[: args.limit] if args.limit else queries
        asked = [q[1] for q in queries] + [q[3]["title"] for q in queries if q[2] == "shared: title + year"]
        cached = QueryCache(embedder, list(dict.fromkeys(asked)))

        # the plain baselines over the same titles, in the same run
        from sklearn.feature_extraction.text import TfidfVectorizer

        ids = [r["movie_id"] for r in rows]
        texts = [title_text(r | {"original_title": None}) for r in rows]
        dense = embedder.encode(texts)
        tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(texts)
        doc_tfidf = tfidf.transform(texts)

        results: dict[tuple[str, str, bool], list[int]] = {}
        timings, misses = [], []
        with store.session():  # the shard held open, as the API holds it
            for movie, text, group, row in queries:
                held_out = int(movie.removeprefix("tmdb-")) % 5 == 0
                t0 = time.perf_counter()
                got = search(store, cached, text, top_k=1)
                timings.append(time.perf_counter() - t0)
                if got and got[0].movie_id != movie and len(misses) < args.misses:
                    misses.append(f"{text!r}: wanted {movie}, got {got[0].movie_id} ({got[0].title}, {got[0].year})")
                top_dense = ids[int(np.argmax(dense @ cached.vectors[text]))]
                top_tfidf = ids[int((doc_tfidf @ tfidf.transform([text]).T).toarray().ravel().argmax())]
                for system, first in (
                    ("movrec", got[0].movie_id if got else None),
                    ("e5 dense", top_dense),
                    ("TF-IDF", top_tfidf),
                ):
                    for subset in ("all", "held-out") if held_out else ("all",):
                        results.setdefault((system, group, subset), []).append(int(first == movie))
                if group == "shared: title + year":  # the same remake asked without its year: most popular first
                    alone = search(store, cached, row["title"], top_k=1)
                    same = [r for r in rows if normal_title(r["title"]) == normal_title(row["title"])]
                    expected = max(same, key=lambda r: r["popularity"] or 0.0)["movie_id"]
                    results.setdefault(("movrec", "shared: title alone -> most popular", "all"), []).append(
                        int(bool(alone) and alone[0].movie_id == expected)
                    )
    print("\n| system | query set | subset | queries | share ranked first [95% CI] |")
    print("|---|---|---|---|---|")
    for (system, group, subset), hits in sorted(results.items(), key=lambda kv: (kv[0][2], kv[0][1], kv[0][0])):
        print(f"| {system} | {group} | {subset} | {len(hits)} | {wilson(sum(hits), len(hits))} |")
    for subset in ("all", "held-out"):
        both = [
            h
            for (s, g, sub), hs in results.items()
            if s == "movrec" and sub == subset and g in ("unique title", "shared: title + year")
            for h in hs
        ]
        print(f"movrec, every exact title query ({subset}): {wilson(sum(both), len(both))} over {len(both)}")
    for miss in misses:
        print("  miss:", miss)
    ms = np.array(timings) * 1000
    print(
        f"movrec search latency (query vectors precomputed): p50 {np.percentile(ms, 50):.1f} ms, "
        f"p99 {np.percentile(ms, 99):.1f} ms"
    )


if __name__ == "__main__":
    main()
