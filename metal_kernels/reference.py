"""Pure-MLX reference of tree-masked cascade attention: the fallback on every non-Metal backend and the kernel's oracle.

Two levels, merged by log-sum-exp in fp32:
  1. the committed context [0, C): every tree query sees every key, so no mask at all;
  2. the tree nodes [0, N): query i sees node j iff bit j of ancestors[i] is set.

GQA without tiling K/V: the G query heads of a KV head are stacked into G*N rows (row g*N + i is query head
h*G + g, node i), so each KV head is one [G*N, D] x [D, C] product.

Scores are kept in log2 units (q is pre-scaled by scale * log2(e)) and softmax uses 2**x, as the kernel does;
on the CPU `mx.power(2, x)` is also about 3x faster than `mx.exp`.

An attention *state* of some rows over a key set is (o, m, l), all fp32:
  m = max score (NEG, a finite "no key" sentinel, when the set is empty or fully masked),
  l = sum 2**(s - m),  o = sum 2**(s - m) * v  (unnormalised).
Two states merge exactly (any split, any order): M = max(m_a, m_b), w = 2**(m - M), l = sum w*l, o = sum w*o.
The final output is o / l and the log-sum-exp (natural log) is (M + log2 l) * ln 2.

`splits` / `tile` make the reference follow the Metal kernel's structure step by step (see
tree_attention_metal.py): the context cut into `splits` chunks that are multiples of the key tile, each chunk
and the tree tail accumulated tile by tile with the kernel's online rescaling, then the merge pass. Without them
the context is one unmasked state and the tree one masked state (the fast path).
"""

from __future__ import annotations

import math

import mlx.core as mx

from .checks import check_inputs
from .mask import pack_mask, unpack_mask, validate_ancestors  # noqa: F401  (pack_mask re-exported)

LOG2E = 1.4426950408889634
LN2 = 0.6931471805599453
NEG = -1.0e30  # "no visible key" max; 2**(NEG - m) underflows to 0 for any real score m
KEY_TILE = 16  # keys per tile in the Metal kernel (its BK); split chunks are multiples of it


def split_chunk(c: int, splits: int, align: int = KEY_TILE) -> int:
    """Keys per context split: ceil(c / splits) rounded up to a multiple of `align` (0 when c == 0).
    Split s covers [s * chunk, min(c, (s + 1) * chunk)), which may be empty for the last splits."""
    if c == 0 or splits <= 0:
        return 0
    per_split = -(-c // splits)
    return -(-per_split // align) * align


def _scores(qs, k):
    # K^T made row-contiguous first: a copy of C x D that makes the product a plain (N, N) GEMM, twice as fast
    # with MLX's bundled reference BLAS and within a few percent with OpenBLAS
    return qs @ mx.contiguous(k.swapaxes(-1, -2).astype(mx.float32))


def empty_state(qs, dv):
    rows = qs.shape[:-1] + (1,)
    return mx.zeros(qs.shape[:-1] + (dv,), mx.float32), mx.full(rows, NEG, mx.float32), mx.zeros(rows, mx.float32)


def partial_state(qs, k, v, valid=None):
    """State (o, m, l) of rows qs [..., R, D] (log2 units) over keys k/v [..., K, D], K >= 1, in one shot.
    valid: optional bool [R, K] (broadcast over the leading axes) of the keys each row may see."""
    s = _scores(qs, k)
    if valid is not None:
        s = mx.where(valid, s, NEG)
    m = s.max(axis=-1, keepdims=True)
    p = mx.power(2.0, s - m)
    if valid is not None:
        p = mx.where(valid, p, 0.0)
    return p @ v.astype(mx.float32), m, p.sum(axis=-1, keepdims=True)


def online_state(qs, k, v, valid=None, tile=KEY_TILE):
    """The same state accumulated tile by tile exactly as one kernel threadgroup does (online softmax):
    m' = max(m, tile max); alpha = 2**(m - m'); p = 2**(s - m') (0 where masked); l = alpha*l + sum p;
    o = alpha*o + p @ v."""
    o, m, l = empty_state(qs, v.shape[-1])
    for k0 in range(0, k.shape[-2], tile):
        vt = None if valid is None else valid[..., k0:k0 + tile]
        s = _scores(qs, k[..., k0:k0 + tile, :])
        if vt is not None:
            s = mx.where(vt, s, NEG)
        m_new = mx.maximum(m, s.max(axis=-1, keepdims=True))
        alpha = mx.power(2.0, m - m_new)
        p = mx.power(2.0, s - m_new)
        if vt is not None:
            p = mx.where(vt, p, 0.0)
        l = alpha * l + p.sum(axis=-1, keepdims=True)
        o = alpha * o + p @ v[..., k0:k0 + tile, :].astype(mx.float32)
        m = m_new
    return o, m, l


def merge_states(states):
    """Merge attention states of disjoint key sets (the kernel's merge pass)."""
    M = states[0][1]
    for _, m, _ in states[1:]:
        M = mx.maximum(M, m)
    O = L = None
    for o, m, l in states:
        w = mx.power(2.0, m - M)
        O = w * o if O is None else O + w * o
        L = w * l if L is None else L + w * l
    return O, M, L


def finish(O, M, L):
    """Normalised output and natural-log LSE; rows that saw no key at all give 0 and -inf."""
    seen = L > 0
    safe = mx.where(seen, L, 1.0)
    return O / safe, mx.where(seen, (M + mx.log2(safe)) * LN2, -math.inf)


def two_level(q, k_ctx, v_ctx, k_tree, v_tree, ancestors, scale, return_lse=False, splits=None, tile=None):
    """The computation itself, on already-checked arguments (k_ctx None or with C >= 0 keys)."""
    B, Hq, N, D = q.shape
    Hkv = k_tree.shape[1]
    G = Hq // Hkv
    qs = (q.astype(mx.float32) * (scale * LOG2E)).reshape(B, Hkv, G * N, D)
    visible = mx.tile(unpack_mask(ancestors, N), (G, 1))  # [G*N, N]
    C = 0 if k_ctx is None else k_ctx.shape[2]
    state = partial_state if tile is None else (lambda *a: online_state(*a, tile=tile))
    states = []
    if splits is None:
        if C:
            states.append(state(qs, k_ctx, v_ctx))
    else:
        chunk = split_chunk(C, splits, tile or KEY_TILE)
        for s in range(splits if C else 0):
            lo, hi = s * chunk, min(C, (s + 1) * chunk)
            states.append(state(qs, k_ctx[:, :, lo:hi], v_ctx[:, :, lo:hi]) if hi > lo else empty_state(qs, D))
    states.append(state(qs, k_tree, v_tree, visible))
    out, lse = finish(*merge_states(states))
    out = out.reshape(B, Hq, N, D).astype(q.dtype)
    return (out, lse.reshape(B, Hq, N)) if return_lse else out


def tree_attention_reference(q, k_ctx, v_ctx, k_tree, v_tree, ancestors, scale, return_lse=False, *,
                             splits=None, tile=None, check=True):
    """Attention of N tree queries over a shared context (no mask) and the tree nodes (bitmask).

    q [B, Hq, N, D]; k_ctx/v_ctx [B, Hkv, C, D] or None (C = 0); k_tree/v_tree [B, Hkv, N, D];
    ancestors uint32 [N, ceil(N/32)]: bit j of row i set iff query i may see tree node j.
    Returns the output in q's dtype (fp32 accumulation), and with return_lse the natural-log LSE [B, Hq, N] fp32.
    splits/tile: emulate the Metal kernel's split/tile structure (module docstring). check: read the mask on
    the host to verify every node sees itself.
    """
    C = check_inputs(q, k_ctx, v_ctx, k_tree, v_tree, ancestors)
    if check:
        validate_ancestors(ancestors, q.shape[2])
    return two_level(q, k_ctx if C else None, v_ctx if C else None, k_tree, v_tree, ancestors, scale,
                     return_lse, splits, tile)
