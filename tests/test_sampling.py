"""Lossless at T>0: d2sd's tokens follow the target's own distribution (statistical test).

Both budgets: "fixed" (the paper's tree, which must also be seen producing tokens) and "auto"
(budget.py may pick plain steps or small trees; the distribution must not change).
"""

import itertools

import mlx.core as mx
import numpy as np
import pytest

from d2sd_mlx import Bundle, stream_generate
from d2sd_mlx.drafter import ROLE_VP
from d2sd_mlx.tiny import make_drafter, make_target, target_config

V = 6
PROMPT = [1, 2, 3]
RUNS = 500
# Tolerance: total variation distance over V=6 outcomes (2nd token) and 36 pairs (2nd, 3rd); for
# 500 draws the expected TV of a correct sampler is at most about 0.04 / 0.11; we fail above 0.09 / 0.2.
TV_TOL = {"single": 0.09, "pair": 0.2}


def target_probs(target, prefix, temp):
    logits = np.array(target.model(mx.array([prefix]))[0, -1], dtype=np.float64) / temp
    p = np.exp(logits - logits.max())
    return p / p.sum()


def exact_distribution(target, temp):
    """P(x2, x3) for the 2nd and 3rd generated tokens (the 1st comes from the prefill)."""
    joint = np.zeros((V, V))
    p1 = target_probs(target, PROMPT, temp)
    for a in range(V):
        p2 = target_probs(target, PROMPT + [a], temp)
        for b in range(V):
            p3 = target_probs(target, PROMPT + [a, b], temp)
            joint[b] += p1[a] * p2[b] * p3
    return joint  # joint[x2, x3]


def sample_many(bundle, mode, temp, runs=RUNS, **kw):
    counts = np.zeros((V, V))
    drafted = 0
    for seed in range(runs):
        toks = []
        for r in stream_generate(bundle, PROMPT, mode=mode, max_tokens=3, temp=temp, seed=seed, **kw):
            toks += r.tokens
            drafted += sum(s != "target" for s in r.sources)
        counts[toks[1], toks[2]] += 1
    sample_many.drafted = drafted
    return counts / runs


def check(emp, exact):
    tv_single = 0.5 * np.abs(emp.sum(1) - exact.sum(1)).sum()
    tv_pair = 0.5 * np.abs(emp - exact).sum()
    return tv_single, tv_pair


@pytest.fixture(scope="module")
def bundle():
    cfg = target_config("llama", vocab=V, layers=2, hidden=32, heads=2, kv_heads=1)
    target = make_target(cfg, seed=4, scale=0.6)
    return Bundle(target, make_drafter(cfg, block_size=4, seed=5), make_drafter(cfg, block_size=4, role=ROLE_VP, seed=6))


@pytest.mark.parametrize("temp,budget", [(1.0, "fixed"), (0.6, "fixed"), (1.0, "auto")])
def test_d2sd_samples_from_the_target(bundle, temp, budget):
    exact = exact_distribution(bundle.target, temp)
    emp = sample_many(bundle, "d2sd", temp, budget=budget)
    tv1, tv2 = check(emp, exact)
    assert tv1 < TV_TOL["single"] and tv2 < TV_TOL["pair"], (tv1, tv2)
    if budget == "fixed":
        assert sample_many.drafted > RUNS // 10  # the tree walk, not just bonus tokens, produced tokens


def test_the_check_has_power(bundle):
    """Negative control: samples drawn at the wrong temperature are caught."""
    exact = exact_distribution(bundle.target, 1.0)
    emp = sample_many(bundle, "d2sd", 0.25, budget="fixed")
    tv1, tv2 = check(emp, exact)
    assert tv1 > TV_TOL["single"] or tv2 > TV_TOL["pair"], (tv1, tv2)
