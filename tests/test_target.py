"""Target.forward's causal pass (prefill, plain steps) is mlx-lm's own forward, bit for bit."""

import mlx.core as mx
import numpy as np
import pytest

from d2sd_mlx import blas
from d2sd_mlx.target import causal_block
from d2sd_mlx.tiny import make_target, target_config

bitwise_blas = pytest.mark.skipif(
    not blas.alignment_free(),
    reason="MKL without MKL_CBWR=AUTO,STRICT rounds by memory alignment, so two paths through the same "
           "numbers can differ in the last bits (run with MKL_CBWR=AUTO,STRICT or D2SD_BLAS=openblas)")


@bitwise_blas
@pytest.mark.parametrize("kind", ["llama", "qwen2", "qwen3"])
def test_causal_forward_equals_mlx_lm_bit_for_bit(kind):
    t = make_target(target_config(kind, vocab=160, layers=3), seed=9)
    tokens = mx.array([3, 17, 99, 4, 150, 8, 8, 21, 60, 7, 1], dtype=mx.int32)
    ours, theirs = t.make_cache(), t.make_cache()
    got = t.forward(tokens[:6], ours, taps=(0, 2))
    want = t.model(tokens[None, :6], cache=theirs)[0, -1:]
    assert np.array_equal(np.array(got.logits), np.array(want))
    for i in range(6, tokens.shape[0]):  # plain steps, one token at a time
        got = t.forward(tokens[i : i + 1], ours)
        want = t.model(tokens[None, i : i + 1], cache=theirs)[0]
        assert np.array_equal(np.array(got.logits), np.array(want)), f"step {i}"
    for a, b in zip(ours, theirs):
        assert a.offset == b.offset
        assert np.array_equal(np.array(a.state[0]), np.array(b.state[0]))


@pytest.mark.parametrize("rows", [5, 1])  # a prefill; a one-token step (RoPE and RMSNorm compiled)
def test_one_rope_call_is_two(rows):
    """causal_block rotates [q; k] together in one RoPE call: the numbers of rotating each."""
    t = make_target(target_config("llama", vocab=64, layers=1), seed=2)
    other = make_target(target_config("llama", vocab=64, layers=1), seed=2)  # same weights, another rotation
    other.layers[0].self_attn.rope.base = 500.0
    layer = t.layers[0]
    before = mx.random.normal((1, 3, 64), key=mx.random.key(0))
    x = mx.random.normal((1, rows, 64), key=mx.random.key(1))

    def cache(target):  # three positions already cached: RoPE at position 0 alone would be the identity
        c = target.make_cache()[0]
        target.layers[0](before, "causal", cache=c)
        return c

    a = causal_block(layer, x, "causal", cache(t))
    b = layer(x, "causal", cache=cache(t))
    assert np.array_equal(np.array(a), np.array(b))
    assert not np.array_equal(np.array(causal_block(other.layers[0], x, "causal", cache(other))), np.array(b))
    # the compiled RMSNorm takes its weight as an input: a new weight is used, not the traced one
    layer.input_layernorm.weight = layer.input_layernorm.weight * 2.0
    c = causal_block(layer, x, "causal", cache(t))
    assert np.array_equal(np.array(c), np.array(layer(x, "causal", cache=cache(t))))
    assert not np.array_equal(np.array(c), np.array(b))


def test_long_prompts_are_prefilled_in_chunks_with_the_same_result():
    """A prompt longer than `prefill_chunk` goes in several causal passes (cheaper on the CPU: see
    Target.__init__): its logits and cache match one pass to float rounding, and decoding after it is
    still mlx-lm's greedy decoding."""
    from d2sd_mlx import Bundle, stream_generate
    from d2sd_mlx.drafter import ROLE_VP
    from d2sd_mlx.tiny import make_drafter
    from oracle import greedy_reference

    assert make_target(target_config("llama", vocab=97, layers=2)).prefill_chunk == (
        512 if mx.default_device() == mx.cpu else 2048)
    cfg = target_config("qwen3", vocab=97, layers=3)
    t = make_target(cfg, seed=4, scale=3.0)
    prompt = np.random.default_rng(0).integers(0, 96, size=45).tolist()
    whole, parts = t.make_cache(), t.make_cache()
    one = t.forward(mx.array(prompt, dtype=mx.int32), whole, taps=(1,), chunk=64)
    t.prefill_chunk = 16  # 16 + 16 + 13
    split = t.forward(mx.array(prompt, dtype=mx.int32), parts, taps=(1,))
    assert parts[0].offset == whole[0].offset == 45
    assert mx.allclose(split.logits, one.logits, atol=1e-4).item()
    assert mx.allclose(split.feats, one.feats, atol=1e-4).item() and split.feats.shape == (45, cfg["hidden_size"])
    bundle = Bundle(t, make_drafter(cfg, block_size=5, seed=1), make_drafter(cfg, block_size=5, role=ROLE_VP, seed=2))
    want = greedy_reference(t, prompt, 20)
    for mode in ("ar", "d2sd"):
        got = []
        for r in stream_generate(bundle, prompt, mode=mode, max_tokens=20):
            got += r.tokens
        assert got == want, mode
