"""Reuse the caches of one generation in the next: a chat's history is prefilled once, not every turn.

A `PromptCache` keeps what the decode loop built: the target's K/V, the drafters' context caches and
the target features they have not read yet, and the token sequence behind them (prompt + everything
the decoder committed). The next call with the same cache keeps the longest common prefix of that
sequence and its new prompt, trims everything after it, and prefills only the rest. At T = 0 the
tokens are the target's argmax given the same context either way (the cached K/V were computed in
other chunks, so logits can differ in the last float bits, as they do between a verify pass and a
plain step); at T > 0 each token's randomness is keyed by its position, so reuse changes nothing.

The caches belong to one target and one pair of drafters: a call with another mode (other drafters,
or `ar`, which computes no features) or another target starts afresh.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import mlx.core as mx


@dataclass
class Context:
    """One drafter's context: its per-layer caches and the committed features it has not read yet."""

    cache: list
    lag: list = field(default_factory=list)

    @property
    def cached(self) -> int:
        """Positions in the cache (every layer's: a pass stopped midway leaves the first layers ahead)."""
        return min((c.offset for c in self.cache), default=0)

    @property
    def count(self) -> int:
        """Positions covered: in the cache, then in the lag (the lag follows only a whole cache)."""
        ahead = any(c.offset != self.cached for c in self.cache)
        return self.cached + (0 if ahead else sum(f.shape[0] for f in self.lag))

    def trim_to(self, n: int) -> None:
        """Keep the first n positions (cache first, then the lag)."""
        have = self.cached
        if n >= have and n > 0 and all(c.offset == have for c in self.cache):
            pending = (mx.concatenate(self.lag) if len(self.lag) > 1 else self.lag[0]) if self.lag else None
            self.lag = [pending[: n - have]] if pending is not None and n > have else []
        else:
            for c in self.cache:
                c.kv.trim(c.offset - min(n, c.offset))
            self.lag = []


@dataclass
class PromptCache:
    """Pass the same instance to successive `stream_generate` calls (one conversation per instance)."""

    tokens: list[int] = field(default_factory=list)  # prompt + committed tokens; the target cache holds a prefix
    target: list | None = None  # the target's per-layer KV caches
    drafter: Context | None = None  # the DFlash drafter's context (None in `ar`)
    second: Context | None = None  # the second drafter's own context (d2sd's VP drafter), else None
    owners: tuple = ()  # weak references to the target and drafters the caches belong to
    prompt_len: int = 0  # the last call's prompt tokens (tokens[:prompt_len])
    reused: int = 0  # prompt tokens the last call took from the cache

    @property
    def cached(self) -> int:
        """Tokens whose K/V the target cache holds."""
        return self.target[0].offset if self.target else 0

    def clear(self) -> None:
        self.tokens, self.target, self.drafter, self.second, self.owners = [], None, None, None, ()
        self.prompt_len = self.reused = 0

    def prepare(self, target, drafter, second, split: bool, ids: list[int]) -> int:
        """Make the caches ready for prompt `ids`; return how many of its tokens are already cached
        (always fewer than len(ids): the last prompt token is fed again for the first logits)."""
        owners = (target, drafter, second if split else None)
        keep = 0
        if self._owned_by(owners) and self.target is not None and self._consistent():
            limit = min(self._usable(), len(ids) - 1)
            while keep < limit and self.tokens[keep] == ids[keep]:
                keep += 1
        if keep == 0:
            self.target = target.make_cache()
            self.drafter = Context(drafter.make_cache()) if drafter is not None else None
            self.second = Context(second.make_cache()) if split else None
            self.owners = tuple(None if o is None else weakref.ref(o) for o in owners)
        else:
            for c in self.target:
                c.trim(c.offset - keep)
            for ctx in (self.drafter, self.second):
                if ctx is not None:
                    ctx.trim_to(keep)
        self.tokens = list(ids)
        self.prompt_len = len(ids)
        self.reused = keep
        return keep

    def _owned_by(self, owners: tuple) -> bool:
        """Whether the caches were built for these very objects (weak references: an id could be reused
        by another model after the first is freed)."""
        if len(owners) != len(self.owners):
            return False
        return all((r is None and o is None) or (r is not None and o is not None and r() is o)
                   for r, o in zip(self.owners, owners))

    def _consistent(self) -> bool:
        """Trimmable target caches that agree with each other and with the tokens (a generation stopped by
        an exception mid-step may have left them apart: then the next call starts afresh)."""
        n = self.cached
        return n <= len(self.tokens) and all(_trimmable(c) and c.offset == n for c in self.target)

    def _usable(self) -> int:
        """Positions that every cache covers. A plain step feeds its token before it is yielded, so the
        target may hold one position more than the drafters have features for."""
        n = self.cached
        for ctx in (self.drafter, self.second):
            if ctx is not None:
                n = min(n, ctx.count)
        return n


def supported(target) -> bool:
    """Whether `stream_generate` takes a prompt cache for this target (not for one split over ranks)."""
    return getattr(target, "session", None) is None


def _trimmable(c) -> bool:
    return getattr(c, "is_trimmable", lambda: False)()
