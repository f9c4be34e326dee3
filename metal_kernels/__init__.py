"""Tree-masked cascade attention: a Metal kernel and the pure-MLX reference it mirrors.

`tree_attention` picks the kernel when Metal is available and the default device is the GPU (and the head dim
is one the kernel supports), else the reference. D2SD_TREE_ATTENTION=reference forces the reference;
D2SD_TREE_ATTENTION=metal forces the kernel (and fails without Metal).
"""

from __future__ import annotations

import os

from d2sd_mlx import blas as _blas

_blas.ensure()  # on Linux, load OpenBLAS before mlx.core (d2sd_mlx/blas.py: stdlib only)

import mlx.core as mx  # noqa: E402

from .checks import check_inputs
from .mask import ancestors_from_parents, block_diagonal, pack_mask, unpack_mask, validate_ancestors
from .reference import tree_attention_reference, two_level
from . import tree_attention_metal as _metal  # the module; its launcher is _metal.tree_attention_metal

ENV = "D2SD_TREE_ATTENTION"


def use_kernel(head_dim: int) -> bool:
    """Whether tree_attention runs the Metal kernel for this head dim in the current environment."""
    mode = os.environ.get(ENV, "auto")
    if mode == "reference":
        return False
    if mode == "metal":
        return True
    if mode != "auto":
        raise ValueError(f"{ENV}: expected 'auto', 'reference' or 'metal', got {mode!r}")
    return mx.metal.is_available() and mx.default_device() == mx.gpu and head_dim in _metal.SUPPORTED_HEAD_DIMS


def tree_attention(q, k_ctx, v_ctx, k_tree, v_tree, ancestors, scale, return_lse=False, check=None):
    """Attention of N tree queries over the committed context (every key) and the tree nodes (bitmask).

    q [B, Hq, N, D]; k_ctx/v_ctx [B, Hkv, C, D] or None (C = 0), GQA without tiling; k_tree/v_tree
    [B, Hkv, N, D]; ancestors uint32 [N, ceil(N/32)] from pack_mask: bit j of row i set iff query i sees node j.
    Returns the output in q's dtype (fp32 accumulation) and, with return_lse, the natural-log LSE [B, Hq, N].

    Shapes and dtypes are always checked (ValueError naming the argument). The self-bit check reads the mask
    on the host: check=None does it on the reference path only (there it costs a copy of N*W words), never
    on the Metal hot path, where the mask is trusted to come from pack_mask (which checks it), nor inside
    mx.compile (where the mask cannot be read); check=True or False forces it on or off.
    """
    C = check_inputs(q, k_ctx, v_ctx, k_tree, v_tree, ancestors)
    kernel = use_kernel(q.shape[-1])
    if check or (check is None and not kernel):
        validate_ancestors(ancestors, q.shape[2], skip_traced=check is None)
    if not C:
        k_ctx = v_ctx = None
    run = _metal.tree_attention_metal if kernel else two_level
    return run(q, k_ctx, v_ctx, k_tree, v_tree, ancestors, scale, return_lse)


__all__ = [
    "tree_attention",
    "tree_attention_reference",
    "pack_mask",
    "unpack_mask",
    "validate_ancestors",
    "ancestors_from_parents",
    "block_diagonal",
    "use_kernel",
]
