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
