"""The target's token at each position: argmax at T=0, a position-keyed draw at T>0.

At T>0 the token at absolute position p (its index in prompt + output) is the Gumbel-max of the
processed logits: log-probabilities filtered by top-p then top-k (mlx-lm's own filters, in
mlx-lm's order), divided by T, plus Gumbel noise drawn with the key `position_key(seed, p)`. That
is an exact draw from the same distribution as mlx-lm's sampler, and its randomness depends only
on (seed, p): whichever tree, branch or plain step the target evaluates position p in, and however
many positions it evaluates at once, it picks the same token. So the output is a deterministic
function of (prompt, seed, sampling settings), identical across `ar`, `dflash`, `dflash2`, `d2sd`
and both budgets, and the token-matching walk stays lossless (it accepts a drafted token iff it is
the token the target itself picks there).
"""

from __future__ import annotations

import secrets

import mlx.core as mx
import numpy as np
from mlx_lm.sample_utils import apply_top_k, apply_top_p

_M64 = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64's finaliser: a bijection of 64-bit ints that scatters nearby inputs."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def position_key(seed: int, position: int) -> mx.array:
    """The PRNG key for the draw at absolute position `position` under `seed`."""
    return mx.random.key(_mix(_mix(seed & _M64) ^ (position & _M64)))


def new_seed() -> int:
    """A fresh seed for a request that did not give one (reported in the stats, so it can be replayed)."""
    return secrets.randbits(63)


class Sampler:
    """Picks the target's token for rows of logits [N, V] at absolute positions [N]."""

    def __init__(self, temp: float = 0.0, top_p: float = 0.0, top_k: int = 0, seed: int = 0):
        self.temp, self.top_p, self.top_k, self.seed = temp, top_p, top_k, seed
        self.greedy = temp == 0

    def __call__(self, logits: mx.array, positions) -> mx.array:
        """Token ids [N] (int32 array). positions: ints [N], the index each token will have in the sequence."""
        if self.greedy:
            return mx.argmax(logits, axis=-1)
        logits = logits.astype(mx.float32)
        logprobs = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
        if 0 < self.top_p < 1.0:
            logprobs = apply_top_p(logprobs, self.top_p)
        if 0 < self.top_k < logprobs.shape[-1]:
            logprobs = apply_top_k(logprobs, self.top_k)
        # One noise vector per distinct position: tree nodes at the same depth share theirs.
        pos = np.asarray(positions, dtype=np.int64).reshape(-1)
        uniq, inv = np.unique(pos, return_inverse=True)
        shape = (logprobs.shape[-1],)
        noise = mx.stack([mx.random.gumbel(shape=shape, key=position_key(self.seed, int(p))) for p in uniq])
        inv = inv.reshape(-1)
        if uniq.size != pos.size or (inv != np.arange(inv.size)).any():
            noise = noise[mx.array(inv.astype(np.int32))]
        return mx.argmax(logprobs * (1.0 / self.temp) + noise, axis=-1)
