"""Cheap argument checks for tree_attention: shapes and dtypes only, no device reads."""

from __future__ import annotations

import mlx.core as mx

from .mask import words_for

FLOAT_DTYPES = (mx.float32, mx.float16, mx.bfloat16)


def _fail(name: str, message: str):
    raise ValueError(f"{name}: {message}")


def check_inputs(q, k_ctx, v_ctx, k_tree, v_tree, ancestors) -> int:
    """Validate the arguments of tree_attention and return the context length C (0 when k_ctx is None)."""
    for name, a in (("q", q), ("k_tree", k_tree), ("v_tree", v_tree)):
        if not isinstance(a, mx.array) or a.ndim != 4:
            _fail(name, f"expected a 4-D mx.array, got {getattr(a, 'shape', type(a).__name__)}")
    B, Hq, N, D = q.shape
    if q.dtype not in FLOAT_DTYPES:
        _fail("q", f"dtype must be float32, float16 or bfloat16, got {q.dtype}")
    if N == 0 or D == 0:
        _fail("q", f"needs at least one tree node and head_dim > 0, got shape {q.shape}")
    Hkv = k_tree.shape[1]
    if Hkv == 0 or Hq % Hkv:
        _fail("k_tree", f"{Hkv} KV heads do not divide the {Hq} query heads of q")
    expected = (B, Hkv, N, D)
    for name, a in (("k_tree", k_tree), ("v_tree", v_tree)):
        if a.shape != expected:
            _fail(name, f"expected shape {expected} (from q {q.shape}), got {a.shape}")
        if a.dtype != q.dtype:
            _fail(name, f"dtype {a.dtype} differs from q's {q.dtype}")
    if (k_ctx is None) != (v_ctx is None):
        _fail("k_ctx" if k_ctx is None else "v_ctx", "k_ctx and v_ctx must both be arrays or both be None")
    C = 0
    if k_ctx is not None:
        for name, a in (("k_ctx", k_ctx), ("v_ctx", v_ctx)):
            if not isinstance(a, mx.array) or a.ndim != 4:
                _fail(name, f"expected a 4-D mx.array, got {getattr(a, 'shape', type(a).__name__)}")
        C = k_ctx.shape[2]
        expected = (B, Hkv, C, D)
        for name, a in (("k_ctx", k_ctx), ("v_ctx", v_ctx)):
            if a.shape != expected:
                _fail(name, f"expected shape {expected} (B, Hkv, C, D), got {a.shape}")
            if a.dtype != q.dtype:
                _fail(name, f"dtype {a.dtype} differs from q's {q.dtype}")
    if not isinstance(ancestors, mx.array) or ancestors.ndim != 2:
        got = getattr(ancestors, "shape", type(ancestors).__name__)
        _fail("ancestors", f"expected a 2-D uint32 mx.array [N, W], got {got}")
    if ancestors.dtype != mx.uint32:
        _fail("ancestors", f"dtype must be uint32 (use pack_mask), got {ancestors.dtype}")
    rows, words = ancestors.shape
    if rows != N:
        _fail("ancestors", f"has {rows} rows but q has N={N} tree nodes")
    if words < words_for(N):
        _fail("ancestors", f"{words} words per row cover at most {32 * words} nodes; N={N} needs {words_for(N)}")
    return C
