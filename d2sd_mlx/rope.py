"""RoPE at arbitrary per-token positions (tree nodes, training blocks)."""

import mlx.core as mx


def rope_at(rope, x: mx.array, positions: mx.array) -> mx.array:
    """Apply `rope` (an mlx-lm RoPE module) to x [B, H, T, D] at positions [T] or [B, T].

    Tokens are moved to the batch axis so that each gets its own offset; this is bit-identical
    to applying the rope token by token.
    """
    B, H, T, D = x.shape
    pos = positions.astype(mx.int32)
    if pos.ndim == 1:
        pos = mx.broadcast_to(pos[None], (B, T))
    flat = x.transpose(0, 2, 1, 3).reshape(B * T, H, 1, D)
    out = rope(flat, offset=pos.reshape(-1))
    return out.reshape(B, T, H, D).transpose(0, 2, 1, 3)
