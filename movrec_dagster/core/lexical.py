"""The lexical side of search: Qdrant's own BM25 (qdrant-edge `Bm25`), one analyzer per language.

A chunk is tokenised, stripped of its language's stop words and stemmed by its language's Snowball
stemmer ("perros corren" and "perro corriendo" share "perr" and "corr"), then weighted by BM25's
saturated, length-normalised term frequency; Qdrant multiplies in the inverse document frequency
itself (`Modifier.IDF` on the sparse vector), so the weights stay right as the collection grows.
The same `Bm25` runs in-process for both engines, so a Qdrant server stores exactly the vectors the
embedded engine does (its token ids are Qdrant's own hashing, as the server's `qdrant/bm25` uses).

A chunk's language is its transcript's spoken language, or for catalogue text (titles, overviews)
the language its stop words say it is written in (`text_language`). A query's language is not known,
so its vector is the union of what each indexed language's analyzer makes of it: an English query
finds English documents through English stems, a Spanish one Spanish documents through Spanish stems.
Each of a query's terms weighs its IDF (`types.TermCounts`, which every sync writes beside its
points), and the engine multiplies the IDF in once more, as TF-IDF's cosine has it on both sides:
a query's rare words count for more than the engine's own weighting gives them. Measured in
EVALUATION.md (bench/document_signals.py, then bench/search_quality.py). The words a query writes
with a capital where no sentence begins (names: "banker Andy Dufresne") weigh twice that
(`NAME_WEIGHT`, bench/name_weight.py): the dense models read a name as one more word.

This replaced a hand-written hashed BM25 without stop words or stemming (lexical format 1); measured
in EVALUATION.md (bench/search_quality.py). A collection version records the format it was built
with; one in an older format is rebuilt blue/green (`bluegreen.outdated_format`), and until then a
query's terms simply match none of its old ones, so search falls back to the dense side.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from functools import lru_cache
from typing import Any

from .vectorstore.types import LEXICAL_VERSION, TermCounts

__all__ = [
    "LEXICAL_VERSION",
    "analyzer",
    "document_vector",
    "query_vector",
    "term_counts",
    "text_language",
    "text_languages",
]
_WORD = re.compile(r"\w+")  # words as Python reads them: what `text_languages` asks each analyzer about
AVERAGE_LENGTH = 60.0  # tokens of a typical chunk (a title + overview, a few transcript lines)
# BM25's term-frequency saturation and length normalisation: the engine's defaults. b 0.5 and 1.0
# and k 0.9 and 2.0 measured in the product (bench/bm25_params.py, EVALUATION.md step 20): none
# gains the descriptions' tuning part (0.601-0.603 against 0.603); DBSF rescales the list anyway
BM25_K, BM25_B = 1.2, 0.75
# a query's names (`names`) weigh this many times their IDF: a description names who and where, and
# the overview it describes names them again. 1 to 3 measured in the product (bench/name_weight.py,
# EVALUATION.md step 19): 2 is the largest gain on descriptions (tuning part 0.585 -> 0.603) that
# cost no other set anything; 3 cost the cross-lingual set a query
NAME_WEIGHT = 2.0
_CAPITALISED = re.compile(r"\b[^\W\d_][\w'-]*")
_SENTENCE_END = (".", "!", "?", ":", ";", '"', "\u201c")

# partition language (ISO 639-1) -> the analyzer's language (stop words and Snowball stemmer)
ANALYZERS = {
    "ar": "arabic",
    "az": "azerbaijani",
    "bn": "bengali",
    "ca": "catalan",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "eu": "basque",
    "fi": "finnish",
    "fr": "french",
    "he": "hebrew",
    "hu": "hungarian",
    "id": "indonesian",
    "it": "italian",
    "ja": "japanese",
    "kk": "kazakh",
    "ne": "nepali",
    "nl": "dutch",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sl": "slovene",
    "sv": "swedish",
    "tg": "tajik",
    "tr": "turkish",
    "zh": "chinese",
}
Vector = tuple[list[int], list[float]]


def _config(name: str | None, stem: bool = True) -> Any:
    from qdrant_edge import Bm25Config, DisabledStemmer, StopwordsSet, TokenizerType

    # the multilingual tokenizer splits Chinese and Japanese into words and keeps other scripts whole
    if name is None:  # words as they are: no stop words, no stemming
        return Bm25Config(
            k=BM25_K,
            b=BM25_B,
            tokenizer=TokenizerType.Multilingual,
            stopwords=StopwordsSet(),
            stemmer=DisabledStemmer(),
            avg_len=AVERAGE_LENGTH,
        )
    if not stem:
        return Bm25Config(language=name, tokenizer=TokenizerType.Multilingual, stemmer=DisabledStemmer())
    return Bm25Config(k=BM25_K, b=BM25_B, language=name, tokenizer=TokenizerType.Multilingual, avg_len=AVERAGE_LENGTH)


@lru_cache(maxsize=128)
def analyzer(language: str | None, stem: bool = True) -> Any:  # qdrant_edge.Bm25, imported lazily
    """The BM25 model of a language: its stop words and Snowball stemmer where Qdrant ships them,
    else words as they are. `stem=False`: stop words only (to tell languages apart)."""
    from qdrant_edge import Bm25

    return Bm25(_config(ANALYZERS.get(language or ""), stem))


def _leaders(removed: dict[str, int]) -> list[str]:
    """The languages with the most stop words (`removed`: how many of a text's words each language's
    analyzer drops), where that is at least two."""
    best = max(removed.values(), default=0)
    return [code for code, count in removed.items() if count == best] if best >= 2 else []


def _stop_word_leaders(text: str) -> list[str]:
    """The languages whose stop words make up most of `text` (at least two of its words)."""
    words = len(analyzer(None).embed_query(text).indices)
    if words == 0:
        return []
    return _leaders({code: words - len(analyzer(code, stem=False).embed_query(text).indices) for code in ANALYZERS})


def _chosen(leaders: list[str], fallback: str) -> str:
    return leaders[0] if len(leaders) == 1 and fallback not in leaders else fallback


def text_language(text: str, fallback: str) -> str:
    """The language whose stop words make up most of `text` (at least two of its words, and more
    than any other language's but `fallback`, which wins ties); else `fallback`. Catalogue overviews
    are often English whatever the movie's spoken language (TMDB's are), and an English overview read
    as Japanese matches no English query (measured in EVALUATION.md)."""
    return _chosen(_stop_word_leaders(text), fallback)


def text_languages(texts: Sequence[str], fallback: str) -> list[str]:
    """`text_language` of each of `texts`, the same answers for a fraction of the work: each language's
    analyzer reads every distinct word of the batch once, instead of every text once (the 10k TMDB
    overviews: 6.1 s -> 1.4 s, the same 10,000 answers; about 4 s of the English partition's index step).

    Whether the engine drops a word as a stop word depends on the word alone, so the words a
    language's analyzer drops from the batch's distinct words are the ones it drops from each text.
    A text with a term that reading did not produce (a script written without spaces, which the
    tokenizer splits by context; a word Python lowercases otherwise) is read alone, as
    `text_language` reads it: the answers stay the same whatever the batch."""
    words = " ".join(sorted({word for text in texts for word in _WORD.findall(text.lower())}))
    seen = set(analyzer(None).embed_query(words).indices)
    stops = {code: seen - set(analyzer(code, stem=False).embed_query(words).indices) for code in ANALYZERS}
    out = []
    for text in texts:
        terms = set(analyzer(None).embed_query(text).indices)
        if terms <= seen:
            leaders = _leaders({code: len(terms & dropped) for code, dropped in stops.items()})
        else:
            leaders = _stop_word_leaders(text)
        out.append(_chosen(leaders, fallback))
    return out


def written_in(text: str, languages: Collection[str]) -> bool:
    """Whether `text` reads as one of `languages`: its stop words say so (one of the languages with
    the most of them in it), or, with no language's stop words in it (a tag list, a name), its
    letters are Latin and English is one of them. 0.2-0.3 ms for a query (every language's
    analyzer, held once built)."""
    leaders = _stop_word_leaders(text)
    if leaders:
        return bool(set(leaders) & set(languages))
    letters = [c for c in text if c.isalpha()]
    latin = sum(c.isascii() for c in letters) >= 0.9 * len(letters)
    return latin and "en" in languages


def document_vector(text: str, language: str) -> Vector:
    vector = analyzer(language).embed_document(text)
    return list(vector.indices), list(vector.values)


def names(text: str) -> list[str]:
    """The words of `text` written with a capital where a sentence does not begin: names, mostly
    ("Andy", "Dufresne", "Shawshank"). None where every word has one ("THE DARK KNIGHT", a title
    typed in title case): capitals there tell no word from another."""
    words = list(_CAPITALISED.finditer(text))
    if all(match.group()[0].isupper() for match in words):
        return []
    out = []
    for previous, match in zip(words, words[1:]):  # the first word begins a sentence
        between = text[previous.end() : match.start()].rstrip()
        if match.group()[0].isupper() and not between.endswith(_SENTENCE_END):
            out.append(match.group())
    return out


def query_vector(text: str, languages: Iterable[str], counts: TermCounts | None = None) -> Vector:
    """Each term of each language's reading of `text`, once, weighted by its IDF in `counts` (the
    engine multiplies it in once more; see `TermCounts`), or 1 each without counts (a version
    written before them), and by NAME_WEIGHT where it is one of the query's `names`. A stop word of
    one language kept by another's analyzer matches only the few documents of that other language
    holding it."""
    terms: set[int] = set()
    named: set[int] = set()
    stressed = " ".join(names(text)) if NAME_WEIGHT != 1.0 else ""
    # languages without stop words or a stemmer here read text alike: once for all of them
    codes = {code if code in ANALYZERS else "" for code in languages}
    for code in sorted(codes) or ["en"]:
        terms.update(analyzer(code or None).embed_query(text).indices)
        if stressed:
            named.update(analyzer(code or None).embed_query(stressed).indices)
    ordered = sorted(terms)
    idf = counts.idf if counts is not None and counts.documents else (lambda term: 1.0)
    return ordered, [round(idf(term) * (NAME_WEIGHT if term in named else 1.0), 6) for term in ordered]


def term_counts(vectors: Iterable[Vector | None]) -> TermCounts:
    """How many of these BM25 vectors (one language's points) hold each term."""
    documents, counts = 0, Counter[int]()
    for vector in vectors:
        if vector is not None and vector[0]:
            documents += 1
            counts.update(vector[0])
    return TermCounts(documents, dict(counts))
