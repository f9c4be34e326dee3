"""Tree visibility masks: packing to uint32 bit words, unpacking, building, and the host-side self-bit check.

Row i, word j // 32, bit j % 32 is set iff tree query i may see tree node j. Every node must see itself.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np


def words_for(n: int) -> int:
    """Number of uint32 words per mask row for n tree nodes."""
    return (n + 31) // 32


def pack_mask(visible, check: bool = True) -> mx.array:
    """Pack a boolean [N, N] visibility matrix (row i may see tree node j) into uint32 words [N, ceil(N/32)].

    With check=True (default) it raises ValueError unless the matrix is square with a True diagonal. This is
    the cheap place to validate a tree (numpy, before anything reaches the device).
    """
    vis = np.asarray(visible, dtype=bool)
    if vis.ndim != 2 or vis.shape[0] != vis.shape[1] or vis.shape[0] == 0:
        raise ValueError(f"visible: expected a non-empty square [N, N] matrix, got shape {vis.shape}")
    n = vis.shape[0]
    if check and not vis.diagonal().all():
        rows = np.flatnonzero(~vis.diagonal())[:8].tolist()
        raise ValueError(f"visible: every tree node must see itself; visible[i, i] is False for rows {rows}")
    words = words_for(n)
    padded = np.zeros((n, words * 32), dtype=bool)
    padded[:, :n] = vis
    bits = padded.reshape(n, words, 32).astype(np.uint64) << np.arange(32, dtype=np.uint64)
    return mx.array(bits.sum(axis=-1).astype(np.uint32))


def unpack_mask(bits: mx.array, n: int) -> mx.array:
    """Boolean [N, N] from the packed words."""
    j = mx.arange(n)
    words = bits[:, j // 32]
    return ((words >> (j % 32).astype(mx.uint32)) & 1).astype(mx.bool_)


def validate_ancestors(ancestors, n: int, skip_traced: bool = False) -> None:
    """Host-side check that every node's row has its own bit set; raises ValueError naming `ancestors`.

    Reads the mask on the host (N x W words, a few hundred bytes). That is free for a mask made by pack_mask
    from numpy, but for a mask still being computed lazily it waits for that computation. Inside mx.compile or
    vmap the mask cannot be read: skip_traced=True then skips the check, otherwise it is a ValueError.
    """
    try:
        host = np.asarray(ancestors, dtype=np.uint32)
    except ValueError as e:
        if "transformations" not in str(e):
            raise
        if skip_traced:
            return
        raise ValueError("ancestors: cannot be read on the host inside mx.compile/vmap; pass check=False") from e
    i = np.arange(n)
    own = (host[i, i // 32] >> (i % 32).astype(np.uint32)) & 1
    if not own.all():
        rows = np.flatnonzero(own == 0)[:8].tolist()
        raise ValueError(f"ancestors: every tree node must see itself; the self bit is missing in rows {rows}")


def ancestors_from_parents(parents) -> np.ndarray:
    """Ancestor-or-self visibility [N, N] (bool) of a tree given parents[i] < i (parents[0] = -1 for the root;
    several roots are allowed)."""
    parents = [int(p) for p in parents]
    n = len(parents)
    vis = np.zeros((n, n), dtype=bool)
    for i, p in enumerate(parents):
        if p >= i:
            raise ValueError(f"parents: parent {p} of node {i} must come before it (or be -1)")
        if p >= 0:
            vis[i] = vis[p]
        vis[i, i] = True
    return vis


def block_diagonal(sizes) -> np.ndarray:
    """Visibility [N, N] (bool) where each row sees its own block bidirectionally: the VP drafter's batched pass.
    Every row also sees the whole context, as every tree query does."""
    n = int(sum(sizes))
    vis = np.zeros((n, n), dtype=bool)
    start = 0
    for size in sizes:
        vis[start:start + size, start:start + size] = True
        start += size
    return vis
