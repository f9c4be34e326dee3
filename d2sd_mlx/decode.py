"""The decode loop: one generator serves the modes `ar`, `dflash`, `dflash2` and `d2sd`.

Per cycle: draft a block with the DFlash drafter, pick the top-K likely rejection points from
its confidences, branch there and re-draft the tails with the VP drafter (`_branches`: two
batched passes, the branch tokens then the re-anchored tails), merge all rows into a trie, verify
it in one target pass, walk it with the target's own tokens, commit.

With `budget="auto"` a `budget.Budget` decides per cycle how many branches to draft and where, how
much of each row to verify, and when a plain one-token step (or a run of them) beats drafting.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterator

import mlx.core as mx
import numpy as np

from metal_kernels import block_diagonal, pack_mask

from .sampling import Sampler
from .tree import boundary_posterior, build_tree, top_branches, walk
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
    seed: int = 0  # at T>0 the token at position p is drawn with a key from (seed, p): see sampling.py
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


def decode(target, drafter, vp_drafter, prompt: mx.array, opts: DecodeOptions, budget=None) -> Iterator[Step]:
    """Yield committed tokens cycle by cycle, forever (the caller stops on EOS / max tokens).

    budget: the `budget.Budget` to consult when opts.budget is "auto" (made here if not given).
    """
    sample = Sampler(opts.temp, opts.top_p, opts.top_k, opts.seed)
    cache = target.make_cache()
    if opts.mode == "ar":
        yield from _decode_ar(target, cache, prompt, sample)
        return

    taps = drafter.config.target_layer_ids
    logits, pending = target.prefill(prompt, cache, taps)
    anchor = int(sample(logits[None], [cache[0].offset])[0])
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
        if k_branches:  # the DFlash ranking at each position: its draft token, then J = K alternatives
            rank_tok, rank_p = ranked_tokens(probs, k_branches + 1)
            draft, conf = rank_tok[:, 0].tolist(), rank_p[:, 0]
        else:
            draft, conf = mx.argmax(probs, axis=-1), mx.max(probs, axis=-1)
            mx.eval(draft, conf)
            draft, conf = draft.tolist(), np.array(conf)
        t_d = time.perf_counter()
        rows, names = [[anchor] + draft], ["dflash"]
        drafted_by = {"dflash": [SOURCE_DFLASH] * len(draft)}  # per row name: who drafted each token

        # 2-3. The K likeliest branch starts (or the budget's anchors), re-drafted by the second drafter.
        if budget is not None:
            starts = [(i, 1) for i in budget.plan(conf)]
        else:
            starts = top_branches(conf, rank_p[:, 1:], k_branches) if k_branches else []
        vp_conf, vp_rows_drafted = None, 0
        if starts:
            fills = _branches(second, target, v_cache, vp_lag if split_vp else None, anchor, rank_tok, rank_p, draft,
                              starts, start, gamma, mask_id, row_masks, budget is not None)
            vp_rows_drafted = len(starts)
            # Highest r(i) first, so a node cap trims the least likely branches.
            r = boundary_posterior(conf)
            order = sorted(starts, key=lambda b: (-r[b[0]], b[1]))
            rows += [[anchor] + draft[:i] + fills[i, j][0] for i, j in order]
            names += [f"vp{i}" if j == 1 else f"vp{i}/{j}" for i, j in order]
            # the branch token at i = 0 is DFlash's own alternative; the rest comes from the second drafter
            by_second = SOURCE_VP if split_vp else SOURCE_DFLASH
            for (i, j), name in zip(order, names[1:]):
                n = len(fills[i, j][0])
                drafted_by[name] = [SOURCE_DFLASH] * i + [SOURCE_DFLASH if i == 0 else by_second] + [by_second] * (n - 1)
            if budget is not None:
                vp_conf = [fills[b][1] for b in order]
        if budget is not None:
            chosen = budget.select(rows, names, vp_conf)
            if chosen is None:  # no tree pays for itself this cycle: a plain one-token step
                t1 = time.perf_counter()
                logits, feats = target.prefill(mx.array([anchor], dtype=mx.int32), cache, taps)
                anchor = int(sample(logits[None], [cache[0].offset])[0])
                committed(feats)
                t2 = time.perf_counter()
                budget.observe_cycle(None, 1, t_d - t0, t1 - t_d, vp_rows_drafted, t2 - t1, 1)
                yield Step([anchor], [SOURCE_TARGET], CycleStats(1, "none", 1, len(starts), t1 - t0, t2 - t1))
                continue
            rows, names = chosen
        t1 = time.perf_counter()

        # 4. One verify pass over the trie; walk it with the target's tokens; commit.
        tree = build_tree(rows, names, opts.max_nodes, [drafted_by[n][: len(r) - 1] for r, n in zip(rows, names)])
        ver = target.verify(
            mx.array(tree.tokens), mx.array(tree.depths + start), tree.packed_visible(), cache, taps
        )
        picks = np.array(sample(ver.logits, tree.depths + start + 1))  # node at depth d picks position start+d+1
        path, emitted = walk(tree, picks)
        target.commit(cache, ver.kv, path)
        committed(ver.feats[mx.array(path)] if len(path) > 1 else ver.feats[path[0] : path[0] + 1])
        t2 = time.perf_counter()
        if budget is not None:
            budget.observe_cycle(path, len(emitted), t_d - t0, t1 - t_d, vp_rows_drafted, t2 - t1, tree.size)

        anchor = emitted[-1]
        sources = [tree.sources[i] for i in path[1:]] + [SOURCE_TARGET]
        winner = tree.rows[path[-1]] if len(path) > 1 else "none"
        yield Step(emitted, sources, CycleStats(len(emitted), winner, tree.size, len(starts), t1 - t0, t2 - t1))


def ranked_tokens(probs: mx.array, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row of probs [R, V]: the n likeliest tokens and their probabilities, best first."""
    idx = mx.argpartition(-probs, kth=n - 1, axis=-1)[:, :n]
    val = mx.take_along_axis(probs, idx, axis=-1)
    mx.eval(idx, val)
    idx, val = np.array(idx), np.array(val)
    order = np.argsort(-val, axis=-1, kind="stable")
    return np.take_along_axis(idx, order, axis=-1), np.take_along_axis(val, order, axis=-1)


def _branches(second, target, v_cache, lag: list | None, anchor: int, rank_tok: np.ndarray, rank_p: np.ndarray,
              draft: list[int], starts: list[tuple[int, int]], start: int, gamma: int, mask_id: int,
              row_masks: dict, want_conf: bool) -> dict:
    """The branch rows at `starts`: {(i, j): (tokens after the anchor, confidences or None)}.

    The branch (i, j) keeps t_1..t_i and replaces t_{i+1} by a branch token: the j-th best alternative
    to t_{i+1}, taken from DFlash's own ranking (rank_tok/rank_p) at i = 0 (a second pass over
    [anchor, MASK…] would repeat the DFlash pass) and from one batched pass of the second drafter
    over [anchor, t_1..t_i, MASK…] at i ≥ 1. A second batched pass re-anchors every branch at its
    branch token, [anchor, t_1..t_i, b, MASK…], and re-drafts the tail after it, so the tail continues
    b rather than the t_{i+1} it replaces. `lag`: the committed features the second drafter has not
    seen yet (None when it shares the DFlash drafter's cache), consumed by its first pass.
    """
    first: dict[tuple[int, int], tuple[int, float]] = {}  # (i, j) -> (branch token, its probability)

    def run(rows: list[list[int]], want: list[int]):
        ctx = None
        if lag:
            ctx = _lagged(lag)
            lag.clear()
        m = len(rows)
        if m not in row_masks:
            row_masks[m] = _masks(gamma, m)
        flat = mx.array(rows, dtype=mx.int32).reshape(1, -1)
        pos = mx.array(np.tile(np.arange(gamma), m) + start, dtype=mx.int32)
        return second.draft(target, flat, pos, ctx, v_cache, row_masks[m], mx.array(want))

    later = sorted({i for i, _ in starts if i != 0})
    if later:
        out = run([[anchor] + draft[:i] + [mask_id] * (gamma - 1 - i) for i in later],
                  [r * gamma + i + 1 for r, i in enumerate(later)])
        n = max(j for _, j in starts) + 1
        tok, p = ranked_tokens(mx.softmax(out.astype(mx.float32), axis=-1), n)
        ranked = {i: [(int(t), float(q)) for t, q in zip(tok[r], p[r]) if t != draft[i]] for r, i in enumerate(later)}
    for i, j in starts:
        first[i, j] = (int(rank_tok[0, j]), float(rank_p[0, j])) if i == 0 else ranked[i][j - 1]

    tails = [b for b in starts if b[0] + 2 < gamma]  # (a branch at i = γ-2 ends with its branch token)
    fill: list[int] = []
    conf = None
    if tails:
        out = run([[anchor] + draft[:i] + [first[i, j][0]] + [mask_id] * (gamma - 2 - i) for i, j in tails],
                  [r * gamma + p for r, (i, _) in enumerate(tails) for p in range(i + 2, gamma)])
        if want_conf:  # the budget also needs the confidences: one transfer for both
            probs = mx.softmax(out.astype(mx.float32), axis=-1)
            tok, c = mx.argmax(probs, axis=-1), mx.max(probs, axis=-1)
            mx.eval(tok, c)
            fill, conf = tok.tolist(), np.array(c)
        else:
            fill = mx.argmax(out, axis=-1).tolist()
    fills, k = {}, 0
    for b in starts:
        w = gamma - 2 - b[0] if b in tails else 0
        t, q = first[b]
        fills[b] = ([t] + fill[k : k + w], np.concatenate(([q], conf[k : k + w])) if want_conf else None)
        k += w
    return fills


def _lagged(lag: list[mx.array]) -> mx.array:
    """The pending committed features [1, S, F], oldest first."""
    return (mx.concatenate(lag) if len(lag) > 1 else lag[0])[None]


def _plain_steps(target, cache, taps, sample: Sampler, anchor: int, n: int) -> Iterator[tuple[int, mx.array]]:
    """n plain target steps from `anchor` through the stock layers (tap features kept), one step
    ahead like `_decode_ar`; yields (token, tap features of the position just committed)."""
    y = mx.array([anchor], dtype=mx.int32)
    logits, feats = target.prefill(y, cache, taps)
    nxt = sample(logits[None], [cache[0].offset])
    mx.async_eval(nxt, feats)
    for i in range(n):
        y, f = nxt, feats
        if i + 1 < n:  # never run past n: each step writes its K/V into the cache
            logits, feats = target.prefill(y, cache, taps)
            nxt = sample(logits[None], [cache[0].offset])
            mx.async_eval(nxt, feats)
        yield int(y[0]), f


def _decode_ar(target, cache, prompt: mx.array, sample: Sampler) -> Iterator[Step]:
    """Plain decoding with the stock model, one step ahead like mlx-lm's generate_step."""
    logits, _ = target.prefill(prompt, cache)
    y = sample(logits[None], [cache[0].offset])
    mx.async_eval(y)
    while True:
        logits = target.model(y[None], cache=cache)[:, -1]
        nxt = sample(logits, [cache[0].offset])
        mx.async_eval(nxt)
        yield Step([int(y[0])], [SOURCE_TARGET])
        y = nxt
