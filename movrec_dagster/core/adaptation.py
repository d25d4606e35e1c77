"""Adapting the embedding models to the catalogue they search (inverse cloze), opt-in.

Why: the packaged multilingual-e5-small and all-MiniLM-L6-v2 learned from the web's sentence pairs,
not from how movies are described. The catalogue itself offers pairs with no query in them: one
sentence of an overview as the question, the movie's title and the rest of its overview as the
passage (the inverse cloze task, Lee et al. 2019). One pass over them with sentence-transformers'
in-batch-negatives loss, for MiniLM alone, took movrec's held-out descriptions from Recall@10 0.596
to 0.611-0.627 and MRR@10 from 0.425 to 0.448-0.450 in two runs; for e5 as well, to 0.653-0.668 and
0.493-0.494 (held-out tag lists 0.136 -> 0.102 in both; 0.153 with renown at 0.8, the default
since), at no cost per query (bench/catalogue_adaptation.py, EVALUATION.md), for a one-off 6-9
(MiniLM) and 18-19 (e5, a slow hour) minutes of training on 2 cores. Three passes instead of one
gained nothing on the tuning part.

An adapted model belongs to one catalogue, so it lives in the deployment's home, not the shared
model cache: `<MOVREC_HOME>/models/<base>-adapted-<digest>`, the digest naming the base model, the
training settings and every pair, so the same catalogue and settings give the same name (and a
name is never reused for other weights). `MOVREC_MODEL` / `MOVREC_SECOND_MODEL` name it in place
of its base; the collection is then rebuilt blue/green like any change of model. A catalogue that
grows keeps its adapted models (new movies are encoded by them) until `movrec adapt` is run again.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

from .models import USE_MULTILINGUAL, adapted_models, base_model, build_once, default_prompts, embedder_model_path
from .sentences import SENTENCE_END

MIN_WORDS = 6  # a sentence shorter than this says too little to be a question


# What `movrec adapt` trains by default, where the settings name them (or models adapted from
# them): the two measured to gain (bench/catalogue_adaptation.py). Others only on request.
MEASURED = ("multilingual-e5-small", "all-MiniLM-L6-v2")


@dataclass(frozen=True)
class AdaptSettings:
    base: str = "all-MiniLM-L6-v2"
    steps: int = 100  # at most; one pass over 3,200 pairs: the 10k catalogue's overviews give about that many
    # passes over the overviews, each asking another of their sentences: three (300 steps) instead of
    # one moved the benchmark's tuning part by a few queries for 3x the training (EVALUATION.md), so
    # one; more for a small catalogue, whose one pass is a few steps
    passes: int = 1
    # in-batch negatives: each pair's passage is the others' wrong answer. Both fixed before the
    # first run; 64 pairs a step and a learning rate of 1e-4 each lost on the benchmark's tuning
    # part (EVALUATION.md, "A larger learning rate or a larger batch?")
    batch_size: int = 32
    learning_rate: float = 3e-5
    # saved with the model, which then reads at most this many tokens, as it was trained and as the
    # benchmark measured it: as the first model it cuts long overviews and transcripts into more
    # pieces than its base (the 10k catalogue's English partition: 23,430 points became 23,569)
    max_seq_length: int = 128
    seed: int = 7


@dataclass(frozen=True)
class Adapted:
    name: str
    path: Path
    pairs: int
    steps: int
    seconds: float  # the training's, when it ran
    loss: float
    reused: bool  # trained before on the same pairs and settings


def cloze_pairs(movies: list[tuple[str, str | None]], seed: int, passes: int = 1) -> list[tuple[str, str]]:
    """(sentence, "title. the rest") from every overview with two sentences of MIN_WORDS words or
    more, in a seeded order; each further pass asks each overview's next sentence, so a pass holds
    a movie once (no batch makes a movie its own wrong answer) and passes differ where they can."""
    rng = random.Random(seed)  # which sentence asks first
    asking = []
    for title, overview in movies:
        sentences = [s for s in SENTENCE_END.split((overview or "").strip()) if len(s.split()) >= MIN_WORDS]
        if len(sentences) >= 2:
            asking.append((title, sentences, rng.randrange(len(sentences))))
    pairs = []
    for n in range(passes):
        this = []
        for title, sentences, first in asking:
            asked = (first + n) % len(sentences)
            rest = " ".join(s for i, s in enumerate(sentences) if i != asked)
            this.append((sentences[asked], f"{title}. {rest}"))
        random.Random(seed + n).shuffle(this)  # the order they are trained in
        pairs += this
    return pairs


def adapted_name(settings: AdaptSettings, pairs: list[tuple[str, str]]) -> str:
    # `passes` came later: a one-pass model keeps the name it was trained under before, so running
    # `movrec adapt` again after an upgrade reuses it instead of training it again
    named = repr(settings).replace(", passes=1,", ",")
    digest = hashlib.sha256(json.dumps([named, pairs]).encode()).hexdigest()[:12]
    return f"{settings.base}-adapted-{digest}"


def adapt(movies: list[tuple[str, str | None]], settings: AdaptSettings = AdaptSettings()) -> Adapted:
    """Train `settings.base` on the catalogue's cloze pairs and save it where search finds it
    (`models.adapted_models`: the home's); a model already trained on the same pairs and settings is
    reused."""
    pairs = cloze_pairs(movies, settings.seed, settings.passes)
    steps = min(settings.steps, len(pairs) // settings.batch_size)
    if steps < 1:
        raise ValueError(
            f"catalogue: {len(pairs)} overviews with two sentences of {MIN_WORDS}+ words; "
            f"adapting needs at least {settings.batch_size}"
        )
    name = adapted_name(settings, pairs)
    prompts = default_prompts(settings.base)  # e5 reads "query: "/"passage: " in training as in search
    record: dict[str, float] = {}

    def train(out: Path) -> None:
        import torch
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

        torch.manual_seed(settings.seed)
        model = SentenceTransformer(embedder_model_path(settings.base), device="cpu")
        model.max_seq_length = settings.max_seq_length
        loss = MultipleNegativesRankingLoss(model)
        optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate)
        model.train()
        started = time.perf_counter()
        value = torch.tensor(0.0)
        for step in range(steps):
            batch = pairs[step * settings.batch_size : (step + 1) * settings.batch_size]
            questions = [prompts["query"] + q for q, _ in batch]
            passages = [prompts["passage"] + p for _, p in batch]
            features = [model.preprocess(questions), model.preprocess(passages)]
            value = loss(features, labels=None)
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
        record.update(seconds=time.perf_counter() - started, loss=float(value.item()))
        model.save(str(out))
        (out / "movrec_adaptation.json").write_text(
            json.dumps({"base": settings.base, "pairs": len(pairs), "steps": steps, **record}, indent=1)
        )

    models_dir = adapted_models()
    models_dir.mkdir(parents=True, exist_ok=True)
    path = build_once(models_dir / name, train)
    reused = not record
    done = json.loads((path / "movrec_adaptation.json").read_text())
    return Adapted(name, path, len(pairs), steps, done["seconds"], done["loss"], reused)


def to_adapt(configured: list[str]) -> list[str]:
    """The bases among the configured models (the first, then the second ones) `movrec adapt`
    trains by default: each measured base once, a model adapted before counting as its base."""
    return [b for b in dict.fromkeys(base_model(m) for m in configured) if b in MEASURED]


def bases_to_adapt(asked: list[str], configured: list[str]) -> list[str]:
    """The bases of the `asked` models, else `to_adapt(configured)`; a ValueError saying why when
    there is nothing to train (the CLI and the Dagster asset both ask here)."""
    bases = list(dict.fromkeys(base_model(m) for m in asked)) or to_adapt(configured)
    if USE_MULTILINGUAL in bases:
        raise ValueError(f"{USE_MULTILINGUAL} is not a sentence-transformers model: it cannot be adapted")
    if not bases:
        raise ValueError(
            f"no configured model ({', '.join(configured)}) is one adaptation was measured on "
            f"({', '.join(MEASURED)}): name the model to adapt"
        )
    return bases


def settings_after(first: str, seconds: list[str], adapted: dict[str, str]) -> tuple[str, list[str]]:
    """The first and second model settings that search with `adapted` (base -> adapted name): each
    configured model whose base was adapted replaced by its adapted model, and an adapted model
    whose base is not configured added to the second ones."""
    configured = {base_model(m) for m in (first, *seconds)}
    extra = [name for base, name in adapted.items() if base not in configured]
    return adapted.get(base_model(first), first), [adapted.get(base_model(m), m) for m in seconds] + extra
