"""Sentence embeddings: token-aware chunking of transcripts and L2-normalised vectors."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from .lexical import written_in
from .models import (
    DEFAULT_MAX_SEQ_LENGTH,
    E5_PROMPTS,
    MODEL_LANGUAGES,
    MODEL_SKIPS,
    USE_MULTILINGUAL,
    base_model,
    default_prompts,
    embedder_model_path,
    first_model_setting,
    second_models_setting,
)
from .onnx_encoder import BACKENDS, OnnxEncoder, onnx_encoder
from .speech import Segment
from .use_encoder import UseEncoder

QUERY_CACHE = 4096  # query vectors an embedder remembers (1.5 MB at 384 dimensions)


def _env_backend() -> str:
    # MOVREC_QUERY_BACKEND: the name of this setting when it applied to queries only (one release)
    return os.environ.get("MOVREC_EMBED_BACKEND") or os.environ.get("MOVREC_QUERY_BACKEND") or "onnx-int8"


def _fingerprint(model: str, max_seq_length: int) -> str:
    return f"st:{model}:seq{max_seq_length}"


def _model_of(fingerprint: str) -> tuple[str, int]:
    _, rest = fingerprint.split(":", 1)
    model, seq = rest.rsplit(":seq", 1)
    return model, int(seq)


@dataclass(frozen=True)
class EmbedderSettings:
    model: str = field(default_factory=first_model_setting)
    device: str = "auto"  # "auto": CUDA (float16) when torch sees a GPU, else CPU; or "cpu", "cuda"
    batch_size: int = 32
    max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH
    # how texts are encoded on CPU: "onnx-int8" (onnx_encoder.py: 2.6x torch for passages, 5x for
    # queries, cosine to torch >= 0.99) or "torch"; like float16 on a GPU, no part of the fingerprint
    backend: str = field(default_factory=_env_backend)
    # second models, comma-separated, whose vectors are more lists in the hybrid fusion
    # (`vectorstore.types.second_names`): the English all-MiniLM-L6-v2 finds described movies the
    # multilingual e5 misses, USE multilingual what queries in other languages describe (EVALUATION.md,
    # bench/search_quality.py); None: e5 alone. They read the texts cut to the first model's limit.
    second_model: str | None = field(default_factory=second_models_setting)

    @property
    def second_models(self) -> tuple[str, ...]:
        return tuple(m.strip() for m in (self.second_model or "").split(",") if m.strip())

    @property
    def fingerprint(self) -> str:
        """The (first) model's identity: what a collection's `model` and every text hash record."""
        return _fingerprint(self.model, self.max_seq_length)

    @property
    def second_fingerprint(self) -> str | None:
        """The second models' identities, in order, joined by "+"; what a collection's `second` records."""
        models = self.second_models
        return "+".join(_fingerprint(m, self.max_seq_length) for m in models) if models else None

    @property
    def vectors_version(self) -> str:
        """Every model's identity: what changes every stored vector of a movie when it changes."""
        return f"{self.fingerprint}+{self.second_fingerprint}" if self.second_models else self.fingerprint

    @classmethod
    def from_fingerprint(cls, fingerprint: str, second: str | None = None) -> EmbedderSettings:
        """The settings a collection was built with (recorded as its `model` and `second`), so queries
        use the same models."""
        model, seq = _model_of(fingerprint)
        seconds = ",".join(_model_of(part)[0] for part in second.split("+")) if second else None
        return cls(model=model, max_seq_length=seq, second_model=seconds)

    def only_first(self) -> EmbedderSettings:
        return replace(self, second_model=None)


@dataclass(frozen=True)
class Chunk:
    text: str
    start: float | None
    end: float | None
    lines: tuple[tuple[float, str], ...] = ()  # (start, text) of each segment or piece it joins


_load_lock = threading.Lock()
log = logging.getLogger(__name__)


def resolve_device(device: str) -> str:
    """ "auto" is "cuda" where torch sees a GPU, else "cpu". A machine without an NVIDIA driver is "cpu"
    without importing torch (seconds), so a CPU process encoding through ONNX never loads it."""
    if device != "auto":
        return device
    nvidia = Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidia0").exists()
    if sys.platform.startswith("linux") and not nvidia:
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@lru_cache(maxsize=2)
def _load(model: str, device: str, max_seq_length: int) -> object:
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    path = embedder_model_path(model)
    device = resolve_device(device)
    # a local folder never touches a hub; a hub id (for users who have one) may
    st = SentenceTransformer(path, device=device, local_files_only=Path(path).is_dir())
    if device.startswith("cuda"):
        st.half()  # float16 on the GPU: twice the throughput, cosine to float32 above 0.999
    st.max_seq_length = min(max_seq_length, st.max_seq_length or max_seq_length)
    return st


class Embedder:
    """A loaded sentence-transformers model with movrec's chunking and prompt conventions."""

    def __init__(self, settings: EmbedderSettings) -> None:
        if settings.backend not in BACKENDS:
            raise ValueError(f"backend {settings.backend!r}: expected one of {', '.join(BACKENDS)}")
        self.settings = settings
        self._model: object | None = None
        self._onnx: OnnxEncoder | None = None
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._second: SecondModels | None = None
        self._use = UseEncoder() if settings.model == USE_MULTILINGUAL else None

    @property
    def second(self) -> SecondModels | None:
        """The second models (`EmbedderSettings.second_models`), with the same device and backend."""
        if self._second is None and self.settings.second_models:
            models = self.settings.second_models
            self._second = SecondModels([Embedder(replace(self.settings, model=m, second_model=None)) for m in models])
        return self._second

    @property
    def model(self) -> object:
        """Loaded on first use, so a run with nothing to embed never pays for the model."""
        if self._model is None:
            with _load_lock:
                self._model = _load(self.settings.model, self.settings.device, self.settings.max_seq_length)
        return self._model

    # What chunking needs (prompts, the dimension, the token limit, the tokenizer) comes from the ONNX
    # export where texts are encoded through it, so such a process never imports torch (6-7 s and
    # ~0.5 GB); the export holds the same tokenizer.json and prompts, and a test checks the pieces agree.
    @property
    def prompts(self) -> dict[str, str]:
        if self._use is not None:
            return default_prompts(self.settings.model)
        if (onnx := self.onnx_encoder()) is not None:
            return dict(onnx.meta["prompts"])
        stored = getattr(self.model, "prompts", {}) or {}
        default = default_prompts(self.settings.model)
        return {k: stored.get(k, default[k]) for k in E5_PROMPTS}

    @property
    def dimension(self) -> int:
        if self._use is not None:
            return self._use.dimension
        if (onnx := self.onnx_encoder()) is not None:
            return onnx.dimension
        return int(self.model.get_embedding_dimension())

    def asked(self, text: str) -> bool:
        """Whether search asks this model about query `text`: it is in a language the model reads
        (`models.MODEL_LANGUAGES`; a model not listed there is taken as multilingual) and not one its
        list is left out of (`models.MODEL_SKIPS`)."""
        languages = MODEL_LANGUAGES.get(base_model(self.settings.model))
        skipped = MODEL_SKIPS.get(base_model(self.settings.model))
        return (languages is None or written_in(text, languages)) and not (skipped and written_in(text, skipped))

    def layout(self) -> tuple[int, tuple[str, tuple[int, ...]] | None]:
        """The vectors a collection of this embedder's holds: (dimension, (second models, their dimensions))."""
        second = self.second
        fingerprint = self.settings.second_fingerprint
        return self.dimension, ((fingerprint, second.dimensions) if second and fingerprint else None)

    @property
    def token_budget(self) -> int:
        """Content tokens per chunk: the model limit less special tokens and the passage prompt."""
        onnx = self.onnx_encoder()
        limit = onnx.meta["max_seq_length"] if onnx is not None else self.model.max_seq_length
        return int(limit) - 2 - self.count_tokens(self.prompts["passage"])

    def count_tokens(self, text: str) -> int:
        return len(self._token_ids([text])[0])

    def _token_ids(self, texts: list[str]) -> list[list[int]]:
        """Each text's token ids without special tokens or truncation, in one batched call."""
        if (onnx := self.onnx_encoder()) is not None:
            return onnx.token_ids(texts)
        # verbose=False: the "longer than the maximum sequence length ... indexing errors" warning is
        # about feeding such a text to the model, which the pieces `split_texts` makes never do
        return self.model.tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]

    def _decode(self, ids: list[int]) -> str:
        if (onnx := self.onnx_encoder()) is not None:
            return onnx.decode(ids)
        return self.model.tokenizer.decode(ids, skip_special_tokens=True)

    def onnx_encoder(self) -> OnnxEncoder | None:
        """The int8 ONNX encoder, where the settings ask for it and texts are encoded on CPU."""
        if self._onnx is None and self.settings.backend == "onnx-int8" and self._use is None:
            if resolve_device(self.settings.device) != "cpu":
                return None  # a GPU runs torch in float16 at thousands of texts a second
            try:
                self._onnx = onnx_encoder(self.settings.model, self.settings.max_seq_length)
            except Exception as exc:  # an architecture the export does not know: torch still works
                log.warning("encoding stays on torch: %s could not be exported to ONNX (%s)", self.settings.model, exc)
                self.settings = replace(self.settings, backend="torch")
        return self._onnx

    def encode(self, texts: list[str], kind: str = "passage") -> np.ndarray:
        """L2-normalised vectors of `texts` read as `kind` ("passage" or "query"). Query vectors are
        remembered (`QUERY_CACHE` of them, least recently used out): the same words searched again,
        with other filters, the next page or by another person, skip the encoder, most of a search's
        time. Passages are remembered by the stages, by text hash."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        if kind != "query":
            return self._encode(texts, kind)
        with self._lock:
            known = {text: self._queries[text] for text in texts if text in self._queries}
            for text in known:
                self._queries.move_to_end(text)
        missing = list(dict.fromkeys(text for text in texts if text not in known))
        if missing:
            fresh = dict(zip(missing, self._encode(missing, kind)))
            known |= fresh
            with self._lock:
                self._queries.update(fresh)
                while len(self._queries) > QUERY_CACHE:
                    self._queries.popitem(last=False)
        return np.stack([known[text] for text in texts])

    def _encode(self, texts: list[str], kind: str) -> np.ndarray:
        if self._use is not None:
            return self._use.encode(texts, kind)
        if (encoder := self.onnx_encoder()) is not None:
            return encoder.encode(texts, kind)
        vectors = self.model.encode(
            texts,
            prompt=self.prompts[kind],
            batch_size=self.settings.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.astype(np.float32)

    def chunk_segments(self, segments: list[Segment]) -> list[Chunk]:
        """Group consecutive segments into chunks that fit the model; split any segment that alone is too long."""
        budget = self.token_budget
        chunks: list[Chunk] = []
        lines: list[tuple[float, str]] = []
        start = end = None
        used = 0
        split = self.split_texts([seg.text for seg in segments], budget, with_counts=True)
        for seg, pieces in zip(segments, split):
            for piece, tokens in pieces:
                if lines and used + tokens > budget:
                    chunks.append(Chunk(" ".join(text for _, text in lines), start, end, tuple(lines)))
                    lines, used, start = [], 0, None
                start = seg.start if start is None else start
                end = seg.end
                lines.append((seg.start, piece))
                used += tokens
        if lines:
            chunks.append(Chunk(" ".join(text for _, text in lines), start, end, tuple(lines)))
        return chunks

    def split_texts(self, texts: list[str], budget: int | None = None, with_counts: bool = False) -> list[list]:
        """Each text cut at token boundaries into pieces of at most `budget` tokens (no silent truncation).

        All texts go through the tokenizer in one batched call: per-text calls cost more than the
        encoding itself on a GPU (see BENCHMARKS.md). With `with_counts`, pieces are (text, tokens).
        """
        if not texts:
            return []
        budget = budget or self.token_budget
        out: list[list] = []
        for text, ids in zip(texts, self._token_ids(texts)):
            if len(ids) <= budget:
                out.append([(text, len(ids))] if with_counts else [text])
                continue
            pieces = []
            for i in range(0, len(ids), budget):
                piece = self._decode(ids[i : i + budget]).strip()
                pieces.append((piece, len(ids[i : i + budget])) if with_counts else piece)
            out.append(pieces)
        return out

    def split_text(self, text: str, budget: int | None = None) -> list[str]:
        """`text` cut at token boundaries into pieces of at most `budget` tokens (no silent truncation)."""
        return self.split_texts([text], budget)[0]


class SecondModels:
    """The second models (`EmbedderSettings.second_models`) as one passage encoder: each text's
    vectors by every model, end to end, in order. That is what the embeddings table stores
    (`vector2`, one hash per text for all of them) and the store splits into one named vector per
    model (`vectorstore.types.split_seconds`); a search asks each model on its own (`Embedder.asked`)."""

    def __init__(self, models: list[Embedder]) -> None:
        self.models = models

    @property
    def dimensions(self) -> tuple[int, ...]:
        return tuple(m.dimension for m in self.models)

    @property
    def dimension(self) -> int:
        return sum(self.dimensions)

    def encode(self, texts: list[str], kind: str = "passage") -> np.ndarray:
        return np.concatenate([m.encode(texts, kind) for m in self.models], axis=1)
