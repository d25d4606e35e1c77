"""Sentences of catalogue text and transcripts: where movrec splits them, and which one a search matched.

One split serves three readers: `movrec adapt` asks one sentence of an overview for the rest of it
(`adaptation.pairs`), the search benchmark takes an overview's first sentence as a description
(bench/search_quality.py), and a search hit quotes the sentence of its overview or transcript chunk
that holds the query's words (`matched_sentence`), so a person reads the evidence rather than a
whole overview. A sentence ends at ".", "!" or "?" followed by a space and a capital or a quote,
so "Dr. who" and "3.5 million" stay whole.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .lexical import Vector, analyzer

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")


def sentences(text: str) -> list[str]:
    """`text`'s sentences, in order (one: the text itself, stripped)."""
    return [s for s in SENTENCE_END.split(text.strip()) if s]


def matched_sentence(text: str, query: Vector, language: str) -> str | None:
    """The sentence of `text` (written in `language`) whose words carry the most of the query's
    weight (`lexical.query_vector`: each term's IDF, names more), the earlier of equals; None where
    no sentence shares a word with the query (a match by meaning alone, a query in another language).

    The engine tells which points matched, not which of their words did, so each sentence is read
    again by the language's analyzer (`_read`)."""
    weights = dict(zip(*query))
    best, best_weight = None, 0.0
    for sentence, terms in _read(text, language) if weights else ():
        weight = sum(weights.get(term, 0.0) for term in terms)
        if weight > best_weight:
            best, best_weight = sentence, weight
    return best


@lru_cache(maxsize=4096)
def _read(text: str, language: str) -> tuple[tuple[str, frozenset[int]], ...]:
    """Each sentence of `text` with its terms. 16 us a sentence, 0.4-0.6 ms for a page of ten
    overviews (GET /search +0.55 ms p50, bench/search_ab.py); the same movies come back for many
    queries, so their sentences are read once (4,096 texts, a few MB)."""
    read = analyzer(language)
    return tuple((sentence, frozenset(read.embed_query(sentence).indices)) for sentence in sentences(text))
