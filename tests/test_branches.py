"""The branch rows of one cycle (decode._branches): branch tokens, re-anchored tails, one context catch-up."""

import mlx.core as mx
import numpy as np

from d2sd_mlx.decode import _branches, ranked_tokens

GAMMA, MASK, V, ANCHOR = 6, 99, 100, 7
DRAFT = [10, 11, 12, 13, 14]  # t_1..t_5


class RecordingDrafter:
    """After a visible prefix that is the DFlash draft t_1..t_e, proposes at position e + 1 (a branch
    token's) t_{e+1} as its best guess and 30 + p as its second; everywhere else (a tail) 40 + p.
    Records every pass."""

    def __init__(self):
        self.calls = []

    def draft(self, target, tokens, positions, ctx, cache, visible, select):
        rows = np.array(tokens).reshape(-1, GAMMA)
        self.calls.append((rows.tolist(), ctx is not None))
        out = np.full((len(np.array(select)), V), -5.0, dtype=np.float32)
        for n, flat in enumerate(np.array(select).tolist()):
            r, p = divmod(flat, GAMMA)
            end = int(np.nonzero(rows[r] != MASK)[0].max())  # last visible position
            if p == end + 1 and rows[r][1 : end + 1].tolist() == DRAFT[:end]:
                out[n, DRAFT[p - 1]], out[n, 30 + p] = 3.0, 2.0
            else:
                out[n, 40 + p] = 3.0
        return mx.array(out)

    def target_ids(self, idx):
        return idx  # no draft vocabulary: columns are target ids


def test_branch_tokens_and_reanchored_tails():
    probs = np.full((GAMMA - 1, V), 1e-4, dtype=np.float32)
    probs[np.arange(GAMMA - 1), DRAFT] = 0.6
    probs[0, 20], probs[0, 21] = 0.2, 0.1  # DFlash's alternatives to t_1
    rank_tok, rank_p = ranked_tokens(mx.array(probs), 3)
    assert rank_tok[:, 0].tolist() == DRAFT and rank_tok[0, 1:].tolist() == [20, 21]

    vp, lag = RecordingDrafter(), [mx.zeros((1, 2, 4))]
    fills = _branches(vp, None, None, lag, ANCHOR, rank_tok, rank_p, DRAFT, [(0, 1), (0, 2), (2, 1), (4, 1)],
                      start=0, gamma=GAMMA, mask_id=MASK, row_masks={}, want_conf=True)

    # prefix 0: DFlash's 1st and 2nd alternatives; prefix 2: the VP drafter's best other than t_3
    assert fills[0, 1][0] == [20, 42, 43, 44, 45]
    assert fills[0, 2][0] == [21, 42, 43, 44, 45]
    assert fills[2, 1][0] == [33, 44, 45]
    assert fills[4, 1][0] == [35]  # a branch at γ-2 ends with its branch token
    assert fills[0, 1][1][0] == rank_p[0, 1] and len(fills[2, 1][1]) == 3

    (pass1, ctx1), (pass2, ctx2) = vp.calls
    assert pass1 == [[ANCHOR, 10, 11, MASK, MASK, MASK], [ANCHOR, 10, 11, 12, 13, MASK]]
    # every tail is re-anchored at its branch token
    assert pass2 == [[ANCHOR, 20, MASK, MASK, MASK, MASK], [ANCHOR, 21, MASK, MASK, MASK, MASK],
                     [ANCHOR, 10, 11, 33, MASK, MASK]]
    assert (ctx1, ctx2) == (True, False) and lag == []  # the lagged context goes in once
