"""Lossless at T>0.

Position-keyed sampling (sampling.py) makes the target's token at each position a function of
(seed, position) only, so every mode, both budgets and any tree emit exactly the tokens `ar` emits
with the same seed: tested for equality on many seeds and settings. What is left to test
statistically is the sampler itself: its draws follow the target's distribution (with a negative
control that the check can fail).
"""

import re

import mlx.core as mx
import numpy as np
import pytest
from mlx_lm.sample_utils import apply_top_k, apply_top_p

from d2sd_mlx import Bundle, stream_generate
from d2sd_mlx.drafter import ROLE_VP
from d2sd_mlx.sampling import Sampler
from d2sd_mlx.tiny import make_drafter, make_target, target_config
from oracle import OracleDrafter

SPEC = [(m, b) for m in ("dflash", "dflash2", "d2sd") for b in ("fixed", "auto")]


def run(bundle, prompt, mode, n, **kw):
    tokens, sources, last = [], [], None
    for last in stream_generate(bundle, prompt, mode=mode, max_tokens=n, **kw):
        tokens += last.tokens
        sources += last.sources
    return tokens, sources, last.stats


# -- exact equality across modes, budgets and trees ---------------------------------------------

@pytest.mark.parametrize("kind", ["llama", "qwen3"])
@pytest.mark.parametrize("seed", range(4))
def test_every_mode_emits_ar_tokens_random_drafters(kind, seed):
    cfg = target_config(kind, vocab=97, layers=3)
    target = make_target(cfg, seed=seed, scale=1.5)
    rng = np.random.default_rng(seed)
    prompt = rng.integers(0, 96, size=int(rng.integers(3, 12))).tolist()
    block = int(rng.integers(4, 9))
    bundle = Bundle(target, make_drafter(cfg, block_size=block, seed=seed + 10),
                    make_drafter(cfg, block_size=block, role=ROLE_VP, seed=seed + 20))
    for temp, top_p, top_k in [(0.8, 0.0, 0), (1.0, 0.9, 0), (0.7, 0.0, 20)]:
        kw = dict(temp=temp, top_p=top_p, top_k=top_k, seed=100 + seed)
        ref, _, stats = run(bundle, prompt, "ar", 30, **kw)
        assert stats.seed == 100 + seed
        for mode, budget in SPEC:
            got, _, _ = run(bundle, prompt, mode, 30, budget=budget, **kw)
            assert got == ref, (mode, budget, kw)


@pytest.mark.parametrize("seed", range(6))
def test_every_mode_emits_ar_tokens_with_accepted_drafts(seed):
    """Drafters that know the sampled text (noisy oracles): most tokens come from drafts, and the
    trees differ from mode to mode and run to run; the text must not."""
    cfg = target_config("qwen3" if seed % 2 else "llama", vocab=97, layers=3)
    target = make_target(cfg, seed=seed, scale=1.5)
    prompt = [5, 17, 42, 8, 3][: 2 + seed % 4]
    kw = dict(temp=0.9, seed=seed, top_p=0.95 if seed % 3 == 0 else 0.0)
    gamma = 6
    ref, _, _ = run(bundle_of(target, cfg, [], gamma), prompt, "ar", 40 + 2 * gamma, **kw)
    seq = prompt + ref
    for branches, cap in [(4, None), (2, 9)]:
        for mode, budget in SPEC:
            bundle = Bundle(target, OracleDrafter(target, seq, gamma, 0.7, seed),
                            OracleDrafter(target, seq, gamma, 0.7, seed + 99))
            got, sources, stats = run(bundle, prompt, mode, 40, budget=budget, branches=branches, max_nodes=cap, **kw)
            assert got == ref[:40], (mode, budget, branches, cap)
            if budget == "fixed":
                assert sum(s != "target" for s in sources) > 10, (mode, sources)


def bundle_of(target, cfg, _, gamma):
    return Bundle(target, make_drafter(cfg, block_size=gamma, seed=1), make_drafter(cfg, block_size=gamma, role=ROLE_VP, seed=2))


def test_without_a_seed_one_is_drawn_and_replays_the_run():
    cfg = target_config("llama", vocab=97, layers=2)
    target = make_target(cfg, seed=3, scale=1.5)
    bundle = bundle_of(target, cfg, [], 5)
    a, _, sa = run(bundle, [1, 2, 3], "d2sd", 30, temp=1.0)
    b, _, sb = run(bundle, [1, 2, 3], "d2sd", 30, temp=1.0)
    assert sa.seed is not None and sb.seed is not None and sa.seed != sb.seed
    assert run(bundle, [1, 2, 3], "ar", 30, temp=1.0, seed=sa.seed)[0] == a
    assert run(bundle, [1, 2, 3], "dflash", 30, temp=1.0, seed=sb.seed)[0] == b
    assert a != b  # 30 tokens from a flat-ish distribution: two seeds agreeing is (practically) impossible


# -- honest sources -------------------------------------------------------------------------

def test_sources_name_the_drafter_that_proposed_each_token():
    """dflash2 branches come from the DFlash drafter; d2sd's branch tokens at i = 0 too (DFlash's own
    alternatives); only what the VP drafter drafted is labelled vp."""
    cfg = target_config("llama", vocab=97, layers=3)
    target = make_target(cfg, seed=1, scale=3.0)
    prompt, gamma = [3, 1, 4], 6
    seq = prompt + run(bundle_of(target, cfg, [], gamma), prompt, "ar", 60)[0]
    labels, winners = {}, {}
    for mode in ("dflash", "dflash2", "d2sd"):
        bundle = Bundle(target, OracleDrafter(target, seq, gamma, 0.5, 3), OracleDrafter(target, seq, gamma, 1.0))
        seen, first_of_branch0 = set(), set()
        for r in stream_generate(bundle, prompt, mode=mode, max_tokens=50, budget="fixed"):
            seen |= set(r.sources)
            assert r.sources[-1] == "target" or r.finish_reason == "length"
            if r.cycle is not None and re.fullmatch(r"(vp|dflash)0(/\d+)?", r.cycle.winner) and len(r.tokens) > 1:
                first_of_branch0.add(r.sources[0])
        labels[mode] = seen
        winners[mode] = {re.sub(r"\d.*", "{i}", w) for w in r.stats.winners}  # "vp3/2" -> "vp{i}"
        assert first_of_branch0 <= {"dflash"}, (mode, first_of_branch0)
    assert labels["dflash"] == {"dflash", "target"}
    assert "vp" not in labels["dflash2"] and "dflash" in labels["dflash2"]
    assert "vp" in labels["d2sd"]
    # winning branch rows are named by the drafter that drafted them
    assert winners["dflash"] <= {"dflash", "none"}
    assert "dflash{i}" in winners["dflash2"] and winners["dflash2"] <= {"dflash", "dflash{i}", "none"}
    assert "vp{i}" in winners["d2sd"] and winners["d2sd"] <= {"dflash", "vp{i}", "none"}


# -- the sampler's distribution -------------------------------------------------------------

def filtered_probs(logits, temp, top_p, top_k):
    lp = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
    if top_p:
        lp = apply_top_p(lp, top_p)
    if top_k:
        lp = apply_top_k(lp, top_k)
    p = np.exp(np.array(lp, dtype=np.float64) / temp)
    return p / p.sum(-1, keepdims=True)


DRAWS = 4000


@pytest.mark.parametrize("temp,top_p,top_k", [(1.0, 0.0, 0), (0.6, 0.0, 0), (1.3, 0.8, 0), (1.0, 0.0, 3)])
def test_sampler_draws_follow_the_distribution(temp, top_p, top_k):
    """Many positions (each its own key) over the same logits: the histogram is the target's
    processed distribution; filtered-out tokens never appear."""
    logits = mx.array([[2.0, 1.5, 1.0, 0.2, -0.5, -1.0, 0.8, 0.1]])
    want = filtered_probs(logits, temp, top_p, top_k)[0]
    sample = Sampler(temp, top_p, top_k, seed=11)
    toks = np.concatenate([np.array(sample(mx.repeat(logits, 500, axis=0), np.arange(s, s + 500)))
                           for s in range(0, DRAWS, 500)])
    emp = np.bincount(toks, minlength=want.size) / DRAWS
    assert emp[want == 0].sum() == 0
    assert 0.5 * np.abs(emp - want).sum() < 0.035, (emp, want)  # a correct sampler: expected TV ≈ 0.015


def test_the_check_has_power():
    """Negative control: draws at the wrong temperature, or repeated keys, fail the same check."""
    logits = mx.array([[2.0, 1.5, 1.0, 0.2, -0.5, -1.0, 0.8, 0.1]])
    want = filtered_probs(logits, 1.0, 0.0, 0)[0]
    wrong_t = np.array(Sampler(0.7, seed=11)(mx.repeat(logits, DRAWS, axis=0), np.arange(DRAWS)))
    same_key = np.array(Sampler(1.0, seed=11)(mx.repeat(logits, DRAWS, axis=0), np.full(DRAWS, 5)))
    for toks in (wrong_t, same_key):
        emp = np.bincount(toks, minlength=want.size) / DRAWS
        assert 0.5 * np.abs(emp - want).sum() > 0.035


def test_a_position_draws_the_same_token_in_any_batch():
    logits = mx.random.normal((6, 50), key=mx.random.key(0))
    s = Sampler(0.9, seed=5)
    alone = [int(s(logits[i : i + 1], [40 + i])[0]) for i in range(6)]
    assert np.array(s(logits, np.arange(40, 46))).tolist() == alone
    perm = np.array([3, 0, 5, 1, 4, 2])
    assert np.array(s(logits[mx.array(perm)], perm + 40)).tolist() == [alone[i] for i in perm]
    # nodes at one depth share the position's noise: the same logits there give the same token
    assert np.array(s(mx.repeat(logits[:1], 3, axis=0), [40, 40, 40])).tolist() == [alone[0]] * 3
    assert Sampler(0.9, seed=6)(logits, np.arange(40, 46)).tolist() != alone
