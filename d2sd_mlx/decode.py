"""The decode loop: one generator serves the modes `ar`, `dflash`, `dflash2` and `d2sd`.

Per cycle: draft a block with the DFlash drafter, pick the top-K likely rejection points from
its confidences, re-draft their tails with the VP drafter in one batched pass (the branch at
prefix 0 comes from the DFlash pass itself), merge all rows into a trie, verify it in one target
pass, walk it with the target's own tokens, commit.

With `budget="auto"` a `budget.Budget` decides per cycle how many branches to draft and where, how
much of each row to verify, and when a plain one-token step (or a run of them) beats drafting.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterator

import mlx.core as mx
import numpy as np
from mlx_lm.sample_utils import make_sampler

from metal_kernels import block_diagonal, pack_mask

from .tree import build_tree, top_prefixes, walk
from .types import SOURCE_DFLASH, SOURCE_TARGET, SOURCE_VP, CycleStats


@dataclass
class DecodeOptions:
    mode: str = "d2sd"
    block_size: int = 16  # γ: anchor + γ-1 draft tokens per row
    branches: int = 4  # K: VP branches per cycle (the cap on K under budget "auto")
    max_nodes: int | None = None  # cap on verified tree nodes
    temp: float = 0.0
    top_p: float = 0.0
    top_k: int = 0
    distinct_branches: bool = True  # a VP branch's first token differs from the DFlash token it replaces
    budget: str = "fixed"  # "fixed": the paper's tree; "auto": per-cycle selection (budget.py)


@dataclass
class Step:
    """Tokens committed by one cycle (or by the prefill), with where each came from."""

    tokens: list[int]
    sources: list[str]
    cycle: CycleStats | None = None


def _masks(block: int, rows: int):
    """Packed visibility for `rows` independent bidirectional blocks of length `block`."""
    return pack_mask(block_diagonal([block] * rows))


class Sampler:
    """The target's token at each of N rows: argmax at T=0, else an independent draw per row."""

    def __init__(self, temp: float, top_p: float, top_k: int):
        self.greedy = temp == 0
        self._sample = make_sampler(temp=temp, top_p=top_p, top_k=top_k)

    def __call__(self, logits: mx.array) -> mx.array:
        if self.greedy:
            return mx.argmax(logits, axis=-1)
        return self._sample(logits - mx.logsumexp(logits, axis=-1, keepdims=True))


def decode(target, drafter, vp_drafter, prompt: mx.array, opts: DecodeOptions, budget=None) -> Iterator[Step]:
    """Yield committed tokens cycle by cycle, forever (the caller stops on EOS / max tokens).

    budget: the `budget.Budget` to consult when opts.budget is "auto" (made here if not given).
    """
    sample = Sampler(opts.temp, opts.top_p, opts.top_k)
    cache = target.make_cache()
    if opts.mode == "ar":
        yield from _decode_ar(target, cache, prompt, sample)
        return

    taps = drafter.config.target_layer_ids
    logits, pending = target.prefill(prompt, cache, taps)
    anchor = int(sample(logits[None])[0])
    yield Step([anchor], [SOURCE_TARGET])

    gamma = opts.block_size
    mask_id = drafter.config.mask_token_id
    d_cache = drafter.make_cache()
    second = None
    if opts.mode == "dflash2":
        second, v_cache = drafter, d_cache
    elif opts.mode == "d2sd":
        second, v_cache = vp_drafter, vp_drafter.make_cache()
    k_branches = min(opts.branches, gamma - 1) if second is not None else 0
    if opts.budget != "auto":
        budget = None
    elif budget is None:
        from .budget import for_decode

        budget = for_decode(target, drafter, vp_drafter, opts)
    one_row_mask = _masks(gamma, 1)
    row_masks = {}
    split_vp = second is not None and second is not drafter
    d_lag: list[mx.array] = [pending]  # committed features the DFlash drafter has not seen yet
    vp_lag: list[mx.array] = [pending] if split_vp else []  # … and the VP drafter
    offsets = np.arange(gamma)
    draft_sel = mx.arange(1, gamma)

    def committed(feats):
        d_lag.append(feats)
        if split_vp:
            vp_lag.append(feats)

    while True:
        n_plain = budget.plain_steps() if budget is not None else 0
        if n_plain:  # drafting has not been paying: plain one-token steps, pipelined like `ar`
            spent, t = 0.0, time.perf_counter()
            for tok, feats in _plain_steps(target, cache, taps, sample, anchor, n_plain):
                now = time.perf_counter()
                spent += now - t
                committed(feats)
                anchor = tok
                yield Step([tok], [SOURCE_TARGET], CycleStats(1, "none", 1, 0, 0.0, now - t, drafted=False))
                t = time.perf_counter()
            budget.observe_steps(spent, n_plain)
            continue

        start = cache[0].offset
        t0 = time.perf_counter()
        # 1. DFlash draft: [anchor, MASK × (γ-1)] → tokens and confidences.
        block = mx.array([[anchor] + [mask_id] * (gamma - 1)], dtype=mx.int32)
        positions = mx.arange(start, start + gamma, dtype=mx.int32)
        ctx = _lagged(d_lag)
        d_lag.clear()
        logits = drafter.draft(target, block, positions, ctx, d_cache, one_row_mask, draft_sel)
        probs = mx.softmax(logits.astype(mx.float32), axis=-1)
        draft = mx.argmax(probs, axis=-1)
        conf = mx.max(probs, axis=-1)
        mx.eval(draft, conf)
        draft = draft.tolist()
        conf = np.array(conf)
        t_d = time.perf_counter()
        rows, names = [[anchor] + draft], ["dflash"]

        # 2-3. Top-K rejection points (or the budget's anchors), re-drafted by the VP drafter in one batched pass.
        if budget is not None:
            prefixes = budget.plan(conf)
        else:
            prefixes = top_prefixes(conf, k_branches) if k_branches else []
        vp_conf, vp_rows_drafted = None, 0
        if prefixes:
            n = len(prefixes)
            fills: dict[int, tuple[list[int], np.ndarray | None]] = {}
            # A branch at prefix 0 has DFlash's own input [anchor, MASK…], so it comes from the DFlash
            # pass itself, the specialist of that block (in dflash2 a second pass would repeat it);
            # the second drafter's pass drafts only the branches at i ≥ 1.
            vp_pref = [i for i in prefixes if i != 0]
            vp_rows_drafted = len(vp_pref)
            if len(vp_pref) < n:
                fills[0] = _zero_branch(logits, probs, draft, conf, opts.distinct_branches, budget is not None)
            if vp_pref:
                m = len(vp_pref)
                vp_rows = [[anchor] + draft[:i] + [mask_id] * (gamma - 1 - i) for i in vp_pref]
                if m not in row_masks:
                    row_masks[m] = _masks(gamma, m)
                flat = mx.array(vp_rows, dtype=mx.int32).reshape(1, -1)
                pos = mx.array(np.tile(offsets, m) + start, dtype=mx.int32)
                ctx = None
                if split_vp:  # the VP drafter's own context cache catches up
                    ctx = _lagged(vp_lag)
                    vp_lag.clear()
                want = mx.array([r * gamma + p for r, i in enumerate(vp_pref) for p in range(i + 1, gamma)])
                out = second.draft(target, flat, pos, ctx, v_cache, row_masks[m], want)
                if opts.distinct_branches:
                    # A branch is anchored where the DFlash token t_{i+1} is likely rejected, and the
                    # spine already offers t_{i+1}: the branch's first token is the best alternative.
                    firsts = np.cumsum([0] + [gamma - 1 - i for i in vp_pref[:-1]])
                    out[mx.array(firsts), mx.array([draft[i] for i in vp_pref])] = -mx.inf
                if budget is None:
                    fill, vc = mx.argmax(out, axis=-1).tolist(), None
                else:  # the budget also needs the VP confidences: one transfer for both
                    fill = mx.argmax(out, axis=-1)
                    vc = mx.max(mx.softmax(out.astype(mx.float32), axis=-1), axis=-1)
                    mx.eval(fill, vc)
                    fill, vc = fill.tolist(), np.array(vc)
                j = 0
                for i in vp_pref:
                    w = gamma - 1 - i
                    fills[i] = (fill[j : j + w], vc[j : j + w] if vc is not None else None)
                    j += w
            # Highest r(i) first, so a node cap trims the least likely branches.
            order = sorted(prefixes, key=lambda i: -_r_value(conf, i))
            rows += [[anchor] + draft[:i] + fills[i][0] for i in order]
            names += [f"vp{i}" for i in order]
            if budget is not None:
                vp_conf = [fills[i][1] for i in order]
        if budget is not None:
            chosen = budget.select(rows, names, vp_conf)
            if chosen is None:  # no tree pays for itself this cycle: a plain one-token step
                t1 = time.perf_counter()
                logits, feats = target.prefill(mx.array([anchor], dtype=mx.int32), cache, taps)
                anchor = int(sample(logits[None])[0])
                committed(feats)
                t2 = time.perf_counter()
                budget.observe_cycle(None, 1, t_d - t0, t1 - t_d, vp_rows_drafted, t2 - t1, 1)
                yield Step([anchor], [SOURCE_TARGET], CycleStats(1, "none", 1, len(prefixes), t1 - t0, t2 - t1))
                continue
            rows, names = chosen
        t1 = time.perf_counter()

        # 4. One verify pass over the trie; walk it with the target's tokens; commit.
        tree = build_tree(rows, names, opts.max_nodes)
        ver = target.verify(
            mx.array(tree.tokens), mx.array(tree.depths + start), tree.packed_visible(), cache, taps
        )
        picks = np.array(sample(ver.logits))
        path, emitted = walk(tree, picks)
        target.commit(cache, ver.kv, path)
        committed(ver.feats[mx.array(path)] if len(path) > 1 else ver.feats[path[0] : path[0] + 1])
        t2 = time.perf_counter()
        if budget is not None:
            budget.observe_cycle(path, len(emitted), t_d - t0, t1 - t_d, vp_rows_drafted, t2 - t1, tree.size)

        anchor = emitted[-1]
        sources = [SOURCE_DFLASH if tree.rows[i] == "dflash" else SOURCE_VP for i in path[1:]]
        sources.append(SOURCE_TARGET)
        winner = tree.rows[path[-1]] if len(path) > 1 else "none"
        yield Step(emitted, sources, CycleStats(len(emitted), winner, tree.size, len(prefixes), t1 - t0, t2 - t1))


def _zero_branch(logits: mx.array, probs: mx.array, draft: list[int], conf: np.ndarray, distinct: bool,
                 want_conf: bool):
    """The prefix-0 branch from the DFlash pass: its best first token other than t_1 (when
    `distinct`), then its own tail t_2..; returns (tokens after the anchor, confidences or None)."""
    first = draft[0]
    if distinct:
        row0 = mx.where(mx.arange(logits.shape[-1]) == first, -mx.inf, logits[0])
        first = int(mx.argmax(row0))
    if not want_conf:
        return [first] + draft[1:], None
    c = np.array(conf, dtype=np.float64)
    c[0] = float(probs[0, first])
    return [first] + draft[1:], c


def _lagged(lag: list[mx.array]) -> mx.array:
    """The pending committed features [1, S, F], oldest first."""
    return (mx.concatenate(lag) if len(lag) > 1 else lag[0])[None]


def _plain_steps(target, cache, taps, sample: Sampler, anchor: int, n: int) -> Iterator[tuple[int, mx.array]]:
    """n plain target steps from `anchor` through the stock layers (tap features kept), one step
    ahead like `_decode_ar`; yields (token, tap features of the position just committed)."""
    y = mx.array([anchor], dtype=mx.int32)
    logits, feats = target.prefill(y, cache, taps)
    nxt = sample(logits[None])
    mx.async_eval(nxt, feats)
    for i in range(n):
        y, f = nxt, feats
        if i + 1 < n:  # never run past n: each step writes its K/V into the cache
            logits, feats = target.prefill(y, cache, taps)
            nxt = sample(logits[None])
            mx.async_eval(nxt, feats)
        yield int(y[0]), f


def _r_value(conf: np.ndarray, i: int) -> float:
    c = np.asarray(conf, dtype=np.float64)
    return float(np.prod(c[:i]) * (1.0 - c[i]))


def _decode_ar(target, cache, prompt: mx.array, sample: Sampler) -> Iterator[Step]:
    """Plain decoding with the stock model, one step ahead like mlx-lm's generate_step."""
    logits, _ = target.prefill(prompt, cache)
    y = sample(logits[None])
    mx.async_eval(y)
    while True:
        nxt = sample(target.model(y[None], cache=cache)[:, -1])
        mx.async_eval(nxt)
        yield Step([int(y[0])], [SOURCE_TARGET])
        y = nxt
