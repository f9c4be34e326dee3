"""The decode loop: one generator serves the modes `ar`, `dflash`, `dflash2` and `d2sd`.

One cycle, top to bottom (a `policy.Policy` is asked at the marked points):
  [plain_steps]  the policy may take plain one-token target steps instead of drafting;
  1. draft       the DFlash drafter drafts [anchor, MASK × (γ-1)] in one pass: tokens, confidences,
                 and its ranking of alternatives at each position;
  2. [branch_starts] where to branch (the K likeliest rejection points, or the budget's anchors);
  3. re-draft    the second drafter (VP in d2sd, DFlash itself in dflash2) drafts the branch tokens
                 and the re-anchored tails in two batched passes (`_branches`);
  4. candidates  rows, per-token sources and confidences; [keep] what to verify (or a plain step);
  5. verify      one `Tree` of the kept rows, one target forward over it, the walk with the target's
                 own (position-keyed) tokens, and the commit of the accepted path; [observe].
`ar` is the prefill followed by `plain_steps` forever.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterator

import mlx.core as mx
import numpy as np

from metal_kernels import block_diagonal, pack_mask

from .policy import Candidates, FixedPolicy, Outcome
from .prompt_cache import PromptCache
from .sampling import Sampler
from .tree import boundary_posterior, build_tree, walk
from .types import SOURCE_DFLASH, SOURCE_TARGET, SOURCE_VP, CycleStats


@dataclass
class DecodeOptions:
    block_size: int = 16  # γ: anchor + γ-1 draft tokens per row
    branches: int = 4  # K: alternatives ranked per position (the policy decides how many branches)
    max_nodes: int | None = None  # cap on verified tree nodes
    temp: float = 0.0
    top_p: float = 0.0
    top_k: int = 0
    seed: int = 0  # at T>0 the token at position p is drawn with a key from (seed, p): see sampling.py


@dataclass
class Step:
    """Tokens committed by one cycle (or by the prefill), with where each came from."""

    tokens: list[int]
    sources: list[str]
    cycle: CycleStats | None = None


def _masks(block: int, rows: int):
    """Packed visibility for `rows` independent bidirectional blocks of length `block`."""
    return pack_mask(block_diagonal([block] * rows))


def plain_steps(target, cache, taps, sample: Sampler, token: int, n: int | None = None) -> Iterator[tuple[int, mx.array]]:
    """Plain target steps from `token` (not yet in the cache), one step ahead like mlx-lm's
    generate_step; yields (next token, tap features of the position just fed). n=None: forever."""
    y = mx.array([token], dtype=mx.int32)
    out = target.forward(y, cache, taps=taps)
    nxt = sample(out.logits, [cache[0].offset])
    mx.async_eval(nxt, *([out.feats] if taps else []))
    i = 0
    while n is None or i < n:
        y, f = nxt, out.feats
        i += 1
        if n is None or i < n:  # never run past n: each step writes its K/V into the cache
            out = target.forward(y, cache, taps=taps)
            nxt = sample(out.logits, [cache[0].offset])
            mx.async_eval(nxt, *([out.feats] if taps else []))
        yield int(y[0]), f


def decode(target, drafter, second, prompt: mx.array, opts: DecodeOptions, policy=None,
           state: PromptCache | None = None) -> Iterator[Step]:
    """Yield committed tokens cycle by cycle, forever (the caller stops on EOS / max tokens).

    drafter: the DFlash drafter (None: `ar`); second: the drafter of the branch rows (the VP drafter
    in d2sd, the DFlash drafter itself in dflash2, None in dflash); policy: see policy.py
    (default: the paper's fixed tree with opts.branches branches). state: a `PromptCache` to start from
    (its longest common prefix with `prompt` is not prefilled again) and to leave the caches in.
    """
    sample = Sampler(opts.temp, opts.top_p, opts.top_k, opts.seed)
    split = second is not None and second is not drafter  # the second drafter keeps its own context
    state = state if state is not None else PromptCache()
    ids = prompt.tolist()
    done = state.prepare(target, drafter, second, split, ids)
    seq = state.tokens  # prompt + committed tokens: a new cycle's tokens are added before it is yielded
    cache = state.target
    taps = drafter.config.target_layer_ids if drafter is not None else ()
    out = target.forward(prompt[done:], cache, taps=taps)
    anchor = int(sample(out.logits, [cache[0].offset])[0])
    seq.append(anchor)
    yield Step([anchor], [SOURCE_TARGET])
    if drafter is None:
        for tok, _ in plain_steps(target, cache, (), sample, anchor):
            seq.append(tok)
            yield Step([tok], [SOURCE_TARGET])
        return

    gamma, mask_id = opts.block_size, drafter.config.mask_token_id
    n_alt = min(opts.branches, gamma - 1) if second is not None else 0  # alternatives ranked per position
    policy = policy if policy is not None else FixedPolicy(n_alt)
    by_second = SOURCE_VP if split else SOURCE_DFLASH
    d_cache, d_lag = state.drafter.cache, state.drafter.lag  # d_lag: committed features the drafter has not read
    d_lag.append(out.feats)
    v_cache, v_lag = (state.second.cache, state.second.lag) if split else (d_cache if second is not None else None, None)
    if split:
        v_lag.append(out.feats)
    one_row, row_masks, draft_sel = _masks(gamma, 1), {}, mx.arange(1, gamma)

    def committed(feats):
        d_lag.append(feats)
        if split:
            v_lag.append(feats)

    while True:
        n_plain = policy.plain_steps()
        if n_plain:  # drafting has not been paying: a run of plain steps
            spent, t = 0.0, time.perf_counter()
            for tok, feats in plain_steps(target, cache, taps, sample, anchor, n_plain):
                now = time.perf_counter()
                spent += now - t
                committed(feats)
                anchor = tok
                seq.append(tok)
                yield Step([tok], [SOURCE_TARGET], CycleStats(1, "none", 1, 0, 0.0, now - t, drafted=False))
                t = time.perf_counter()
            policy.observe_plain(spent, n_plain)
            continue

        # 1. draft: [anchor, MASK × (γ-1)] → t_1..t_{γ-1}, confidences, ranked alternatives.
        start = cache[0].offset
        t0 = time.perf_counter()
        block = mx.array([[anchor] + [mask_id] * (gamma - 1)], dtype=mx.int32)
        ctx = _lagged(d_lag)
        d_lag.clear()
        logits = drafter.draft(target, block, mx.arange(start, start + gamma, dtype=mx.int32), ctx, d_cache, one_row,
                               draft_sel)
        rank_tok, rank_p = ranked_tokens(mx.softmax(logits.astype(mx.float32), axis=-1), n_alt + 1)
        rank_tok = drafter.target_ids(rank_tok)
        draft, conf = rank_tok[:, 0].tolist(), rank_p[:, 0]
        t_d = time.perf_counter()

        # 2. where to branch; 3. the branch rows, re-drafted by the second drafter.
        starts = policy.branch_starts(conf, rank_p[:, 1:] if n_alt else None)
        cands = Candidates([[anchor] + draft], ["dflash"], [[SOURCE_DFLASH] * len(draft)], conf)
        if starts:
            fills = _branches(second, target, v_cache, v_lag, anchor, rank_tok, rank_p, draft, starts, start, gamma,
                              mask_id, row_masks, policy.wants_branch_conf)
            r = boundary_posterior(conf)  # highest r(i) first, so a node cap trims the least likely branches
            for i, j in sorted(starts, key=lambda b: (-r[b[0]], b[1])):
                toks, bconf = fills[i, j]
                cands.rows.append([anchor] + draft[:i] + toks)
                cands.names.append(f"{by_second}{i}" if j == 1 else f"{by_second}{i}/{j}")  # named by its drafter
                # the branch token at i = 0 is DFlash's own alternative; the rest comes from the second drafter
                cands.sources.append([SOURCE_DFLASH] * i + [SOURCE_DFLASH if i == 0 else by_second]
                                     + [by_second] * (len(toks) - 1))
                cands.branch_conf.append(bconf)

        # 4. what to verify.
        kept = policy.keep(cands)
        t1 = time.perf_counter()
        if kept is None:  # no tree pays for itself this cycle: a plain one-token step
            tok, feats = next(plain_steps(target, cache, taps, sample, anchor, 1))
            committed(feats)
            anchor = tok
            t2 = time.perf_counter()
            policy.observe(Outcome(None, None, None, 1, len(starts), t_d - t0, t1 - t_d, t2 - t1))
            seq.append(tok)
            yield Step([tok], [SOURCE_TARGET], CycleStats(1, "none", 1, len(starts), t1 - t0, t2 - t1))
            continue

        # 5. one verify pass over the trie; walk it with the target's tokens; commit.
        tree = build_tree(kept.rows, kept.names, opts.max_nodes, kept.sources)
        ver = target.forward(mx.array(tree.tokens), cache, tree=tree, taps=taps)
        picks = np.array(sample(ver.logits, tree.depths + start + 1))  # node at depth d picks position start+d+1
        path, emitted = walk(tree, picks)
        target.commit(cache, ver.kv, path)
        committed(ver.feats[mx.array(path)] if len(path) > 1 else ver.feats[path[0] : path[0] + 1])
        t2 = time.perf_counter()
        policy.observe(Outcome(kept, tree, path, len(emitted), len(starts), t_d - t0, t1 - t_d, t2 - t1))

        anchor = emitted[-1]
        sources = [tree.sources[i] for i in path[1:]] + [SOURCE_TARGET]
        winner = tree.rows[path[-1]] if len(path) > 1 else "none"
        seq.extend(emitted)
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
        tok = second.target_ids(tok)
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
            fill, conf = second.target_ids(np.array(tok)).tolist(), np.array(c)
        else:
            fill = second.target_ids(np.array(mx.argmax(out, axis=-1))).tolist()
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
