"""Catalogue adaptation's pure parts: the cloze pairs, the adapted model's name, where it is found."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from movrec_dagster.core.adaptation import (
    AdaptSettings,
    adapt,
    adapted_name,
    bases_to_adapt,
    cloze_pairs,
    settings_after,
    to_adapt,
)
from movrec_dagster.core.embedding import EmbedderSettings
from movrec_dagster.core.models import ADAPTED, base_model, default_prompts, embedder_model_path
from movrec_dagster.defs.resources import EmbedderResource

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


def test_each_pass_asks_each_overview_once_and_another_sentence_where_it_has_one() -> None:
    once = cloze_pairs(MOVIES, seed=7)
    assert cloze_pairs(MOVIES, seed=7, passes=1) == once
    three = cloze_pairs(MOVIES, seed=7, passes=3)
    assert len(three) == 3 * len(once)
    for n in range(3):
        this = three[n * len(once) : (n + 1) * len(once)]
        assert sorted(p.split(". ", 1)[0] for _, p in this) == ["Jaws", "The Martian"]  # a movie once a pass
    martian = [q for q, p in three if p.startswith("The Martian")]
    assert len(set(martian)) == 3  # three sentences, three passes: each asks once
    jaws = [q for q, p in three if p.startswith("Jaws")]
    assert jaws[0] != jaws[1] and jaws[2] == jaws[0]  # two sentences: they take turns


def test_the_name_says_the_base_and_what_it_was_trained_on() -> None:
    pairs = cloze_pairs(MOVIES, seed=7)
    name = adapted_name(AdaptSettings(), pairs)
    assert ADAPTED.match(name) and base_model(name) == "all-MiniLM-L6-v2"
    assert adapted_name(AdaptSettings(), pairs) == name
    assert adapted_name(AdaptSettings(), pairs[:1]) != name
    assert adapted_name(AdaptSettings(steps=50), pairs) != name
    assert adapted_name(AdaptSettings(passes=2), pairs) != name
    # the name a one-pass model was given before `passes` existed: running adapt again reuses it
    before = (
        "AdaptSettings(base='all-MiniLM-L6-v2', steps=100, batch_size=32, learning_rate=3e-05, "
        "max_seq_length=128, seed=7)"
    )
    assert name == f"all-MiniLM-L6-v2-adapted-{hashlib.sha256(json.dumps([before, pairs]).encode()).hexdigest()[:12]}"
    assert base_model("all-MiniLM-L6-v2") == "all-MiniLM-L6-v2"
    assert default_prompts(name) == {"query": "", "passage": ""}
    e5 = adapted_name(AdaptSettings(base="multilingual-e5-small"), pairs)
    assert base_model(e5) == "multilingual-e5-small" and e5 != name
    assert default_prompts(e5) == {"query": "query: ", "passage": "passage: "}  # as it is trained and asked


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


def test_adapt_trains_the_measured_bases_of_the_configured_models_once() -> None:
    e5, minilm = "multilingual-e5-small", "all-MiniLM-L6-v2"
    adapted_minilm = f"{minilm}-adapted-0123456789ab"
    assert to_adapt([e5, minilm, "use-multilingual-v3"]) == [e5, minilm]
    assert to_adapt([e5, adapted_minilm, "all-mpnet-base-v2", "use-multilingual-v3"]) == [e5, minilm]
    assert to_adapt(["some/hub-model", "use-multilingual-v3"]) == []


def test_the_models_asked_for_come_first_and_what_cannot_be_trained_is_refused_with_why() -> None:
    e5, minilm, use = "multilingual-e5-small", "all-MiniLM-L6-v2", "use-multilingual-v3"
    configured = [e5, minilm, use]
    assert bases_to_adapt([], configured) == [e5, minilm]
    assert bases_to_adapt([f"{minilm}-adapted-0123456789ab", minilm], configured) == [minilm]
    assert bases_to_adapt(["all-mpnet-base-v2"], configured) == ["all-mpnet-base-v2"]  # asked: trained
    with pytest.raises(ValueError, match="use-multilingual-v3 is not a sentence-transformers model"):
        bases_to_adapt([use], configured)
    with pytest.raises(ValueError, match=r"no configured model \(all-mpnet-base-v2\)"):
        bases_to_adapt([], ["all-mpnet-base-v2"])


def test_the_settings_printed_name_the_adapted_models_in_place_of_their_bases() -> None:
    e5, minilm, use = "multilingual-e5-small", "all-MiniLM-L6-v2", "use-multilingual-v3"
    new = {e5: f"{e5}-adapted-aaaaaaaaaaaa", minilm: f"{minilm}-adapted-bbbbbbbbbbbb"}
    assert settings_after(e5, [minilm, use], new) == (new[e5], [new[minilm], use])
    # adapted again: the older adapted model is replaced, not kept beside the new one
    assert settings_after(f"{e5}-adapted-cccccccccccc", [use], {e5: new[e5]}) == (new[e5], [use])
    # a base that is not configured (`--model`) becomes one more list
    assert settings_after(e5, [use], {minilm: new[minilm]}) == (e5, [use, new[minilm]])


def test_the_first_model_comes_from_movrec_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOVREC_MODEL", raising=False)
    assert EmbedderSettings().model == "multilingual-e5-small"
    monkeypatch.setenv("MOVREC_MODEL", f"multilingual-e5-small-adapted-{'0' * 12}")
    assert EmbedderSettings().model.endswith("-adapted-000000000000")
    assert EmbedderResource().settings().model == EmbedderSettings().model
