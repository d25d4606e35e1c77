"""BM25-style sparse vectors for Qdrant: names and rare words that dense embeddings blur.

Documents carry saturated, length-normalised term frequencies; queries carry each term once; Qdrant
multiplies in the inverse document frequency itself (`Modifier.IDF` on the sparse vector), so the
weights stay right as the collection grows. Terms are hashed, so there is no vocabulary to keep.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter

K1, B, AVERAGE_LENGTH = 1.2, 0.75, 60.0
_WORD = re.compile(r"\w+", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af]")


def tokens(text: str) -> list[str]:
    """Lower-cased words; CJK text (no spaces between words) as single characters."""
    out: list[str] = []
    for word in _WORD.findall(unicodedata.normalize("NFKC", text).lower()):
        if _CJK.search(word):
            out += [c for c in word if not c.isspace()]
        elif len(word) > 1 or word.isdigit():
            out.append(word)
    return out


def term_id(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=4).digest(), "little") & 0x7FFFFFFF


def document_vector(text: str) -> tuple[list[int], list[float]]:
    counts = Counter(term_id(t) for t in tokens(text))
    length = sum(counts.values())
    norm = K1 * (1 - B + B * length / AVERAGE_LENGTH)
    pairs = sorted((term, tf * (K1 + 1) / (tf + norm)) for term, tf in counts.items())
    return [t for t, _ in pairs], [w for _, w in pairs]


def query_vector(text: str) -> tuple[list[int], list[float]]:
    terms = sorted({term_id(t) for t in tokens(text)})
    return terms, [1.0] * len(terms)
