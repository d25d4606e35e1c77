"""Text to vectors on CPU through ONNX Runtime with int8 weights: 2.6x torch for passages, 5x for queries.

Measured on 2 cores, multilingual-e5-small. Queries, one short text at a time: torch 21.7 ms p50,
ONNX Runtime float32 8.0 ms, int8 (dynamic, per-channel) 4.4 ms at cosine >= 0.996 to the torch
vector (per-tensor int8: 3.4 ms but cosine 0.987-0.990). Passages (title + overview, 400 TMDB
movies): torch batched 35.6 texts/s, int8 one text per run on one thread 46-50 texts/s, the same
session run from two threads (one per core) 94-102 texts/s, cosine to torch >= 0.9936 (p50 0.9965).
ONNX Runtime float32 in batches was slower than torch (34 vs 43 texts/s). `bench/search_latency.py`
and `bench/search_quality.py` measure what it does to search (BENCHMARKS.md, EVALUATION.md).

Vectors stay comparable with torch's like float16 on a GPU does (cosine above 0.99), so the model
fingerprint names the model, not the arithmetic: a collection embedded on torch keeps its vectors and
only new texts go through here.

sentence-transformers' own `backend="onnx"` needs optimum-onnx, which pins transformers < 4.58 (movrec
runs 5.x), so the model is exported here with `torch.onnx` and quantised with
`onnxruntime.quantization`, once per machine into the model cache, next to the model it came from.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import re
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .models import ADAPTED, build_once, default_prompts, embedder_model_path, model_cache, usable_cores

BACKENDS = ("onnx-int8", "torch")
_META = "movrec_onnx_encoder.json"


def _export(model: str, max_seq_length: int, defaults: dict[str, str], out: Path) -> None:
    """`model` (a sentence-transformers folder: Transformer, mean or CLS Pooling, Normalize) as
    `model.onnx` with int8 weights, its tokenizer, and how to pool and prefix."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(model, device="cpu", local_files_only=Path(model).is_dir())
    pooling = next((m for m in st if type(m).__name__ == "Pooling"), None)
    mode = getattr(pooling, "pooling_mode", None) or ("mean" if getattr(pooling, "pooling_mode_mean_tokens", 0) else "")
    if type(st[0]).__name__ != "Transformer" or mode not in ("mean", "cls"):
        raise ValueError(f"{model}: only Transformer + mean/CLS pooling models export to ONNX (pooling {mode!r})")
    normalize = any(type(m).__name__ == "Normalize" for m in st)
    network = st[0].auto_model.eval()

    # BERT-like models take token types; MPNet's forward has no such argument
    types = "token_type_ids" in inspect.signature(network.forward).parameters
    inputs = ["input_ids", "attention_mask"] + (["token_type_ids"] if types else [])

    class Hidden(torch.nn.Module):  # keyword arguments: transformers 5 reorders BertModel.forward's
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, *tensors: Any) -> Any:
            return self.network(**dict(zip(inputs, tensors))).last_hidden_state

    sample = st.tokenizer(["query: a sample"], return_tensors="pt")
    ids = sample["input_ids"]
    axes = {0: "batch", 1: "tokens"}
    full = out / "model.float32.onnx"
    torch.onnx.export(
        Hidden(),
        (ids, sample["attention_mask"], torch.zeros_like(ids))[: len(inputs)],
        str(full),
        input_names=inputs,
        output_names=["last_hidden_state"],
        dynamic_axes={name: axes for name in (*inputs, "last_hidden_state")},
        opset_version=17,
        dynamo=False,  # the TorchScript exporter: no onnxscript dependency, dynamic shapes as declared
    )
    # per-channel: per-tensor int8 put cosine to torch at 0.987-0.990, per-channel at >= 0.996
    quantize_dynamic(str(full), str(out / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True)
    full.unlink()
    st.tokenizer.save_pretrained(str(out))
    prompts = {kind: (st.prompts or {}).get(kind, p) for kind, p in defaults.items()}  # as Embedder.prompts
    meta = {
        "pooling": mode,
        "normalize": normalize,
        "max_seq_length": min(max_seq_length, st.max_seq_length or max_seq_length),  # as embedding._load
        "prompts": prompts,
        "dimension": st.get_embedding_dimension(),
    }
    (out / _META).write_text(json.dumps(meta, indent=1) + "\n")


class OnnxEncoder:
    """Texts to vectors with the int8 ONNX export of a sentence-transformers model."""

    def __init__(self, folder: Path, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.meta = json.loads((folder / _META).read_text())
        # one tokenizer, not truncating (chunking counts whole texts); `_encode_one` truncates as the
        # model's tokenizer does. Loading e5's 250k-piece vocabulary takes over a second.
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.specials = self.tokenizer.num_special_tokens_to_add(False)
        options = ort.SessionOptions()
        # one thread per run: as fast for a short query as two (4 ms), and inside the API concurrent
        # requests and the engine keep the other cores (two spinning threads doubled a search's time);
        # many texts run one per core from a thread pool over this one session (ONNX Runtime's `run`
        # is thread-safe), which beat one run on two threads by 1.6x
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
        self.threads = threads or usable_cores()
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.dimension = int(self.meta["dimension"])

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """Each text's token ids, no special tokens, not truncated (as the model's tokenizer gives them)."""
        return [e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def encode(self, texts: list[str], kind: str = "passage") -> np.ndarray:
        """`kind`: "query" or "passage" (the model's prompt for it). One text per run: dynamic int8
        quantises activations with one scale per tensor, so in a batch a text's vector would depend on
        the texts beside it (and its padding)."""
        if not texts:
            return np.zeros((0, 0), np.float32)
        prompt = self.meta["prompts"][kind]
        if len(texts) == 1 or self.threads == 1:
            return np.concatenate([self._encode_one(prompt + text) for text in texts])
        with ThreadPoolExecutor(min(self.threads, len(texts))) as pool:
            return np.concatenate(list(pool.map(lambda text: self._encode_one(prompt + text), texts)))

    def token_states(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(the model's last hidden states, the attention mask) for one text, prompt included, cut
        as the model's tokenizer cuts it: what a vector pools (bench/second_stage.py reads them unpooled)."""
        encoding = self.tokenizer.encode(text, add_special_tokens=False)
        encoding.truncate(self.meta["max_seq_length"] - self.specials)
        encoding = self.tokenizer.post_process(encoding)
        ids = np.array([encoding.ids], dtype=np.int64)
        mask = np.array([encoding.attention_mask], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return self.session.run(None, {name: feeds[name] for name in self.inputs})[0], mask

    def _encode_one(self, text: str) -> np.ndarray:
        hidden, mask = self.token_states(text)
        if self.meta["pooling"] == "cls":
            vectors = hidden[:, 0]
        else:
            vectors = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        if self.meta["normalize"]:
            vectors = vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12)
        return vectors.astype(np.float32)


_lock = threading.Lock()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporter's tracer warnings and the quantiser's advice (logged on the root logger) are
    about a one-off build step a user cannot act on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)


@lru_cache(maxsize=4)  # the passage model and its second models
def onnx_encoder(model: str, max_seq_length: int) -> OnnxEncoder:
    """The encoder for `model`, exported on first use (~20 s) and then loaded from the cache (~1 s)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("_")
    target = model_cache() / f"{slug}-seq{max_seq_length}-onnx-int8-2"  # 2: prompts for passages too
    with _lock:
        path = embedder_model_path(model)
        if ADAPTED.match(model):  # beside its weights, in the home (an image's model cache is read-only)
            target = Path(path) / f"onnx-int8-seq{max_seq_length}"
        with _quiet():
            build_once(target, lambda out: _export(path, max_seq_length, default_prompts(model), out))
        return OnnxEncoder(target)
