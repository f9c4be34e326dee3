"""Training blocks for the two objectives (dflash.md §4, d2sd-paper.md §3.3).

DFlash: block [anchor, MASK × (γ-1)] at a response position; labels are the tokens at the same
positions; weight exp(-(k-1)/τ) for k = 1..γ-1.
VP: a visible prefix length l ∝ β^l over {1..γ-2} (optionally from 0); positions 0..l clean, the rest MASK; loss on
masked positions with weight exp(-(k-l-1)/τ).
Every block sees the context features strictly before its anchor and its own block
bidirectionally, never another block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Blocks:
    tokens: np.ndarray  # int32 [A*γ] block input tokens
    positions: np.ndarray  # int32 [A*γ]
    labels: np.ndarray  # int32 [A*γ] target token at the same position
    weights: np.ndarray  # float32 [A*γ] loss weight (0 where unsupervised)
    anchors: np.ndarray  # int32 [A]
    prefix: np.ndarray  # int32 [A] visible prefix length l (0 for DFlash)


def vp_prefix_probs(gamma: int, beta: float, min_prefix: int = 1) -> np.ndarray:
    """P(l) ∝ β^l over l = min_prefix..γ-2 (index 0 ↔ l = min_prefix; the paper's range starts at 1)."""
    w = beta ** np.arange(min_prefix, gamma - 1, dtype=np.float64)
    return w / w.sum()


def make_blocks(tokens: np.ndarray, loss_mask: np.ndarray, n_anchors: int, gamma: int, mask_id: int,
                rng: np.random.Generator, objective: str = "dflash", beta: float = 0.9, tau: float = 7.0,
                min_prefix: int = 1) -> Blocks | None:
    """Sample up to n_anchors distinct anchors among positions whose next token is a response token.

    min_prefix 0 also trains VP blocks with no visible draft token ([anchor, MASK…], DFlash's own
    block), as in the paper's Eq. 6. The decode loop never shows the VP drafter that block (the
    prefix-0 branch token comes from DFlash, see decode._branches), so 1 is the useful default.
    """
    T = len(tokens)
    cand = np.nonzero(loss_mask[1:])[0]  # anchor a such that a+1 is supervised
    if len(cand) == 0:
        return None
    anchors = np.sort(rng.choice(cand, size=min(n_anchors, len(cand)), replace=False)).astype(np.int32)
    A = len(anchors)
    k = np.arange(gamma)
    pos = anchors[:, None] + k[None, :]  # [A, γ]
    inside = pos < T
    src = np.minimum(pos, T - 1)
    labels = np.where(inside, tokens[src], 0).astype(np.int32)
    sup = inside & (loss_mask[src] > 0)
    if objective == "dflash":
        prefix = np.zeros(A, dtype=np.int32)
    elif objective == "vp":
        prefix = rng.choice(np.arange(min_prefix, gamma - 1), size=A, p=vp_prefix_probs(gamma, beta, min_prefix)).astype(np.int32)
    else:
        raise ValueError(f"unknown objective {objective!r}")
    clean = k[None, :] <= prefix[:, None]  # anchor + l visible tokens
    block = np.where(clean & inside, labels, mask_id).astype(np.int32)
    block[:, 0] = tokens[anchors]
    weights = np.exp(-(k[None, :] - prefix[:, None] - 1) / tau).astype(np.float32)
    weights = np.where(~clean & sup, weights, 0.0).astype(np.float32)
    return Blocks(block.reshape(-1), pos.reshape(-1).astype(np.int32), labels.reshape(-1), weights.reshape(-1), anchors, prefix)


def block_mask(anchors: np.ndarray, n_ctx: int, gamma: int) -> np.ndarray:
    """Bool [A*γ, n_ctx + A*γ]: context strictly before the own anchor, own block bidirectionally."""
    A = len(anchors)
    q_block = np.repeat(np.arange(A), gamma)
    ctx = np.arange(n_ctx)[None, :] < anchors[q_block][:, None]
    own = q_block[:, None] == q_block[None, :]
    return np.concatenate([ctx, own], axis=1)
