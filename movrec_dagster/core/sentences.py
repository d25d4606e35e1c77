"""Sentences of catalogue text and transcripts: where movrec splits them, and which one a search matched.

One split serves three readers: `movrec adapt` asks one sentence of an overview for the rest of it
(`adaptation.cloze_pairs`), the search benchmark takes an overview's first sentence as a description
(bench/search_quality.py), and a search hit quotes the sentence of its overview that holds the
query's words (`matched_sentence`), or the line of its transcript chunk and when it is said
(`matched_line`), so a person reads the evidence rather than a whole overview or a minute of
dialogue. A sentence ends at ".", "!" or "?" followed by a space and a capital or a quote,
so "3.5 million" stays whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from .lexical import Vector, analyzer

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")
# a stop that ends a title or an initial, not a sentence ("Dr. Ryan Stone", "John F. Kennedy", "U.S.
# Army"). Only the quoted sentence heeds it: the benchmark's descriptions and `movrec adapt`'s pairs
# were cut by SENTENCE_END alone, and their recorded figures depend on that cut
_ABBREVIATION = re.compile(r"\b(?:Dr|Mr|Mrs|Ms|Mme|St|Jr|Sr|Prof|Gen|Capt|Lt|Sgt|Col|Gov|Sen|Rev|Mt|vs|[A-Z])\.$")


@lru_cache(maxsize=4096)  # the same movies come back for many queries
def sentences(text: str) -> tuple[str, ...]:
    """`text`'s sentences, in order (one: the text itself, stripped)."""
    out: list[str] = []
    for part in SENTENCE_END.split(text.strip()):
        if out and _ABBREVIATION.search(out[-1]):
            out[-1] = f"{out[-1]} {part}"
        elif part:
            out.append(part)
    return tuple(out)


def excerpt(text: str, limit: int = 240) -> str:
    """The start of `text` for a person to read: its first sentences while they fit in `limit`
    characters, or the first sentence cut at a word ("…") where it alone is longer. Stored texts are
    cut at a length, not at a word, so quoting them whole can end mid-word."""
    parts = sentences(text)
    if not parts:
        return ""
    out = parts[0]
    for part in parts[1:]:
        if len(out) + 1 + len(part) > limit:
            break
        out = f"{out} {part}"
    if len(out) <= limit:
        return out
    head = out[: limit + 1]  # a space just after the limit: the last word fits whole
    cut = head.rsplit(" ", 1)[0] if " " in head else out[:limit]
    return f"{cut.rstrip(' ,;:-')}…"


def matched_sentence(text: str, query: Vector, language: str) -> str | None:
    """The sentence of `text` (written in `language`) whose words carry the most of the query's
    weight (`lexical.query_vector`: each term's IDF, names more), the earlier of equals; None where
    no sentence shares a word with the query (a match by meaning alone, a query in another language)."""
    parts = sentences(text)
    best = _best(parts, query, language)
    return None if best is None else parts[best]


def matched_line(lines: Sequence[Sequence[Any]], query: Vector, language: str) -> tuple[float, str] | None:
    """`matched_sentence` over a transcript chunk's (start, text) lines: the line and when it is said."""
    best = _best(tuple(str(text) for _, text in lines), query, language)
    return None if best is None else (float(lines[best][0]), str(lines[best][1]).strip())


def _best(parts: tuple[str, ...], query: Vector, language: str) -> int | None:
    weights = dict(zip(*query))
    best, best_weight = None, 0.0
    for i, terms in enumerate(_terms(parts, language) if weights else ()):
        weight = sum(weights.get(term, 0.0) for term in terms)
        if weight > best_weight:
            best, best_weight = i, weight
    return best


@lru_cache(maxsize=4096)
def _terms(parts: tuple[str, ...], language: str) -> tuple[frozenset[int], ...]:
    """Each part's terms, read by the language's analyzer: the engine tells which points matched, not
    which of their words did. 16 us a sentence, 0.4-0.6 ms for a page of ten overviews (GET /search
    +0.46-0.65 ms p50, bench/search_ab.py); 8 us a transcript line (75 characters, the demo trailers'
    mean), 0.2 ms a chunk of 25. The same movies come back for many queries, so their texts
    are read once (4,096 texts, a few MB)."""
    read = analyzer(language)
    return tuple(frozenset(read.embed_query(part).indices) for part in parts)
