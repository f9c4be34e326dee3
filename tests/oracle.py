"""Test drafters: an oracle that proposes the target's own greedy continuation, and a noisy one."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
from mlx_lm.generate import generate_step
from mlx_lm.sample_utils import make_sampler

from d2sd_mlx.drafter import ContextCache, DrafterConfig


def greedy_reference(target, prompt: list[int], n: int) -> list[int]:
    """mlx-lm's own plain greedy decoding of `n` tokens."""
    out = []
    for tok, _ in generate_step(mx.array(prompt), target.model, max_tokens=n, sampler=make_sampler(0.0)):
        out.append(int(tok))
    return out


class OracleDrafter:
    """Proposes, at absolute position p, the token of the known greedy sequence at p.

    With `p_right` < 1 each proposed token is replaced by a random wrong one with probability
    1 - p_right (fresh draws on every call, so the VP pass can repair what the DFlash pass got wrong).
    """

    def __init__(self, target, sequence: list[int], block_size: int, p_right: float = 1.0, seed: int = 0,
                 mask_token_id: int | None = None):
        v = target.vocab_rows
        self.config = DrafterConfig(
            hidden_size=target.hidden_size, num_hidden_layers=1, num_attention_heads=1, num_key_value_heads=1,
            intermediate_size=1, vocab_size=v, block_size=block_size, target_layer_ids=[0],
            mask_token_id=v - 1 if mask_token_id is None else mask_token_id, num_target_layers=target.num_layers,
        )
        self.sequence = list(sequence)
        self.vocab = v
        self.p_right = p_right
        self.rng = np.random.default_rng(seed)

    def make_cache(self):
        return [ContextCache()]

    def draft(self, target, tokens, positions, ctx_feats, cache, visible, select):
        if ctx_feats is not None and ctx_feats.shape[1]:  # keep the context count a real drafter keeps
            kv = mx.zeros((1, 1, ctx_feats.shape[1], 1))
            for c in cache:
                c.append(kv, kv)
        pos = np.array(positions)[np.array(select)]
        logits = np.full((len(pos), self.vocab), -4.0, dtype=np.float32)
        for row, p in enumerate(pos):
            tok = self.sequence[p] if p < len(self.sequence) else int(self.rng.integers(self.vocab))
            conf = 8.0
            if self.p_right < 1.0:
                conf = float(self.rng.uniform(0.0, 6.0))
                if self.rng.random() > self.p_right:
                    tok = int((tok + 1 + self.rng.integers(self.vocab - 1)) % self.vocab)
            logits[row, tok] = conf
        return mx.array(logits)

    def target_ids(self, idx):
        return idx  # drafts over the whole vocabulary
