"""The block-diffusion drafter (DFlash architecture); one class serves the DFlash and the VP drafter.

Qwen3-style layers; the target's tap features are fused by `fc` + `hidden_norm` and injected as
extra keys/values in every layer; queries come only from the block, which attends to the whole
committed context and bidirectionally within itself. No embedding or LM head of its own: the
caller embeds with the target's table and projects with the target's head.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
import numpy as np
from mlx_lm.models.cache import KVCache
from mlx_lm.models.rope_utils import initialize_rope

from metal_kernels import tree_attention

from .cpu_layout import checkpoint_weights
from .errors import D2SDError
from .rope import rope_at

ROLE_DFLASH = "dflash"
ROLE_VP = "vp_drafter"

_REQUIRED = (
    "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
    "intermediate_size", "vocab_size", "block_size",
)


def default_target_layer_ids(num_target_layers: int, num_draft_layers: int) -> list[int]:
    """DFlash's default taps: n ids spread evenly over layers 1 .. L-3 (dflash.md §1.2)."""
    if num_draft_layers == 1:
        return [num_target_layers // 2]
    span = num_target_layers - 4
    return [round(1 + i * span / (num_draft_layers - 1)) for i in range(num_draft_layers)]


@dataclass
class DrafterConfig:
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    intermediate_size: int
    vocab_size: int
    block_size: int
    target_layer_ids: list[int]
    mask_token_id: int
    num_target_layers: int
    head_dim: int | None = None
    rms_norm_eps: float = 1e-6
    rope_theta: float = 1_000_000.0
    rope_scaling: dict | None = None
    max_position_embeddings: int = 40960
    role: str = ROLE_DFLASH
    draft_vocab_size: int = 0  # > 0: the drafter predicts over these many token ids only (tensor draft_vocab)
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.head_dim is None:
            self.head_dim = self.hidden_size // self.num_attention_heads

    @classmethod
    def from_dict(cls, d: dict, source: str = "config.json") -> "DrafterConfig":
        missing = [k for k in _REQUIRED if k not in d]
        dflash = d.get("dflash_config") or {}
        if "mask_token_id" not in dflash and "mask_token_id" not in d:
            missing.append("dflash_config.mask_token_id")
        if missing:
            raise D2SDError(f"{source}: drafter config is missing field(s): {', '.join(missing)}")
        n_layers = d["num_hidden_layers"]
        n_target = d.get("num_target_layers")
        taps = dflash.get("target_layer_ids") or d.get("target_layer_ids")
        if taps is None:
            if n_target is None:
                raise D2SDError(f"{source}: needs dflash_config.target_layer_ids or num_target_layers")
            taps = default_target_layer_ids(n_target, n_layers)
        rope_theta = d.get("rope_theta")
        if rope_theta is None:
            rope_theta = (d.get("rope_parameters") or {}).get("rope_theta", 1_000_000.0)
        known = set(cls.__dataclass_fields__) | {"dflash_config", "rope_parameters", "training_mode"}
        n_draft = d.get("draft_vocab_size") or 0
        if not isinstance(n_draft, int) or isinstance(n_draft, bool) or not 0 <= n_draft <= d["vocab_size"]:
            raise D2SDError(f"{source}: draft_vocab_size={n_draft!r} must be an integer in 0..vocab_size ({d['vocab_size']})")
        return cls(
            hidden_size=d["hidden_size"],
            num_hidden_layers=n_layers,
            num_attention_heads=d["num_attention_heads"],
            num_key_value_heads=d["num_key_value_heads"],
            intermediate_size=d["intermediate_size"],
            vocab_size=d["vocab_size"],
            block_size=d["block_size"],
            target_layer_ids=[int(t) for t in taps],
            mask_token_id=int(dflash.get("mask_token_id", d.get("mask_token_id"))),
            num_target_layers=int(n_target if n_target is not None else max(taps) + 1),
            head_dim=d.get("head_dim"),
            rms_norm_eps=d.get("rms_norm_eps", 1e-6),
            rope_theta=float(rope_theta),
            rope_scaling=d.get("rope_scaling"),
            max_position_embeddings=d.get("max_position_embeddings", 40960),
            role=ROLE_VP if d.get("training_mode") == ROLE_VP else ROLE_DFLASH,
            draft_vocab_size=n_draft,
            extra={k: v for k, v in d.items() if k not in known},
        )

    def to_dict(self) -> dict:
        """The z-lab config.json layout (plus `training_mode` for VP drafters, as in SpecForge)."""
        d = dict(self.extra)
        d.update(
            architectures=["DFlashDraftModel"],
            model_type="qwen3",
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            num_key_value_heads=self.num_key_value_heads,
            head_dim=self.head_dim,
            intermediate_size=self.intermediate_size,
            vocab_size=self.vocab_size,
            rms_norm_eps=self.rms_norm_eps,
            rope_theta=self.rope_theta,
            rope_scaling=self.rope_scaling,
            max_position_embeddings=self.max_position_embeddings,
            block_size=self.block_size,
            num_target_layers=self.num_target_layers,
            dflash_config={"mask_token_id": self.mask_token_id, "target_layer_ids": list(self.target_layer_ids)},
            training_mode=self.role,
        )
        if self.draft_vocab_size:
            d["draft_vocab_size"] = self.draft_vocab_size
        return d


class DrafterAttention(nn.Module):
    def __init__(self, cfg: DrafterConfig):
        super().__init__()
        h, hd = cfg.hidden_size, cfg.head_dim
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.num_attention_heads, cfg.num_key_value_heads, hd
        self.scale = hd**-0.5
        self.q_proj = nn.Linear(h, self.n_heads * hd, bias=False)
        self.k_proj = nn.Linear(h, self.n_kv_heads * hd, bias=False)
        self.v_proj = nn.Linear(h, self.n_kv_heads * hd, bias=False)
        self.o_proj = nn.Linear(self.n_heads * hd, h, bias=False)
        self.q_norm = nn.RMSNorm(hd, eps=cfg.rms_norm_eps)
        self.k_norm = nn.RMSNorm(hd, eps=cfg.rms_norm_eps)
        self.rope = initialize_rope(hd, cfg.rope_theta, False, cfg.rope_scaling, cfg.max_position_embeddings)

    def kv(self, x: mx.array, positions: mx.array):
        """Keys (k_norm + RoPE) and values of x [B, T, H] → [B, Hkv, T, D] each."""
        B, T, _ = x.shape
        k = self.k_norm(self.k_proj(x).reshape(B, T, self.n_kv_heads, -1)).transpose(0, 2, 1, 3)
        v = self.v_proj(x).reshape(B, T, self.n_kv_heads, -1).transpose(0, 2, 1, 3)
        return rope_at(self.rope, k, positions), v

    def q(self, x: mx.array, positions: mx.array) -> mx.array:
        B, T, _ = x.shape
        q = self.q_norm(self.q_proj(x).reshape(B, T, self.n_heads, -1)).transpose(0, 2, 1, 3)
        return rope_at(self.rope, q, positions)

    def out(self, o: mx.array) -> mx.array:
        B, _, T, _ = o.shape
        return self.o_proj(o.transpose(0, 2, 1, 3).reshape(B, T, -1))


class DrafterMLP(nn.Module):
    def __init__(self, cfg: DrafterConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def __call__(self, x):
        return self.down_proj(nn.silu(self.gate_proj(x)) * self.up_proj(x))


class DrafterLayer(nn.Module):
    def __init__(self, cfg: DrafterConfig):
        super().__init__()
        self.self_attn = DrafterAttention(cfg)
        self.mlp = DrafterMLP(cfg)
        self.input_layernorm = nn.RMSNorm(cfg.hidden_size, eps=cfg.rms_norm_eps)
        self.post_attention_layernorm = nn.RMSNorm(cfg.hidden_size, eps=cfg.rms_norm_eps)

    def __call__(self, x, attend):
        """attend(attn_module, normed_x) -> attention output [B, T, H] before o_proj's residual."""
        h = x + attend(self.self_attn, self.input_layernorm(x))
        return h + self.mlp(self.post_attention_layernorm(h))


class ContextCache:
    """Context K/V of one drafter layer: committed context only (block K/V are never kept)."""

    def __init__(self):
        self.kv = KVCache()

    @property
    def offset(self) -> int:
        return self.kv.offset

    def append(self, k, v):
        self.kv.update_and_fetch(k, v)

    def fetch(self):
        if self.kv.keys is None:
            return None, None
        return self.kv.keys_and_values()


class _HeadRows:
    """The target head's rows for a draft vocabulary, computed once per target and dtype (not a parameter)."""

    def __init__(self):
        self.key, self.rows_t = None, None
        self.ids_key, self.ids = None, None


class DFlashDrafter(nn.Module):
    def __init__(self, cfg: DrafterConfig):
        super().__init__()
        self.config = cfg
        self.fc = nn.Linear(len(cfg.target_layer_ids) * cfg.hidden_size, cfg.hidden_size, bias=False)
        self.hidden_norm = nn.RMSNorm(cfg.hidden_size, eps=cfg.rms_norm_eps)
        self.layers = [DrafterLayer(cfg) for _ in range(cfg.num_hidden_layers)]
        self.norm = nn.RMSNorm(cfg.hidden_size, eps=cfg.rms_norm_eps)
        if cfg.draft_vocab_size:
            # The draft vocabulary (EAGLE-3's idea): sorted target token ids the drafter predicts
            # over, the same in training and decoding. Stored with the weights, never trained.
            self.draft_vocab = mx.arange(cfg.draft_vocab_size, dtype=mx.int32)
            self.freeze(keys=["draft_vocab"], recurse=False)
        self._head = _HeadRows()

    def set_draft_vocab(self, ids) -> None:
        """Give a new drafter a draft vocabulary (sorted unique target ids); updates the config."""
        ids = mx.array(ids, dtype=mx.int32)
        self.config.draft_vocab_size = int(ids.shape[0])
        self.draft_vocab = ids
        self.freeze(keys=["draft_vocab"], recurse=False)
        self._head = _HeadRows()

    def draft_logits(self, target, h: mx.array) -> mx.array:
        """Final-normed hidden [..., H] → logits over the drafter's own vocabulary [..., Vd]: the draft
        vocabulary's rows of the target head only (Vd = draft_vocab_size), or the whole head without one.
        Column c is target token `target_ids(c)`; the columns keep the target's order (the ids are sorted)."""
        if not self.config.draft_vocab_size:
            return target.head(h)
        key = (id(target), h.dtype, id(self.draft_vocab))
        if self._head.key != key:  # gather (and dequantize, cast) the rows once per target and dtype,
            # stored transposed [H, Vd] so the product is a plain GEMM (see cpu_layout.py)
            self._head.key = key
            self._head.rows_t = mx.contiguous(target.head_rows(self.draft_vocab).astype(h.dtype).T)
            mx.eval(self._head.rows_t)
        return h @ self._head.rows_t

    def target_ids(self, idx: np.ndarray) -> np.ndarray:
        """Columns of `draft_logits` → target token ids (the identity without a draft vocabulary)."""
        if not self.config.draft_vocab_size:
            return idx
        if self._head.ids_key != id(self.draft_vocab):
            self._head.ids_key, self._head.ids = id(self.draft_vocab), np.array(self.draft_vocab)
        return self._head.ids[idx]

    def logits(self, target, h: mx.array) -> mx.array:
        """Final-normed hidden [..., H] → logits over the target's vocabulary [..., V].

        With a draft vocabulary only its rows of the target head are computed; every other
        token gets -inf, so argmax, softmax and rankings never pick one. (Decoding ranks
        `draft_logits` directly, which is cheaper: no V-wide row per position.)
        """
        small = self.draft_logits(target, h)
        if not self.config.draft_vocab_size:
            return small
        lead = small.shape[:-1]
        small = small.reshape(-1, small.shape[-1])
        full = mx.full((small.shape[0], target.vocab_rows), -mx.inf, dtype=small.dtype)
        idx = mx.broadcast_to(self.draft_vocab[None], small.shape)
        return mx.put_along_axis(full, idx, small, axis=-1).reshape(*lead, target.vocab_rows)

    def make_cache(self) -> list[ContextCache]:
        return [ContextCache() for _ in self.layers]

    def fuse(self, feats: mx.array) -> mx.array:
        """Target tap features [B, S, n_taps*H_target] → fused context [B, S, H]."""
        return self.hidden_norm(self.fc(feats))

    def __call__(self, block: mx.array, positions: mx.array, ctx_feats: mx.array | None,
                 cache: list[ContextCache], visible: mx.array) -> mx.array:
        """Draft pass at inference. Returns final-normed hidden states [1, N, H].

        block: embedded block tokens [1, N, H] (one or several rows flattened);
        positions: int32 [N]; ctx_feats: new committed tap features [1, S, F] (appended to the
        cache at positions cache.offset ..) or None; visible: packed uint32 [N, W] mask over
        the N block tokens (all-visible for one row, block-diagonal for several rows), made by
        `metal_kernels.pack_mask` (which checks it; the attention does not re-read it per layer).
        """
        ctx = self.fuse(ctx_feats) if ctx_feats is not None and ctx_feats.shape[1] > 0 else None
        if ctx is not None:
            ctx_pos = mx.arange(cache[0].offset, cache[0].offset + ctx.shape[1])

        h = block
        for layer, c in zip(self.layers, cache):
            if ctx is not None:
                c.append(*layer.self_attn.kv(ctx, ctx_pos))
            k_ctx, v_ctx = c.fetch()

            def attend(attn, x, k_ctx=k_ctx, v_ctx=v_ctx):
                k, v = attn.kv(x, positions)
                # `visible` comes from pack_mask (checked there once), not re-read on the host per layer
                o = tree_attention(attn.q(x, positions), k_ctx, v_ctx, k, v, visible, attn.scale, check=False)
                return attn.out(o)

            h = layer(h, attend)
        return self.norm(h)

    def draft(self, target, tokens: mx.array, positions: mx.array, ctx_feats, cache, visible, select) -> mx.array:
        """Embed `tokens` [1, N] with the target, run the pass, return `draft_logits` at `select`
        (columns map to target ids through `target_ids`)."""
        h = self(target.embed(tokens), positions, ctx_feats, cache, visible)
        return self.draft_logits(target, h[0, select])

    def forward_train(self, block: mx.array, positions: mx.array, ctx_feats: mx.array,
                      ctx_positions: mx.array, mask: mx.array) -> mx.array:
        """Training pass over many blocks at once with a dense mask.

        block [B, N, H] (all blocks of a sequence flattened), positions [B, N];
        ctx_feats [B, S, F] at ctx_positions [B, S]; mask bool [B, 1, N, S + N]
        (keys = context then blocks; True = visible). Returns normed hidden [B, N, H].
        """
        ctx = self.fuse(ctx_feats)

        def attend(attn, x):
            k_c, v_c = attn.kv(ctx, ctx_positions)
            k_b, v_b = attn.kv(x, positions)
            k = mx.concatenate([k_c, k_b], axis=2)
            v = mx.concatenate([v_c, v_b], axis=2)
            o = mx.fast.scaled_dot_product_attention(attn.q(x, positions), k, v, scale=attn.scale, mask=mask)
            return attn.out(o)

        h = block
        for layer in self.layers:
            h = layer(h, attend)
        return self.norm(h)


def load_drafter(path: str | Path, dtype=None) -> DFlashDrafter:
    """Load a drafter folder (config.json + *.safetensors, z-lab layout, unprefixed names)."""
    path = Path(path)
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise D2SDError(f"{path}: not a drafter folder (no config.json)")
    from .config_io import read_json

    raw = read_json(cfg_file, "drafter config")
    cfg = DrafterConfig.from_dict(raw, source=str(cfg_file))
    model = DFlashDrafter(cfg)
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise D2SDError(f"{path}: no *.safetensors weight files")
    weights = {}
    for f in files:
        try:
            weights.update(mx.load(str(f)))
        except Exception as e:  # mlx raises RuntimeError/ValueError on corrupt files
            raise D2SDError(f"{f}: cannot read weights ({e})") from e
    check_weights(model, weights, str(path))
    if cfg.draft_vocab_size:
        check_draft_vocab(weights["draft_vocab"], cfg.vocab_size, str(path))
    model.load_weights(list(weights.items()))
    if dtype is not None:
        model.set_dtype(dtype)
    mx.eval(model.parameters())
    model.eval()
    return model


def check_weights(model: nn.Module, weights: dict, source: str) -> None:
    """Every expected tensor present with the expected shape, nothing unexpected."""
    expected = dict(nn.utils.tree_flatten(model.parameters()))
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    if missing:
        raise D2SDError(f"{source}: missing tensor(s): {', '.join(missing[:8])}{' …' if len(missing) > 8 else ''}")
    if extra:
        raise D2SDError(f"{source}: unexpected tensor(s): {', '.join(extra[:8])}{' …' if len(extra) > 8 else ''}")
    for name, arr in expected.items():
        if tuple(weights[name].shape) != tuple(arr.shape):
            raise D2SDError(
                f"{source}: tensor {name} has shape {tuple(weights[name].shape)}, config implies {tuple(arr.shape)}"
            )


def check_draft_vocab(ids: mx.array, vocab_size: int, source: str) -> None:
    """A draft vocabulary must be int ids, sorted, unique and inside the target's vocabulary."""
    if ids.ndim != 1 or not mx.issubdtype(ids.dtype, mx.integer):
        raise D2SDError(f"{source}: tensor draft_vocab must be a 1-D integer array, got {ids.dtype} {tuple(ids.shape)}")
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise D2SDError(f"{source}: draft_vocab names token ids outside 0..{vocab_size - 1} "
                        f"(min {int(ids.min())}, max {int(ids.max())})")
    if ids.size > 1 and not bool(mx.all(ids[1:] > ids[:-1])):
        raise D2SDError(f"{source}: draft_vocab must be sorted and unique")


def save_drafter(model: DFlashDrafter, path: str | Path, dtype=None) -> None:
    """Write config.json + model.safetensors (z-lab layout) into an existing or new folder.

    dtype casts the floating-point weights only (the draft vocabulary stays int32)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    weights = checkpoint_weights(model)  # z-lab names and layout, also for a drafter in the CPU layout
    if dtype is not None:
        weights = {k: v.astype(dtype) if mx.issubdtype(v.dtype, mx.floating) else v for k, v in weights.items()}
    mx.save_safetensors(str(path / "model.safetensors"), weights, metadata={"format": "mlx"})
    (path / "config.json").write_text(json.dumps(model.config.to_dict(), indent=2) + "\n")
