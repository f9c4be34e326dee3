"""Target adapter over stock mlx-lm models (llama incl. SmolLM2, qwen2, qwen3).

forward: one pass over new tokens, capturing the tap features the drafters need. Causal (prompt
         prefill, plain steps; K/V appended to the cache) or over a flattened tree (verify: each
         node attends to the committed cache and to its ancestors through
         `metal_kernels.tree_attention`; the cache is untouched).
commit:  append the K/V of the accepted path to the cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import mlx.core as mx
import mlx.nn as nn
from mlx_lm.models.cache import KVCache, make_prompt_cache

from metal_kernels import tree_attention

from . import cpu_layout as layout
from .errors import D2SDError
from .rope import rope_at

SUPPORTED = ("llama", "qwen2", "qwen3", "mistral")


@dataclass
class Forward:
    """What one forward returns. logits [N, V] ([1, V] for a causal pass); feats [N, F] or None;
    kv: per layer ([1,Hkv,N,D] x2) for a tree pass (to commit), None for a causal one (already cached)."""

    logits: mx.array
    feats: mx.array | None
    kv: list[tuple[mx.array, mx.array]] | None


class Target:
    def __init__(self, model: nn.Module, tokenizer=None, config: dict | None = None, cpu_layout: bool = True):
        """Wrap an mlx-lm model. cpu_layout: on the CPU device, store float32 weights transposed
        (`cpu_layout.py`: same numbers, faster matmuls); this changes `model`'s modules in place."""
        inner = getattr(model, "model", None)
        if inner is None or not hasattr(inner, "embed_tokens") or not hasattr(inner, "layers"):
            raise D2SDError(f"unsupported target model {type(model).__name__}: needs .model.embed_tokens and .model.layers")
        attn = inner.layers[0].self_attn if inner.layers else None
        if attn is None or not all(hasattr(attn, a) for a in ("q_proj", "k_proj", "v_proj", "o_proj", "rope", "n_heads", "n_kv_heads", "scale")):
            raise D2SDError(f"unsupported target architecture {type(model).__module__}: expected llama/qwen2/qwen3-style attention")
        self.model = model
        self.tokenizer = tokenizer
        self.config = config or {}
        self.inner = inner
        self.layers = inner.layers
        self.num_layers = len(self.layers)
        self.hidden_size = int(self.config.get("hidden_size") or model.args.hidden_size)
        self.vocab_rows = inner.embed_tokens.weight.shape[0]
        self.model_type = self.config.get("model_type", getattr(getattr(model, "args", None), "model_type", ""))
        self.max_context = int(self.config.get("max_position_embeddings") or 0) or 1 << 30
        self.dtype = inner.embed_tokens.weight.dtype
        # Prompt tokens per causal pass. MLX's CPU attention scores every query against every key of
        # the pass, masked ones included, and its exp is scalar: a 2,048-token prompt of the default
        # model took 48 s in one pass and 29 s in passes of 512 (1,024 tokens: 12.1 → 10.1 s; up to 512
        # nothing changes). A GPU keeps mlx-lm's step of 2,048.
        self.prefill_chunk = 512 if mx.default_device() == mx.cpu else 2048
        if cpu_layout and layout.wanted(self.dtype):
            self.use_cpu_layout()

    def use_cpu_layout(self) -> None:
        """Store this target's float32 projections and head transposed (cpu_layout.py), in place; the layers
        and head it holds now (a distributed rank holds only its share: call it after the cut)."""
        for layer in self.inner.layers:  # one layer at a time: the peak is the model plus one layer's copy
            layout.transpose_linears(layer)
            mx.eval(layer.parameters())
        lm_head = getattr(self.model, "lm_head", None)
        embed = getattr(self.inner, "embed_tokens", None)
        if lm_head is not None:
            if type(lm_head) is nn.Linear and lm_head.weight.dtype == mx.float32:
                self.model.lm_head = layout.LinearT(lm_head)
        elif type(embed) is nn.Embedding and embed.weight.dtype == mx.float32:
            self.inner.embed_tokens = layout.EmbeddingT(embed)
        mx.eval(self.model.parameters())

    # -- pieces -----------------------------------------------------------------------------
    def embed(self, tokens: mx.array) -> mx.array:
        return self.inner.embed_tokens(tokens)

    def head(self, h: mx.array) -> mx.array:
        """Final-normed hidden → logits."""
        lm_head = getattr(self.model, "lm_head", None)
        return lm_head(h) if lm_head is not None else self.inner.embed_tokens.as_linear(h)

    def head_rows(self, ids: mx.array) -> mx.array:
        """Rows `ids` of the output projection [len(ids), H] (tied embedding or lm_head), unquantized."""
        lm = getattr(self.model, "lm_head", None)
        mod = lm if lm is not None else self.inner.embed_tokens
        if hasattr(mod, "rows"):  # the CPU layout
            return mod.rows(ids)
        if hasattr(mod, "scales"):
            biases = getattr(mod, "biases", None)
            return mx.dequantize(mod.weight[ids], mod.scales[ids], None if biases is None else biases[ids],
                                 mod.group_size, mod.bits)
        return mod.weight[ids]

    def make_cache(self) -> list[KVCache]:
        return make_prompt_cache(self.model)

    # -- the one forward ---------------------------------------------------------------------
    def forward(self, tokens: mx.array, cache, *, tree=None, taps=(), chunk: int | None = None) -> Forward:
        """One pass of the target over tokens (int32 [N]) after the committed cache.

        tree=None: the tokens are the next N of the sequence (prompt prefill, a plain step): causal
        attention, their K/V are appended to the cache (in passes of `chunk` tokens, default
        `prefill_chunk`), and only the last position's logits are returned ([1, V]). tree=a `tree.Tree` over these tokens: node i sits at
        position offset + depth(i) and attends to the cache and to its ancestors (tree-masked cascade
        attention); the cache is left alone and the nodes' K/V are returned for `commit`; logits [N, V].
        taps: layer ids whose outputs are concatenated into the features [N, F] the drafters read.
        """
        if tree is not None:
            return self._tree_forward(tokens, cache, tree, taps)
        tapset = {t: i for i, t in enumerate(taps)}
        feats = []
        logits = None
        chunk = chunk or self.prefill_chunk
        for s in range(0, tokens.shape[0], chunk):
            part = tokens[s : s + chunk][None]
            h = self.embed(part)
            mask = "causal" if part.shape[1] > 1 else None
            got = [None] * len(taps)
            for i, (layer, c) in enumerate(zip(self.layers, cache)):
                h = causal_block(layer, h, mask, c)
                if i in tapset:
                    got[tapset[i]] = h
            if taps:
                feats.append(mx.concatenate(got, axis=-1)[0])
            logits = self.head(self.inner.norm(h[:, -1:]))[0]
            if len(feats) > 1 or s + chunk < tokens.shape[0]:
                mx.eval(logits, *feats, [c.state for c in cache])
        f = (mx.concatenate(feats, axis=0) if len(feats) > 1 else feats[0]) if taps else None
        return Forward(logits, f, None)

    def _tree_forward(self, tokens: mx.array, cache, tree, taps) -> Forward:
        positions = mx.array(tree.depths + cache[0].offset, dtype=mx.int32)
        visible = tree.packed_visible()
        tapset = {t: i for i, t in enumerate(taps)}
        got = [None] * len(taps)
        kv = []
        h = self.embed(tokens[None])
        for i, (layer, c) in enumerate(zip(self.layers, cache)):
            h, layer_kv = tree_block(layer, h, positions, visible, c)
            kv.append(layer_kv)
            if i in tapset:
                got[tapset[i]] = h
        logits = self.head(self.inner.norm(h))[0]
        feats = mx.concatenate(got, axis=-1)[0] if taps else None
        return Forward(logits, feats, kv)

    def commit(self, cache, kv, path: list[int]) -> None:
        """Append the K/V of the accepted nodes `path` (in order) to the cache."""
        contiguous = path == list(range(path[0], path[0] + len(path)))
        idx = None if contiguous else mx.array(path, dtype=mx.int32)
        for c, (k, v) in zip(cache, kv):
            if idx is None:
                c.update_and_fetch(k[:, :, path[0] : path[0] + len(path)], v[:, :, path[0] : path[0] + len(path)])
            else:
                c.update_and_fetch(k[:, :, idx], v[:, :, idx])

# On MLX's CPU backend RoPE and RMSNorm are composed of many small ops; `mx.compile` fuses their
# elementwise parts into one kernel each, bit for bit the same numbers (tests/test_target.py). On the
# default target this takes about 8% off a plain step. Only one-token steps use it: a longer pass is
# dominated by its matmuls, and every new fused kernel costs a C++ compile (about 0.4 s, cached in
# MLX's temp folder) the first time a machine runs it.
@lru_cache(maxsize=None)
def _rms_norm(eps: float):
    return mx.compile(lambda x, w: mx.fast.rms_norm(x, w, eps))


def _norm(norm, x):
    """`norm(x)`; compiled for one token through a plain RMSNorm (the weight is an input: a new one is seen)."""
    return _rms_norm(norm.eps)(x, norm.weight) if type(norm) is nn.RMSNorm and x.shape[-2] == 1 else norm(x)


def _rope(attn, x, offset: int):
    """`attn.rope(x, offset=offset)`; for one token compiled, the offset passed as an array (one trace
    for every position) and the compiled function kept on `attn`."""
    if x.shape[-2] != 1:
        return attn.rope(x, offset=offset)
    fn = getattr(attn, "_d2sd_rope", None)
    if fn is None:
        rope = attn.rope
        fn = mx.compile(lambda x, offset: rope(x, offset=offset))
        object.__setattr__(attn, "_d2sd_rope", fn)  # a plain attribute: not a parameter of the module
    return fn(x, mx.array(offset, dtype=mx.int32))


def _qkv(attn, h):
    """Queries, keys, values [B, H, L, D] of a llama/qwen2/qwen3 attention, before RoPE."""
    B, L, _ = h.shape
    q = attn.q_proj(h).reshape(B, L, attn.n_heads, -1)
    k = attn.k_proj(h).reshape(B, L, attn.n_kv_heads, -1)
    v = attn.v_proj(h).reshape(B, L, attn.n_kv_heads, -1).transpose(0, 2, 1, 3)
    if hasattr(attn, "q_norm"):
        q, k = attn.q_norm(q), attn.k_norm(k)
    return q.transpose(0, 2, 1, 3), k.transpose(0, 2, 1, 3), v


def _block_out(layer, x, o):
    """The rest of a pre-norm block after attention: output projection, residuals, MLP."""
    B, _, L, _ = o.shape
    h = x + layer.self_attn.o_proj(o.transpose(0, 2, 1, 3).reshape(B, L, -1))
    return h + layer.mlp(_norm(layer.post_attention_layernorm, h))


def causal_block(layer, x, mask, cache):
    """mlx-lm's decoder block, bit for bit, with one RoPE call for queries and keys together.

    RoPE acts on each head alone, so rotating [q; k] stacked on the head axis gives exactly
    `rope(q), rope(k)`: one call instead of two (on the CPU a RoPE call costs about as much as a
    576x1536 matmul at one token).
    """
    attn = layer.self_attn
    q, k, v = _qkv(attn, _norm(layer.input_layernorm, x))
    nq = q.shape[1]
    qk = _rope(attn, mx.concatenate([q, k], axis=1), cache.offset)
    k, v = cache.update_and_fetch(qk[:, nq:], v)
    o = mx.fast.scaled_dot_product_attention(qk[:, :nq], k, v, scale=attn.scale, mask=mask)
    return _block_out(layer, x, o)


def tree_block(layer, x, positions, visible, cache):
    """A pre-norm decoder block (llama/qwen2/qwen3 layout) with tree attention; returns (h, (k, v))."""
    attn = layer.self_attn
    q, k, v = _qkv(attn, _norm(layer.input_layernorm, x))
    nq = q.shape[1]
    qk = rope_at(attn.rope, mx.concatenate([q, k], axis=1), positions)  # one RoPE call, as in causal_block
    q, k = qk[:, :nq], qk[:, nq:]
    if cache.keys is None:
        k_ctx = v_ctx = None
    else:
        k_ctx, v_ctx = cache.keys[..., : cache.offset, :], cache.values[..., : cache.offset, :]
    # the mask comes from pack_mask, which checked it once for the whole tree: no per-layer host read
    o = tree_attention(q, k_ctx, v_ctx, k, v, visible, attn.scale, check=False)
    return _block_out(layer, x, o), (k, v)
