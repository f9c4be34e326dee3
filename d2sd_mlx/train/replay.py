"""Offline T=0 acceptance: replay stored greedy answers through the drafters, no target passes.

At T=0 the target's token at every position of a stored greedy answer is known (it is the
answer), so a decode cycle anchored at position a accepts the longest prefix of any candidate
row that matches tokens[a+1:], and the next cycle is anchored at a + accepted + 1. Drafts need
only the stored tap features (the context strictly before a), so all drafts are computed in a
few batched drafter passes and the cycles are replayed in numpy for `dflash`, `dflash2` and
`d2sd` and any K at once. A branch at prefix i whose prefix already holds a wrong DFlash token
cannot beat the DFlash row, so only branches with i ≤ (accepted DFlash tokens) are drafted.

This is the tuning and training-time estimate; `python -m d2sd_mlx.bench` measures real decoding.
"""

from __future__ import annotations

from dataclasses import dataclass

import mlx.core as mx
import numpy as np

from ..decode import ranked_tokens
from ..tree import top_branches
from .blocks import block_mask

_CHUNK = 48  # blocks per drafter pass


@dataclass
class Drafts:
    """Per anchor of one answer: the DFlash draft's confidences and ranking, and each branch's accepted length."""

    anchors: np.ndarray  # int [A] positions (anchor token = tokens[a])
    conf: np.ndarray  # float [A, γ-1] the DFlash draft tokens' probabilities
    alt: np.ndarray  # float [A, γ-1, J] … and its J best alternatives' at each position
    spine: np.ndarray  # int [A] accepted tokens of the DFlash row
    branch: dict  # second drafter name -> int [A, γ-1, J] accepted tokens of the branch (i, j)


def _hidden(drafter, target, feats: mx.array, tokens: np.ndarray, anchors: np.ndarray, gamma: int) -> mx.array:
    """Drafter hidden states [R, γ, H] for R blocks `tokens` [R, γ] anchored at `anchors` [R]."""
    n_ctx = int(anchors.max())
    R = len(anchors)
    pos = (anchors[:, None] + np.arange(gamma)[None]).reshape(1, -1)
    mask = block_mask(anchors, n_ctx, gamma)[None, None]
    emb = target.embed(mx.array(tokens.reshape(1, -1), dtype=mx.int32))
    h = drafter.forward_train(emb, mx.array(pos, dtype=mx.int32), feats[None, :n_ctx].astype(mx.float32),
                              mx.arange(n_ctx)[None], mx.array(mask))
    return h.reshape(R, gamma, -1)


def _ranking(drafter, target, feats, blocks: np.ndarray, anchors: np.ndarray, gamma: int, n: int,
             at: np.ndarray | None = None):
    """The n likeliest tokens and their probabilities, best first: at every drafted position
    [R, γ-1, n], or only at block position at[r] of each row [R, n]."""
    h = _hidden(drafter, target, feats, blocks, anchors, gamma)
    h = h[:, 1:] if at is None else h[mx.arange(len(anchors)), mx.array(at)]
    p = mx.softmax(drafter.draft_logits(target, h).astype(mx.float32), axis=-1)
    tok, val = ranked_tokens(p.reshape(-1, p.shape[-1]), n)
    tok = drafter.target_ids(tok)
    shape = (len(anchors), n) if at is not None else (len(anchors), gamma - 1, n)
    return tok.reshape(shape), val.reshape(shape)


def _matched(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Length of the common prefix of each row of pred and truth (int [R])."""
    ok = pred == truth
    return np.where(ok.all(axis=1), ok.shape[1], np.argmin(ok, axis=1))


def draft_answer(target, drafter, seconds: dict, tokens: np.ndarray, loss_mask: np.ndarray, feats: mx.array,
                 gamma: int, max_new: int | None = None, alts: int = 4) -> Drafts | None:
    """All drafts for one stored answer (the anchors are the answer's positions, its first token
    onward), with the branches (i, j) for j ≤ `alts` alternatives, built as in `decode._branches`."""
    resp = np.nonzero(loss_mask)[0]
    if len(resp) < 2:
        return None
    first = int(resp[0])
    end = len(tokens) if max_new is None else min(len(tokens), first + max_new)
    anchors = np.arange(first, end - 1)  # a cycle runs while fewer than `max_new` tokens are out
    mask_id = drafter.config.mask_token_id
    padded = np.concatenate([tokens, np.full(gamma, -1)])  # the last cycle may accept past max_new
    truth = np.stack([padded[a + 1 : a + gamma] for a in anchors])  # [A, γ-1], -1 past the end
    rank_tok, rank_p = [], []
    for s in range(0, len(anchors), _CHUNK):
        an = anchors[s : s + _CHUNK]
        blocks = np.full((len(an), gamma), mask_id, np.int64)
        blocks[:, 0] = tokens[an]
        t, p = _ranking(drafter, target, feats, blocks, an, gamma, alts + 1)
        rank_tok.append(t)
        rank_p.append(p)
    rank_tok, rank_p = np.concatenate(rank_tok), np.concatenate(rank_p)
    draft = rank_tok[:, :, 0]
    spine = _matched(draft, truth)

    branch = {}
    # Only branches at i ≤ spine (and i ≤ γ-2) can change the outcome; the rest equal the spine's.
    need = [(r, i) for r in range(len(anchors)) for i in range(min(int(spine[r]), gamma - 2) + 1)]
    k = np.arange(gamma)[None]
    for name, second in seconds.items():
        got = np.repeat(spine[:, None, None], gamma - 1, axis=1).repeat(alts, axis=2)
        for s in range(0, len(need), _CHUNK):
            part = need[s : s + _CHUNK]
            rows = np.array([r for r, _ in part])
            pref = np.array([i for _, i in part])
            idx = np.arange(len(rows))
            known = np.concatenate([tokens[anchors[rows]][:, None], draft[rows]], axis=1)
            # the branch tokens: DFlash's alternatives at prefix 0, the second drafter's at i ≥ 1
            b_tok = rank_tok[rows, 0, 1:]  # [R, J]
            m = pref > 0
            if m.any():  # the second drafter ranks position i+1 after [anchor, t_1..t_i, MASK…]
                t, _ = _ranking(second, target, feats, np.where(k <= pref[m, None], known[m], mask_id), anchors[rows[m]],
                                gamma, alts + 1, at=pref[m] + 1)
                keep = t != draft[rows[m], pref[m]][:, None]
                b_tok[m] = np.stack([t[r][keep[r]][:alts] for r in range(len(t))])
            for j in range(alts):  # re-anchored at the branch token: the tail is drafted after it
                kn = known.copy()
                kn[idx, pref + 1] = b_tok[:, j]
                fill = second.target_ids(np.array(mx.argmax(second.draft_logits(target,
                    _hidden(second, target, feats, np.where(k <= pref[:, None] + 1, kn, mask_id), anchors[rows],
                            gamma)[:, 1:]), axis=-1)))
                fill[idx, pref] = b_tok[:, j]
                row = np.where(np.arange(gamma - 1)[None] < pref[:, None], draft[rows], fill)
                got[rows, pref, j] = _matched(row, truth[rows])
        branch[name] = got
    return Drafts(anchors, rank_p[:, :, 0], rank_p[:, :, 1:], spine, branch)


def replay(d: Drafts, mode: str, k: int) -> tuple[int, int]:
    """Replay one answer's decode: (tokens committed by the cycles, cycles), counted like `Stats.alpha`
    (the last cycle's tokens in full, even past the end)."""
    a, n, cycles, emitted = 0, len(d.anchors), 0, 0
    while a < n:
        acc = int(d.spine[a])
        if mode != "dflash" and k:
            got = d.branch["dflash" if mode == "dflash2" else "vp"][a]
            for i, j in top_branches(d.conf[a], d.alt[a, :, :k], k):
                acc = max(acc, int(got[i, j - 1]))
        emitted += acc + 1
        a += acc + 1
        cycles += 1
    return emitted, cycles


def alpha_table(target, dflash, vp, seqs, gamma: int, ks=(4,), max_new: int | None = None, progress=None) -> dict:
    """α per mode (and K) over the stored answers: {"dflash": α, "dflash2/K": α, "d2sd/K": α}."""
    seconds = {"dflash": dflash}
    if vp is not None:
        seconds["vp"] = vp
    drafts = []
    for s in seqs:
        d = draft_answer(target, dflash, seconds, s.tokens, s.loss_mask, s.feats, gamma, max_new, max(ks, default=1))
        if d is not None:
            drafts.append(d)
        if progress is not None:
            progress.update(1)
    out = {}
    for mode, kk in [("dflash", 0)] + [(m, k) for k in ks for m in ("dflash2", "d2sd") if m != "d2sd" or vp is not None]:
        tot = [replay(d, mode, kk) for d in drafts]
        key = mode if mode == "dflash" else f"{mode}/K{kk}"
        out[key] = sum(t for t, _ in tot) / max(1, sum(c for _, c in tot))
    return out
