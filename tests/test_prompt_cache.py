"""PromptCache: a conversation's next call prefills only what follows the prefix it shares with the
last call, and still emits exactly the target's greedy tokens (and, at T>0, the same draws)."""

import numpy as np
import pytest

from d2sd_mlx import Bundle, D2SDError, PromptCache, stream_generate
from d2sd_mlx.drafter import ROLE_VP
from d2sd_mlx.tiny import make_drafter, make_target, target_config
from d2sd_mlx.types import MODES
from oracle import OracleDrafter, greedy_reference
from test_lossless import assert_same

N = 24


def run(bundle, prompt, mode, cache=None, n=N, stop_after=None, **kw):
    tokens, stats = [], None
    for r in stream_generate(bundle, prompt, mode=mode, max_tokens=n, prompt_cache=cache, **kw):
        tokens += r.tokens
        stats = r.stats
        if stop_after is not None and len(tokens) >= stop_after:
            break
    return tokens, stats


def setup(kind, seed, vocab=97):
    cfg = target_config(kind, vocab=vocab, layers=3)
    target = make_target(cfg, seed=seed, scale=3.0)
    block = 4 + seed % 4
    bundle = Bundle(target, make_drafter(cfg, block_size=block, seed=seed + 10),
                    make_drafter(cfg, block_size=block, role=ROLE_VP, seed=seed + 20))
    return target, bundle


@pytest.mark.parametrize("kind", ["llama", "qwen3"])
@pytest.mark.parametrize("seed", range(4))
def test_next_turn_reuses_the_conversation_and_stays_greedy(kind, seed):
    target, bundle = setup(kind, seed)
    rng = np.random.default_rng(seed)
    for mode in MODES:
        cache = PromptCache()
        p1 = rng.integers(0, 96, size=int(rng.integers(4, 12))).tolist()
        out1, s1 = run(bundle, p1, mode, cache)
        assert s1.cached_tokens == 0
        assert_same(target, p1, greedy_reference(target, p1, N), out1, f"{kind} {seed} {mode} turn 1")
        # turn 2: the history (prompt + part of the reply, as a chat template would re-encode it) + new text
        cut = int(rng.integers(1, len(out1)))
        p2 = p1 + out1[:cut] + rng.integers(0, 96, size=3).tolist()
        out2, s2 = run(bundle, p2, mode, cache)
        assert s2.cached_tokens == len(p1) + cut, (mode, s2.cached_tokens)
        assert_same(target, p2, greedy_reference(target, p2, N), out2, f"{kind} {seed} {mode} turn 2")
        # turn 3: an edit inside the first prompt: only the part before it is reused
        p3 = p2[:2] + [(p2[2] + 1) % 96] + p2[3:]
        out3, s3 = run(bundle, p3, mode, cache)
        assert s3.cached_tokens == 2
        assert_same(target, p3, greedy_reference(target, p3, N), out3, f"{kind} {seed} {mode} turn 3")


def test_high_acceptance_trees_commit_into_a_reusable_cache():
    """Oracle drafters accept long paths, so most cached K/V come from verify passes and commits."""
    cfg = target_config("llama", vocab=97, layers=3)
    target = make_target(cfg, seed=5, scale=3.0)
    p1 = list(range(3, 11))
    ref1 = greedy_reference(target, p1, N)
    d, vp = OracleDrafter(target, p1 + ref1, 6, 0.8, 1), OracleDrafter(target, p1 + ref1, 6, 0.8, 2)
    bundle = Bundle(target, d, vp)
    for budget in ("fixed", "auto"):
        cache = PromptCache()
        d.sequence = vp.sequence = p1 + ref1
        out1, s1 = run(bundle, p1, "d2sd", cache, budget=budget)
        assert out1 == ref1 and s1.alpha > 1.5
        p2 = p1 + out1 + [7, 8, 9]
        ref2 = greedy_reference(target, p2, N)
        d.sequence = vp.sequence = p2 + ref2
        out2, s2 = run(bundle, p2, "d2sd", cache, budget=budget)
        assert s2.cached_tokens >= len(p1) + N - 6  # all but the last cycle's uncommitted tail
        assert out2 == ref2


def test_same_prompt_again_and_a_stopped_generation():
    target, bundle = setup("llama", 1)
    p = list(range(5, 17))
    ref = greedy_reference(target, p, N)
    cache = PromptCache()
    out, _ = run(bundle, p, "d2sd", cache, stop_after=5)  # closed after a few tokens
    assert out[:5] == ref[:5]
    out, s = run(bundle, p, "d2sd", cache)
    assert s.cached_tokens == len(p) - 1  # the last prompt token is fed again for the first logits
    assert out == ref
    out, s = run(bundle, p + out[:10], "d2sd", cache)
    assert s.cached_tokens >= len(p) + 5
    assert out == greedy_reference(target, p + ref[:10], N)


def test_switching_mode_starts_afresh():
    target, bundle = setup("qwen3", 2)
    p = list(range(9, 20))
    cache = PromptCache()
    out, _ = run(bundle, p, "d2sd", cache)
    for mode, fresh in (("ar", True), ("ar", False), ("dflash", True), ("d2sd", True), ("d2sd", False)):
        nxt = p + out[:6]
        out2, s = run(bundle, nxt, mode, cache)
        assert (s.cached_tokens == 0) == fresh, (mode, s.cached_tokens)
        assert out2 == greedy_reference(target, nxt, N), mode


@pytest.mark.parametrize("seed", range(3))
def test_sampling_is_unchanged_by_the_cache(seed):
    """At T>0 a token's randomness is keyed by (seed, position): reuse must not change the draws."""
    target, bundle = setup("llama", seed)
    p1 = list(range(20, 30))
    cache = PromptCache()
    out1, _ = run(bundle, p1, "d2sd", cache, temp=1.0, seed=seed)
    p2 = p1 + out1[:8] + [1, 2]
    with_cache, s = run(bundle, p2, "d2sd", cache, temp=1.0, seed=seed + 7)
    without, _ = run(bundle, p2, "d2sd", None, temp=1.0, seed=seed + 7)
    assert s.cached_tokens == len(p1) + 8
    assert with_cache == without


def test_other_target_starts_afresh():
    _, b1 = setup("llama", 0)
    target2, b2 = setup("llama", 3)
    p = list(range(4, 14))
    cache = PromptCache()
    run(b1, p, "dflash", cache)
    out, s = run(b2, p + [3], "dflash", cache)
    assert s.cached_tokens == 0
    assert out == greedy_reference(target2, p + [3], N)


def test_split_target_refuses_a_prompt_cache():
    _, bundle = setup("llama", 0)
    bundle.target.session = lambda gen: gen  # what a split target carries (d2sd_mlx/distributed)
    with pytest.raises(D2SDError, match="prompt_cache"):
        run(bundle, [1, 2, 3], "ar", PromptCache())


@pytest.mark.parametrize("mode", ["dflash", "d2sd"])
def test_drafters_see_the_same_context_as_a_fresh_prefill(mode):
    """The drafters' trimmed caches and pending features must stand for exactly the reused prefix: after
    the call they cover the same positions, with the same keys, as after a fresh prefill."""
    import mlx.core as mx

    target, bundle = setup("llama", 2)
    p1 = list(range(30, 42))
    cache = PromptCache()
    out1, _ = run(bundle, p1, mode, cache, budget="fixed")
    for p2 in (p1 + out1[:9] + [5, 6], p1[:7] + [1, 2, 3]):  # a reply cut short, then an edit
        _, s = run(bundle, p2, mode, cache, budget="fixed")
        fresh = PromptCache()
        run(bundle, p2, mode, fresh, budget="fixed")
        assert s.cached_tokens > 0
        assert cache.tokens == fresh.tokens
        for a, b in ((cache.drafter, fresh.drafter), (cache.second, fresh.second)):
            if b is None:
                assert a is None
                continue
            assert a.count == b.count
            n = min(a.cache[0].offset, b.cache[0].offset)
            assert n > len(p1) // 2
            for ca, cb in zip(a.cache, b.cache):
                ka, kb = ca.kv.keys[..., :n, :], cb.kv.keys[..., :n, :]
                assert mx.allclose(ka, kb, atol=1e-4).item()


def test_a_pass_stopped_midway_is_trimmed_away():
    """An exception inside a drafter pass (after some layers appended context) or between a verify's
    layer commits leaves the caches uneven: the next call uses only what every layer holds."""
    cfg = target_config("llama", vocab=97, layers=3)
    target = make_target(cfg, seed=7, scale=3.0)
    bundle = Bundle(target, make_drafter(cfg, layers=2, block_size=5, seed=17), None)
    p = list(range(40, 52))
    cache = PromptCache()
    out, _ = run(bundle, p, "dflash", cache)
    import mlx.core as mx

    extra = mx.zeros((1, cache.drafter.cache[0].kv.keys.shape[1], 2, cache.drafter.cache[0].kv.keys.shape[-1]))
    cache.drafter.cache[0].append(extra, extra)  # the first drafter layer ran ahead of the second
    assert cache.drafter.count == cache.drafter.cache[1].offset
    nxt = p + out[:8]
    got, s = run(bundle, nxt, "dflash", cache)
    assert 0 < s.cached_tokens <= len(nxt) - 1
    assert got == greedy_reference(target, nxt, N)
    assert len({c.offset for c in cache.drafter.cache}) == 1
    target_layer = cache.target[1]
    target_layer.trim(3)  # a commit that stopped after the first layer: start afresh
    got, s = run(bundle, nxt, "dflash", cache)
    assert s.cached_tokens == 0 and got == greedy_reference(target, nxt, N)


def test_a_freed_model_never_lends_its_cache_to_a_new_one():
    """The caches are tied to the objects themselves, not to their ids (which a new model can reuse)."""
    import gc

    p = list(range(4, 14))
    cache = PromptCache()
    _, b1 = setup("llama", 0)
    run(b1, p, "ar", cache)
    assert cache._owned_by((b1.target, None, None))
    del b1
    gc.collect()
    target2, b2 = setup("llama", 3)
    out, s = run(b2, p + [3], "ar", cache)
    assert s.cached_tokens == 0 and out == greedy_reference(target2, p + [3], N)
