"""Three more ways search could read the catalogue, tried as a plain simulation before any product change.

movrec fuses e5, BM25 and a second model's list by DBSF in the engine, then adds 0.5 x renown
(bench/renown_prior.py). This script asks whether any of these would find more, on the same texts,
query sets and held-out split as bench/search_quality.py, with the lists bench/dense_lists.py
builds (run it first: it caches the vectors):
* **the engine's BM25 instead of TF-IDF** as the lexical list the simulations use: Qdrant's `Bm25`
  (English stop words and stemmer, as movrec indexes an English overview) with its IDF computed
  as Qdrant's `Modifier.IDF` does, at movrec's settings (every query term weighs 1, as
  `Bm25.embed_query` gives it) and variants: no stemmer, other `k` and `b`, and query terms
  weighted by their IDF too (the engine multiplies the IDF in once; TF-IDF's cosine has it on
  both sides, which favours a query's rare words);
* **genres written into every document** ("Title. Comedy, Crime. overview"), for every system
  (movrec's lists and the plain RRF baselines read the same texts); encodes the 10k documents
  once more with each model (~3 min, cached);
* **a genre bonus**: w x the share of the genres a query names ("comedy", "sci-fi", "comedia",
  "科幻") that the movie has, added to the fused score as renown is.
The decision rule is the one bench/renown_prior.py fixed: adopt only what finds more on the tuning
part without costing the description set there; the held-out part reports.
Usage: python bench/document_signals.py [--data ../shared/data]
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from dense_lists import K, arguments, cached, corpus, dbsf_scores, encoders, model_vectors, print_ranks, rrf, top
from search_quality import benchmark_movies

from movrec_dagster.core.embedding import Embedder, EmbedderSettings
from movrec_dagster.core.lexical import AVERAGE_LENGTH
from movrec_dagster.core.vectorstore.types import renown

# a genre's words in English, Spanish, French, German and Chinese (a probe, not a product lexicon)
GENRE_WORDS = {
    "Action": ("action", "acción", "actionfilm", "动作"),
    "Adventure": ("adventure", "aventura", "aventure", "abenteuer", "冒险"),
    "Animation": ("animation", "animated", "anime", "cartoon", "animación", "zeichentrick", "动画"),
    "Comedy": ("comedy", "funny", "comedia", "comédie", "komödie", "喜剧"),
    "Crime": ("crime", "gangster", "mafia", "crimen", "krimi", "犯罪"),
    "Documentary": ("documentary", "documental", "documentaire", "dokumentarfilm", "纪录片"),
    "Family": ("family", "kids", "familia", "famille", "familie", "家庭"),
    "Fantasy": ("fantasy", "fantasía", "fantastique", "奇幻"),
    "History": ("history", "historical", "historia", "histoire", "geschichte", "历史"),
    "Horror": ("horror", "scary", "terror", "horreur", "恐怖"),
    "Music": ("music", "musical", "música", "musique", "musik", "音乐"),
    "Mystery": ("mystery", "misterio", "mystère", "悬疑"),
    "Romance": ("romance", "romantic", "love story", "romántica", "romantique", "爱情"),
    "Science Fiction": ("sci-fi", "scifi", "science fiction", "ciencia ficción", "science-fiction", "科幻"),
    "Thriller": ("thriller", "suspense", "惊悚"),
    "War": ("war", "guerra", "guerre", "krieg", "战争"),
    "Western": ("western", "cowboy", "西部"),
}
# (stemmer, query terms weighted by IDF, k, b); the first is movrec's
BM25_SETTINGS = (
    (True, False, 1.2, 0.75),
    (False, False, 1.2, 0.75),
    (True, False, 1.2, 0.5),
    (True, True, 1.2, 0.75),
    (False, True, 1.2, 0.75),
    (True, True, 2.0, 0.75),
    (True, True, 1.2, 0.5),
)
GENRE_WEIGHTS = (0.0, 0.2, 0.3, 0.5)


def named_genres(text: str) -> set[str]:
    lower = text.lower()

    def says(word: str) -> bool:  # whole words where words are spaced, else the characters
        return bool(re.search(rf"(?<!\w){re.escape(word)}(?!\w)", lower)) if word.isascii() else word in lower

    return {genre for genre, words in GENRE_WORDS.items() if any(says(w) for w in words)}


def engine_bm25(texts: list[str], asked: list[str], stem: bool, query_idf: bool, k: float, b: float) -> sp.csr_matrix:
    """Every query's BM25 score of every document (queries x documents), as Qdrant scores them."""
    from qdrant_edge import Bm25, Bm25Config, DisabledStemmer, TokenizerType

    stemmer = {} if stem else {"stemmer": DisabledStemmer()}
    config = Bm25Config(
        language="english", tokenizer=TokenizerType.Multilingual, k=k, b=b, avg_len=AVERAGE_LENGTH, **stemmer
    )
    model = Bm25(config)
    columns: dict[int, int] = {}

    def matrix(vectors: list, rows: int) -> sp.csr_matrix:
        cells = [
            (r, columns.setdefault(t, len(columns)), w)
            for r, v in enumerate(vectors)
            for t, w in zip(v.indices, v.values)
        ]
        r, c, w = zip(*cells)
        return sp.csr_matrix((w, (r, c)), shape=(rows, 1 << 20))

    docs = matrix([model.embed_document(t) for t in texts], len(texts))
    queries = matrix([model.embed_query(t) for t in asked], len(asked))
    frequency = np.bincount(docs.indices, minlength=docs.shape[1])
    idf = sp.diags(np.log(1 + (len(texts) - frequency + 0.5) / (frequency + 0.5)))  # Qdrant's Modifier.IDF
    return ((queries @ idf if query_idf else queries) @ (docs @ idf).T).tocsr()


def bm25_name(stem: bool, query_idf: bool, k: float, b: float) -> str:
    return f"BM25{'' if stem else ' unstemmed'}{', query IDF' if query_idf else ''}, k {k} b {b}"


def main() -> None:
    data, _ = arguments()
    from sklearn.feature_extraction.text import TfidfVectorizer

    queries, ids, texts, asked = corpus(data)
    movies, _ = benchmark_movies(data)
    genres = dict(zip(movies["movie_id"].to_list(), movies["genres"].to_list()))
    written = movies.select("movie_id", "title", "overview").iter_rows()
    with_genres = [  # as corpus() writes a document, the genres between title and overview
        f"{title}. {', '.join(genres[m])}. {overview or ''}".strip() if genres.get(m) else text
        for (m, title, overview), text in zip(written, texts)
    ]
    indexed = model_vectors(texts, asked)
    query_vectors = {name: queries_ for name, (_, queries_) in indexed.items()}
    documents = {
        "as indexed": {name: docs for name, (docs, _) in indexed.items()},
        "genres written in": {
            name: cached(f"{name}_docs_genres", with_genres, lambda batch, encode=encode: encode(batch, "passage"))
            for name, encode in encoders().items()
        },
    }
    lexical: dict[str, Callable[[list[str]], sp.csr_matrix]] = {
        "TF-IDF": lambda docs: (lambda v: (v.transform(asked) @ v.transform(docs).T).tocsr())(
            TfidfVectorizer(stop_words="english", sublinear_tf=True).fit(docs)
        ),
        **{
            bm25_name(*setting): (lambda docs, setting=setting: engine_bm25(docs, asked, *setting))
            for setting in BM25_SETTINGS
        },
    }
    popularity = dict(zip(movies["movie_id"].to_list(), movies["popularity"].to_list()))
    prior = np.array([renown(popularity.get(m)) for m in ids])
    has = [set(genres.get(m) or []) for m in ids]
    row, position = {q: i for i, q in enumerate(asked)}, {m: i for i, m in enumerate(ids)}
    ranks: dict[tuple[str, str, str], list[int | None]] = {}

    def record(group: str, subset: str, system: str, movie: str, got: list[int]) -> None:
        rank = got.index(position[movie]) + 1 if position[movie] in got else None
        ranks.setdefault((group, subset, system), []).append(rank)

    english = Embedder(EmbedderSettings(model="all-MiniLM-L6-v2", second_model=None))  # who asks MiniLM
    for texts_name, docs in (("as indexed", texts), ("genres written in", with_genres)):
        lexicals = lexical if texts_name == "as indexed" else {"TF-IDF": lexical["TF-IDF"]}
        for lexical_name, scores in ((name, make(docs)) for name, make in lexicals.items()):
            vectors = documents[texts_name]
            for group, movie, text, held_out in queries.iter_rows():
                if group == "titles":
                    continue
                i, subset = row[text], "held-out" if held_out else "tuning"
                lists = {name: top(vectors[name] @ query_vectors[name][i]) for name in vectors}
                words = top(scores[i].toarray().ravel())
                second = lists["minilm"] if english.asked(text) else lists["use"]
                fused = dbsf_scores([lists["e5"], second, words])
                named = named_genres(text)
                candidates = np.array(list(fused))
                base = np.array([fused[c] for c in candidates]) + 0.5 * prior[candidates]
                share = np.array([len(named & has[c]) / len(named) if named else 0.0 for c in candidates])
                weights = GENRE_WEIGHTS if (texts_name, lexical_name) == ("as indexed", "TF-IDF") else (0.0,)
                for weight in weights:
                    movrec = candidates[np.argsort(-(base + weight * share), kind="stable")][:K].tolist()
                    bonus = f", genre bonus {weight}" if weight else ""
                    record(group, subset, f"movrec's lists, {lexical_name}, {texts_name}{bonus}", movie, movrec)
                baseline = rrf(lists["e5"], lists["minilm"], words)
                record(group, subset, f"RRF(e5 + MiniLM + {lexical_name}), {texts_name}", movie, baseline)
                record(group, subset, f"{lexical_name} alone, {texts_name}", movie, words[0][:K].tolist())
    print_ranks(ranks)


if __name__ == "__main__":
    main()
