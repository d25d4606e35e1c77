"""Catalogue adaptation's pure parts: the cloze pairs, the adapted model's name, where it is found."""

from __future__ import annotations

from pathlib import Path

import pytest

from movrec_dagster.core.adaptation import AdaptSettings, adapt, adapted_name, cloze_pairs
from movrec_dagster.core.models import ADAPTED, base_model, default_prompts, embedder_model_path

MOVIES = [
    (
        "The Martian",
        "An astronaut is left behind on Mars after a storm. He grows potatoes in his own waste to live. "
        "NASA works out how to bring him home.",
    ),
    ("Jaws", "A great white shark attacks swimmers at a summer resort town. The police chief hunts it down."),
    ("Short", "Too short. Really."),
    ("None", None),
]


def test_a_pair_asks_one_sentence_and_answers_with_the_title_and_the_rest() -> None:
    pairs = cloze_pairs(MOVIES, seed=7)
    assert len(pairs) == 2  # an overview without two sentences of six words gives none
    for question, passage in pairs:
        title = passage.split(". ", 1)[0]
        assert title in {"The Martian", "Jaws"}
        assert question not in passage and len(question.split()) >= 6
    assert cloze_pairs(MOVIES, seed=7) == pairs  # the seed decides which sentence, and the order


def test_the_name_says_the_base_and_what_it_was_trained_on() -> None:
    pairs = cloze_pairs(MOVIES, seed=7)
    name = adapted_name(AdaptSettings(), pairs)
    assert ADAPTED.match(name) and base_model(name) == "all-MiniLM-L6-v2"
    assert adapted_name(AdaptSettings(), pairs) == name
    assert adapted_name(AdaptSettings(), pairs[:1]) != name
    assert adapted_name(AdaptSettings(steps=50), pairs) != name
    assert base_model("all-MiniLM-L6-v2") == "all-MiniLM-L6-v2"
    assert default_prompts(name) == {"query": "", "passage": ""}


def test_an_adapted_model_is_found_in_the_home_or_named_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOVREC_HOME", str(tmp_path))
    name = adapted_name(AdaptSettings(), cloze_pairs(MOVIES, seed=7))
    with pytest.raises(FileNotFoundError, match="movrec adapt"):
        embedder_model_path(name)
    folder = tmp_path / "models" / name
    folder.mkdir(parents=True)
    (folder / ".complete").write_text("ok\n")
    assert embedder_model_path(name) == str(folder)


def test_too_small_a_catalogue_is_refused_before_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOVREC_HOME", str(tmp_path))
    with pytest.raises(ValueError, match="catalogue: 2 overviews"):
        adapt(MOVIES)
    assert not any(tmp_path.iterdir())
