"""Word error rate of a transcript against a human reference, after the normalisation whisper's own
evaluation uses (whisper-normalizer): case, punctuation, and for English spelled-out numbers,
contractions and spellings; Chinese and Japanese are compared by character (no spaces to split on).
Computed with jiwer. Shared by bench/transcription_quality.py and the test that keeps a ceiling."""

from __future__ import annotations

from functools import lru_cache

BY_CHARACTER = {"zh", "ja"}


@lru_cache(maxsize=1)
def _normalisers() -> tuple:
    from whisper_normalizer.basic import BasicTextNormalizer
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer(), BasicTextNormalizer()


def normalise(text: str, language: str) -> str:
    english, basic = _normalisers()
    words = (english if language == "en" else basic)(text).split()
    if language in BY_CHARACTER:
        return " ".join(c for word in words for c in word)
    return " ".join(words)


def errors(reference: str, hypothesis: str, language: str) -> tuple[int, int]:
    """(word errors, reference words): sum these over clips for a corpus-level rate."""
    import jiwer

    ref, hyp = normalise(reference, language), normalise(hypothesis, language)
    if not ref:
        return len(hyp.split()), 0
    out = jiwer.process_words(ref, hyp or "")
    return out.substitutions + out.deletions + out.insertions, len(ref.split())


def word_error_rate(reference: str, hypothesis: str, language: str) -> float:
    wrong, total = errors(reference, hypothesis, language)
    return wrong / total if total else float(wrong > 0)
