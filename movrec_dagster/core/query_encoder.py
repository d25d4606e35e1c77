"""Search queries through ONNX Runtime with int8 weights: most of a search's time was encoding its query.

Measured on 2 cores, multilingual-e5-small, one short query at a time: torch 21.7 ms p50, ONNX
Runtime float32 8.0 ms, ONNX Runtime int8 (dynamic, per-channel) 4.4 ms at cosine >= 0.996 to the
torch vector (per-tensor int8: 3.4 ms but cosine 0.987-0.990). `bench/search_latency.py` measures
it inside `GET /search` with the recall of both (BENCHMARKS.md). Queries only: stored passages stay
on torch, because in batches ONNX float32 was *slower* (34 vs 43 texts/s) and int8 passages would
change every stored vector (a new model fingerprint, everything re-embedded), while a query vector
off by 0.4 % moves no ranking measurably.

sentence-transformers' own `backend="onnx"` needs optimum-onnx, which pins transformers < 4.58 (movrec
runs 5.x), so the model is exported here with `torch.onnx` and quantised with
`onnxruntime.quantization`, once per machine into the model cache, next to the model it came from.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import warnings
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .models import build_once, embedder_model_path, model_cache

BACKENDS = ("onnx-int8", "torch")
_META = "movrec_query_encoder.json"


def _export(model: str, max_seq_length: int, default_prompt: str, out: Path) -> None:
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

    class Hidden(torch.nn.Module):  # keyword arguments: transformers 5 reorders BertModel.forward's
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.network(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = st.tokenizer(["query: a sample"], return_tensors="pt")
    ids = sample["input_ids"]
    axes = {0: "batch", 1: "tokens"}
    full = out / "model.float32.onnx"
    torch.onnx.export(
        Hidden(),
        (ids, sample["attention_mask"], torch.zeros_like(ids)),
        str(full),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes={name: axes for name in ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")},
        opset_version=17,
        dynamo=False,  # the TorchScript exporter: no onnxscript dependency, dynamic shapes as declared
    )
    # per-channel: per-tensor int8 put cosine to torch at 0.987-0.990, per-channel at >= 0.996
    quantize_dynamic(str(full), str(out / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True)
    full.unlink()
    st.tokenizer.save_pretrained(str(out))
    prompt = (st.prompts or {}).get("query", default_prompt)  # as Embedder.prompts reads it
    meta = {"pooling": mode, "normalize": normalize, "max_seq_length": max_seq_length, "prompt": prompt}
    (out / _META).write_text(json.dumps(meta, indent=1) + "\n")


class QueryEncoder:
    """Queries to vectors with the int8 ONNX export of a sentence-transformers model."""

    def __init__(self, folder: Path, threads: int = 1) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.meta = json.loads((folder / _META).read_text())
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.meta["max_seq_length"])
        options = ort.SessionOptions()
        # one thread: as fast for a short query as two (4 ms), and the API's concurrent requests and the
        # engine's own threads keep the other cores; two spinning threads doubled it inside the server
        options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str]) -> np.ndarray:
        # one query per run: dynamic int8 quantises activations with one scale per tensor, so in a
        # batch a query's vector would depend on the queries beside it (and its padding)
        return np.concatenate([self._encode_one(text) for text in texts]) if texts else np.zeros((0, 0), np.float32)

    def _encode_one(self, text: str) -> np.ndarray:
        batch = [self.tokenizer.encode(self.meta["prompt"] + text)]
        ids = np.array([b.ids for b in batch], dtype=np.int64)
        mask = np.array([b.attention_mask for b in batch], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(None, feeds)[0]
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


@lru_cache(maxsize=2)
def query_encoder(model: str, max_seq_length: int, default_prompt: str) -> QueryEncoder:
    """The encoder for `model`, exported on first use (~20 s) and then loaded from the cache (~1 s)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("_")
    target = model_cache() / f"{slug}-seq{max_seq_length}-onnx-int8"
    with _lock:
        path = embedder_model_path(model)
        with _quiet():
            build_once(target, lambda out: _export(path, max_seq_length, default_prompt, out))
        return QueryEncoder(target)
