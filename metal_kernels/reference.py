"""Pure-MLX reference of tree-masked cascade attention (runs on every backend)."""

from __future__ import annotations

import mlx.core as mx
import numpy as np


def pack_mask(visible) -> mx.array:
    """Pack a boolean [N, N] visibility matrix (row i may see tree node j) into uint32 words [N, ceil(N/32)]."""
    vis = np.asarray(visible, dtype=bool)
    n = vis.shape[0]
    words = (n + 31) // 32
    padded = np.zeros((n, words * 32), dtype=bool)
    padded[:, :n] = vis
    bits = padded.reshape(n, words, 32).astype(np.uint64) << np.arange(32, dtype=np.uint64)
    return mx.array(bits.sum(axis=-1).astype(np.uint32))


def unpack_mask(bits: mx.array, n: int) -> mx.array:
    """Boolean [N, N] from the packed words."""
    j = mx.arange(n)
    words = bits[:, j // 32]
    return ((words >> (j % 32).astype(mx.uint32)) & 1).astype(mx.bool_)


def tree_attention_reference(q, k_ctx, v_ctx, k_tree, v_tree, ancestors, scale, return_lse=False):
    """Attention of N tree queries over a shared context (no mask) and the tree nodes (bitmask).

    q [B, Hq, N, D]; k_ctx/v_ctx [B, Hkv, C, D]; k_tree/v_tree [B, Hkv, N, D];
    ancestors uint32 [N, W]: bit j of row i set iff query i may see tree node j.
    The two parts are computed separately and merged by log-sum-exp in fp32.
    """
    B, Hq, N, D = q.shape
    Hkv = k_tree.shape[1]
    G = Hq // Hkv
    qf = (q.astype(mx.float32) * scale).reshape(B, Hkv, G * N, D)
    visible = unpack_mask(ancestors, N)
    s_tree = qf @ k_tree.astype(mx.float32).swapaxes(-1, -2)  # [B, Hkv, G*N, N]
    s_tree = s_tree.reshape(B, Hkv, G, N, N)
    s_tree = mx.where(visible, s_tree, -mx.inf).reshape(B, Hkv, G * N, N)
    if k_ctx is not None and k_ctx.shape[2] > 0:
        s_ctx = qf @ k_ctx.astype(mx.float32).swapaxes(-1, -2)
        s = mx.concatenate([s_ctx, s_tree], axis=-1)
        v = mx.concatenate([v_ctx, v_tree], axis=2).astype(mx.float32)
    else:
        s, v = s_tree, v_tree.astype(mx.float32)
    m = mx.max(s, axis=-1, keepdims=True)
    p = mx.exp(s - m)
    l = mx.sum(p, axis=-1, keepdims=True)
    o = (p @ v) / l
    o = o.reshape(B, Hq, N, D).astype(q.dtype)
    if return_lse:
        return o, (m + mx.log(l)).reshape(B, Hq, N)
    return o
