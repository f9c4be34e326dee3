"""Lossless at T=0: every mode emits exactly mlx-lm's plain greedy tokens, on many seeds.

The speculative modes run with both budgets: "fixed" (the paper's tree) and "auto" (budget.py picks
the tree, or plain steps, per cycle from a cost model calibrated on first use).
"""

import numpy as np
import pytest

from d2sd_mlx import Bundle, stream_generate
from d2sd_mlx.drafter import ROLE_VP
from d2sd_mlx.tiny import make_drafter, make_target, target_config
from d2sd_mlx.types import MODES
from oracle import OracleDrafter, greedy_reference

N_TOKENS = 40


def run(bundle, prompt, mode, n=N_TOKENS, **kw):
    tokens, last = [], None
    for r in stream_generate(bundle, prompt, mode=mode, max_tokens=n, **kw):
        tokens += r.tokens
        last = r
    return tokens, last.stats


def first_divergence_gap(target, prompt, ref, got):
    """Logit gap of the target's top-2 at the first differing position (near-tie report)."""
    import mlx.core as mx

    i = next(k for k, (a, b) in enumerate(zip(ref, got)) if a != b)
    logits = target.model(mx.array([prompt + ref[:i]]))[0, -1]
    top = np.sort(np.array(logits))[-2:]
    return i, float(top[1] - top[0])


def assert_same(target, prompt, ref, got, what):
    if ref != got:
        i, gap = first_divergence_gap(target, prompt, ref, got)
        pytest.fail(f"{what}: diverges from greedy at token {i} (target top-2 logit gap {gap:.3g})")


@pytest.mark.parametrize("budget", ["fixed", "auto"])
@pytest.mark.parametrize("kind", ["llama", "qwen3"])
@pytest.mark.parametrize("seed", range(6))
def test_random_drafters_match_greedy(kind, seed, budget):
    cfg = target_config(kind, vocab=97, layers=3)
    target = make_target(cfg, seed=seed, scale=3.0)
    rng = np.random.default_rng(seed)
    prompt = rng.integers(0, 96, size=int(rng.integers(3, 12))).tolist()
    ref = greedy_reference(target, prompt, N_TOKENS)
    block = int(rng.integers(4, 9))
    bundle = Bundle(target, make_drafter(cfg, block_size=block, seed=seed + 10),
                    make_drafter(cfg, block_size=block, role=ROLE_VP, seed=seed + 20))
    for mode in MODES if budget == "fixed" else MODES[1:]:
        got, _ = run(bundle, prompt, mode, budget=budget)
        assert_same(target, prompt, ref, got, f"{kind} seed {seed} mode {mode} budget {budget}")


@pytest.mark.parametrize("budget", ["fixed", "auto"])
@pytest.mark.parametrize("kind", ["llama", "qwen3"])
@pytest.mark.parametrize("seed", range(3))
def test_oracle_accepts_full_blocks(kind, seed, budget):
    cfg = target_config(kind, vocab=97, layers=3)
    target = make_target(cfg, seed=seed, scale=3.0)
    prompt = [5, 17, 42, 8][: 2 + seed]
    gamma = 6
    ref = greedy_reference(target, prompt, N_TOKENS + 2 * gamma)
    seq = prompt + ref
    oracle = OracleDrafter(target, seq, gamma)
    bundle = Bundle(target, oracle, OracleDrafter(target, seq, gamma))
    for mode in ("dflash", "dflash2", "d2sd"):
        got, stats = run(bundle, prompt, mode, budget=budget)
        assert_same(target, prompt, ref[:N_TOKENS], got, f"oracle {mode} budget {budget}")
        if budget == "fixed":
            assert stats.alpha == gamma, (mode, stats.accepted_lengths)
            assert set(stats.winners) == {"dflash"}
        else:
            # On a model this small a plain step can be worth more than a verify, and how much of the
            # chain pays to verify depends on this machine's timings (the budget may trim it, more so
            # under load); what never depends on timing is that every verified oracle node is accepted.
            assert stats.nodes_verified == sum(stats.accepted_lengths), (mode, stats.accepted_lengths)
            assert max(stats.accepted_lengths) > 1, (mode, stats.accepted_lengths)
            assert set(stats.winners) <= {"dflash", "none"}


def test_noisy_oracle_d2sd_beats_dflash():
    """With a drafter right 70% of the time, re-drafting tails makes more tokens stick per cycle."""
    alphas = {"dflash": [], "d2sd": []}
    for seed in range(4):
        cfg = target_config("llama", vocab=97, layers=3)
        target = make_target(cfg, seed=seed, scale=3.0)
        prompt = [3, 1, 4, 1, 5][: 3 + seed % 3]
        gamma = 8
        ref = greedy_reference(target, prompt, 60 + 2 * gamma)
        seq = prompt + ref
        for mode in alphas:
            bundle = Bundle(target, OracleDrafter(target, seq, gamma, 0.7, seed), OracleDrafter(target, seq, gamma, 0.7, seed + 99))
            got, stats = run(bundle, prompt, mode, n=60, budget="fixed")  # the paper's tree: α, not tokens/s
            assert_same(target, prompt, ref[:60], got, f"noisy oracle {mode}")
            alphas[mode].append(stats.alpha)
    assert np.mean(alphas["d2sd"]) > np.mean(alphas["dflash"]) * 1.1, alphas


@pytest.mark.parametrize("budget", ["fixed", "auto"])
def test_node_cap_and_branch_counts_stay_lossless(budget):
    cfg = target_config("qwen3", vocab=97, layers=3)
    target = make_target(cfg, seed=7, scale=3.0)
    prompt = [9, 8, 7]
    ref = greedy_reference(target, prompt, 30)
    seq = prompt + ref
    bundle = Bundle(target, OracleDrafter(target, seq, 8, 0.6, 1), OracleDrafter(target, seq, 8, 0.6, 2))
    for branches, cap in [(0, None), (1, None), (7, None), (4, 10), (4, 1)]:
        got, stats = run(bundle, prompt, "d2sd", n=30, branches=branches, max_nodes=cap, budget=budget)
        assert_same(target, prompt, ref, got, f"branches {branches} cap {cap} budget {budget}")
        if cap is not None:
            assert stats.nodes_verified <= cap * stats.cycles


def test_decode_without_a_policy_runs_the_papers_tree():
    """decode() called directly, with no policy, builds the FixedPolicy itself (K = the ranked alternatives)."""
    import mlx.core as mx

    from d2sd_mlx.decode import DecodeOptions, decode

    cfg = target_config("llama", vocab=97, layers=3)
    target = make_target(cfg, seed=2, scale=3.0)
    prompt = [5, 17, 33, 2]
    ref = greedy_reference(target, prompt, 20)
    d, vp = make_drafter(cfg, block_size=6, seed=12), make_drafter(cfg, block_size=6, role=ROLE_VP, seed=22)
    got, ks = [], []
    for step in decode(target, d, vp, mx.array(prompt, dtype=mx.int32), DecodeOptions(block_size=6, branches=3)):
        got += step.tokens
        if step.cycle is not None:
            ks.append(step.cycle.branches)
        if len(got) >= 20:
            break
    assert_same(target, prompt, ref, got[:20], "decode() without a policy")
    assert ks and all(k == 3 for k in ks)  # the fixed tree: every cycle branches min(K, γ-1) = 3 times
