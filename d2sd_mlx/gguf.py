"""GGUF (llama family: llama, qwen2, qwen3) → mlx-lm folder, no torch needed.

Recipe (mlx-on-linux.md §3.3): `mx.load` reads Q4_0/Q4_1/Q8_0 as MLX affine-quantized triples
(weight/scales/biases, group 32) and F16/F32/BF16 as floats; names are mapped back to the HF
layout; llama's Q/K rows, which llama.cpp permutes for its interleaved RoPE, are un-permuted so
the folder keeps the HF-canonical rotate-half layout; the tokenizer is rebuilt from the GGUF
metadata with `tokenizers` and saved through `PreTrainedTokenizerFast`.

Before `mx.load` the header is parsed here to give named errors for unsupported tensor types,
duplicate names and truncated files.
"""

from __future__ import annotations

import mmap
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx

from .errors import D2SDError

from . import log
from .target_folder import write_target

# ggml tensor types: id -> (name, elements per block, bytes per block)
GGML_TYPES = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    8: ("Q8_0", 32, 34),
    30: ("BF16", 1, 2),
}
OTHER_TYPE_NAMES = {
    6: "Q5_0", 7: "Q5_1", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K",
    15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S",
    22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M",
}
SUPPORTED_ARCHS = ("llama", "qwen2", "qwen3")

# metadata value types: id -> struct format (None: string / array)
_SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


@dataclass
class TensorInfo:
    name: str
    shape: tuple  # row-major (GGUF lists dims innermost first)
    type_id: int
    offset: int

    @property
    def type_name(self) -> str:
        return GGML_TYPES.get(self.type_id, (OTHER_TYPE_NAMES.get(self.type_id, f"type {self.type_id}"),))[0]


@dataclass
class GGUFHeader:
    version: int
    tensors: list
    data_start: int
    file_size: int


class _Reader:
    def __init__(self, buf, path):
        self.buf, self.pos, self.path = buf, 0, path

    def unpack(self, fmt):
        try:
            v = struct.unpack_from("<" + fmt, self.buf, self.pos)
        except struct.error as e:
            raise D2SDError(f"{self.path}: truncated GGUF header (at byte {self.pos})") from e
        self.pos += struct.calcsize("<" + fmt)
        return v[0]

    def string(self):
        n = self.unpack("Q")
        if self.pos + n > len(self.buf):
            raise D2SDError(f"{self.path}: truncated GGUF header (string at byte {self.pos})")
        s = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return s.decode("utf-8", errors="replace")

    def value(self, vtype, keep=True):
        if vtype in _SCALAR:
            return self.unpack(_SCALAR[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            etype, n = self.unpack("I"), self.unpack("Q")
            if etype in _SCALAR and not keep:
                self.pos += n * struct.calcsize(_SCALAR[etype])
                return None
            return [self.value(etype, keep) for _ in range(n)]
        raise D2SDError(f"{self.path}: corrupt GGUF header (unknown metadata value type {vtype})")


def read_header(path: str | Path) -> GGUFHeader:
    """Parse the GGUF header: tensor names, shapes, types, and check the data fits in the file."""
    path = Path(path)
    size = path.stat().st_size
    if size < 24:
        raise D2SDError(f"{path}: not a GGUF file (only {size} bytes)")
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        r = _Reader(buf, path)
        if bytes(buf[:4]) != b"GGUF":
            raise D2SDError(f"{path}: not a GGUF file (bad magic {bytes(buf[:4])!r})")
        r.pos = 4
        version = r.unpack("I")
        if version not in (2, 3):
            raise D2SDError(f"{path}: unsupported GGUF version {version}")
        n_tensors, n_kv = r.unpack("Q"), r.unpack("Q")
        alignment = 32
        for _ in range(n_kv):
            key = r.string()
            v = r.value(r.unpack("I"), keep=False)
            if key == "general.alignment":
                alignment = int(v)
        tensors, seen = [], set()
        for _ in range(n_tensors):
            name = r.string()
            ndim = r.unpack("I")
            dims = [r.unpack("Q") for _ in range(ndim)]
            t = TensorInfo(name, tuple(reversed(dims)), r.unpack("I"), r.unpack("Q"))
            if name in seen:
                raise D2SDError(f"{path}: duplicate tensor {name}")
            seen.add(name)
            tensors.append(t)
        data_start = (r.pos + alignment - 1) // alignment * alignment
    for t in tensors:
        if t.type_id not in GGML_TYPES:
            raise D2SDError(
                f"{path}: tensor {t.name} has type {t.type_name}; supported: "
                f"{', '.join(v[0] for v in GGML_TYPES.values())} (re-quantize the GGUF, e.g. to Q8_0 or Q4_0)"
            )
        _, block, nbytes = GGML_TYPES[t.type_id]
        n = 1
        for d in t.shape:
            n *= d
        end = data_start + t.offset + (n // block) * nbytes
        if end > size:
            raise D2SDError(
                f"{path}: truncated or corrupt: tensor {t.name} ends at byte {end}, file has {size} bytes"
            )
    return GGUFHeader(version, tensors, data_start, size)


def load(path: str | Path):
    """(weights, metadata) with a checked header first."""
    header = read_header(path)
    try:
        weights, meta = mx.load(str(path), return_metadata=True)
    except Exception as e:
        raise D2SDError(f"{path}: cannot read GGUF ({e})") from e
    for t in header.tensors:
        if t.type_id == 30:
            log.note(f"{path}: BF16 tensors are read as float16 by mx.load (e.g. {t.name})")
            break
    return weights, meta, header


def _meta(meta: dict, key: str, path, default=...):
    if key not in meta:
        if default is ...:
            raise D2SDError(f"{path}: GGUF metadata lacks {key}")
        return default
    v = meta[key]
    if isinstance(v, mx.array):
        if v.ndim == 0 and v.dtype == mx.float32:
            return float(f"{v.item():.7g}")  # 1e-05, not 9.999999747378752e-06
        v = v.item() if v.ndim == 0 else v.tolist()
    return v


def gguf_config(meta: dict, weights: dict, path) -> dict:
    arch = _meta(meta, "general.architecture", path)
    if arch not in SUPPORTED_ARCHS:
        raise D2SDError(
            f"{path}: unknown architecture general.architecture={arch!r}; supported: {', '.join(SUPPORTED_ARCHS)}"
        )

    def m(k, default=...):
        return _meta(meta, f"{arch}.{k}", path, default)

    hidden, heads = int(m("embedding_length")), int(m("attention.head_count"))
    emb = weights.get("token_embd.weight")
    if emb is None:
        raise D2SDError(f"{path}: missing tensor token_embd.weight")
    vocab = m("vocab_size", None)
    if vocab is None:
        tokens = meta.get("tokenizer.ggml.tokens")
        vocab = len(tokens) if isinstance(tokens, list) else emb.shape[0]
    cfg = {
        "model_type": arch,
        "architectures": [{"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}[arch]],
        "hidden_size": hidden,
        "num_hidden_layers": int(m("block_count")),
        "intermediate_size": int(m("feed_forward_length")),
        "num_attention_heads": heads,
        "num_key_value_heads": int(m("attention.head_count_kv", heads)),
        "head_dim": int(m("attention.key_length", hidden // heads)),
        "rms_norm_eps": float(m("attention.layer_norm_rms_epsilon")),
        "vocab_size": int(vocab),
        "rope_theta": float(m("rope.freq_base", 10000.0)),
        "max_position_embeddings": int(m("context_length", 4096)),
        "tie_word_embeddings": "output.weight" not in weights,
        "rope_traditional": False,
    }
    if arch == "llama":
        cfg["attention_bias"] = "blk.0.attn_q.bias" in weights
        cfg["mlp_bias"] = "blk.0.ffn_gate.bias" in weights
    scaling = m("rope.scaling.type", None)
    if scaling == "linear":
        cfg["rope_scaling"] = {"type": "linear", "factor": float(m("rope.scaling.factor"))}
    elif scaling not in (None, "none"):
        raise D2SDError(f"{path}: rope scaling {arch}.rope.scaling.type={scaling!r} is not supported")
    if "rope_freqs.weight" in weights:
        cfg["rope_scaling"] = llama3_scaling(weights["rope_freqs.weight"], cfg, meta, path)
    for key, name in (("bos_token_id", "tokenizer.ggml.bos_token_id"), ("eos_token_id", "tokenizer.ggml.eos_token_id")):
        if name in meta:
            cfg[key] = int(_meta(meta, name, path))
    return cfg


def llama3_factors(head_dim: int, base: float, factor: float, low: float, high: float, orig: int):
    """Per-frequency divisors of Llama-3-style RoPE scaling (what GGUF stores as rope_freqs)."""
    import math

    out = []
    for i in range(0, head_dim, 2):
        wavelen = 2 * math.pi * base ** (i / head_dim)
        if wavelen < orig / high:
            out.append(1.0)
        elif wavelen > orig / low:
            out.append(factor)
        else:
            smooth = (orig / wavelen - low) / (high - low)
            out.append(1.0 / ((1 - smooth) / factor + smooth))
    return out


def llama3_scaling(freqs: mx.array, cfg: dict, meta: dict, path) -> dict:
    """Recover the Llama-3 rope_scaling dict from GGUF's rope_freqs tensor (low 1 / high 4 factors)."""
    import numpy as np

    got = np.array(freqs.astype(mx.float32)).reshape(-1)
    factor = float(got.max())
    origs = [int(_meta(meta, f"{cfg['model_type']}.rope.scaling.original_context_length", path, 8192)), 8192]
    for orig in dict.fromkeys(origs):
        want = llama3_factors(cfg["head_dim"], cfg["rope_theta"], factor, 1.0, 4.0, orig)
        if len(want) == got.size and np.allclose(got, want, rtol=1e-3, atol=1e-4):
            return {"rope_type": "llama3", "factor": round(factor, 6), "low_freq_factor": 1.0,
                    "high_freq_factor": 4.0, "original_max_position_embeddings": orig}
    raise D2SDError(f"{path}: tensor rope_freqs.weight does not match Llama-3 RoPE scaling; not supported")


_LAYER_MAP = {
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "attn_q_norm": "self_attn.q_norm",
    "attn_k_norm": "self_attn.k_norm",
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
_TOP_MAP = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}
_BLK = re.compile(r"^blk\.(\d+)\.([a-z_]+)\.(weight|bias|scales|biases)$")
_TOP = re.compile(r"^([a-z_]+)\.(weight|bias|scales|biases)$")


def permute_rows(w, n_head: int):
    """llama.cpp's Q/K row permutation (HF rotate-half halves → interleaved pairs); numpy or mx."""
    rows = w.shape[0]
    return w.reshape(n_head, 2, rows // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute_rows(w, n_head: int):
    """Inverse of `permute_rows`: back to the HF-canonical layout.

    Rows are output features; quantization groups run along columns, so this works unchanged
    on packed weights, scales and biases.
    """
    rows = w.shape[0]
    return w.reshape(n_head, rows // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def map_names(weights: dict, cfg: dict, path) -> dict:
    out = {}
    for name, arr in weights.items():
        if name == "rope_freqs.weight":  # folded into config["rope_scaling"]
            continue
        if mb := _BLK.match(name):
            i, part, suffix = mb.groups()
            if part not in _LAYER_MAP:
                raise D2SDError(f"{path}: unexpected tensor {name} for a {cfg['model_type']} model")
            new = f"model.layers.{i}.{_LAYER_MAP[part]}.{suffix}"
            if cfg["model_type"] == "llama" and part in ("attn_q", "attn_k"):
                n = cfg["num_attention_heads"] if part == "attn_q" else cfg["num_key_value_heads"]
                if arr.shape[0] % (2 * n):
                    raise D2SDError(f"{path}: tensor {name} has {arr.shape[0]} rows, not a multiple of 2×{n} heads")
                arr = unpermute_rows(arr, n)
        elif (mt := _TOP.match(name)) and mt.group(1) in _TOP_MAP:
            new = f"{_TOP_MAP[mt.group(1)]}.{mt.group(2)}"
        else:
            raise D2SDError(f"{path}: unexpected tensor {name} for a {cfg['model_type']} model")
        out[new] = arr
    return out


def quantization_entry(weights: dict) -> dict | None:
    """The most common (bits, group) among quantized tensors, for config["quantization"]."""
    counts = {}
    for name, s in weights.items():
        if name.endswith(".scales"):
            w = weights[name[: -len("scales")] + "weight"]
            in_dims = s.shape[-1] * 32  # GGUF quant blocks are 32 wide
            bits = w.shape[-1] * 32 // in_dims
            counts[(bits, 32)] = counts.get((bits, 32), 0) + 1
    if not counts:
        return None
    bits, group = max(counts, key=counts.get)
    return {"group_size": group, "bits": bits}


def convert_gguf(
    path: str | Path,
    out_dir: Path,
    *,
    dtype: str | None = None,
    dequantize: bool = False,
    quantize: bool = False,
    q_bits: int | None = None,
    q_group_size: int | None = None,
    q_mode: str = "affine",
) -> dict:
    """Convert a GGUF file into out_dir (which the caller owns, e.g. an `atomic_dir`)."""
    path = Path(path)
    log.info(f"Reading {path}")
    weights, meta, header = load(path)
    cfg = gguf_config(meta, weights, path)
    tok_writer = tokenizer_writer(meta, path)  # fail early on an unsupported tokenizer
    renamed = map_names(weights, cfg, path)
    origin = {k: str(path) for k in renamed}
    q = quantization_entry(renamed)
    if q is not None:
        cfg["quantization"] = q
    return write_target(
        renamed, cfg, out_dir, source=str(path), origin=origin, dtype=dtype, quantize=quantize,
        q_bits=q_bits, q_group_size=q_group_size, q_mode=q_mode, dequantize=dequantize,
        write_tokenizer=tok_writer,
    )


def tokenizer_writer(meta: dict, path):
    """A function out_dir -> None that saves the tokenizer rebuilt from the GGUF metadata."""
    from .gguf_tokenizer import build_tokenizer, save_tokenizer

    built = build_tokenizer(meta, path)
    return lambda out_dir: save_tokenizer(built, out_dir)
