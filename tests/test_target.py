"""Target.forward's causal pass (prefill, plain steps) is mlx-lm's own forward, bit for bit."""

import mlx.core as mx
import numpy as np
import pytest

from d2sd_mlx.target import causal_block
from d2sd_mlx.tiny import make_target, target_config


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


def test_one_rope_call_is_two():
    """causal_block rotates [q; k] together in one compiled RoPE call: the numbers of rotating each."""
    t = make_target(target_config("llama", vocab=64, layers=1), seed=2)
    layer = t.layers[0]
    x = mx.random.normal((1, 5, 64), key=mx.random.key(1))
    c1, c2 = t.make_cache(), t.make_cache()
    a = causal_block(layer, x, "causal", c1[0])
    b = layer(x, "causal", cache=c2[0])
    assert np.array_equal(np.array(a), np.array(b))
    other = make_target(target_config("llama", vocab=64, layers=1), seed=2)  # same weights, another rotation
    other.layers[0].self_attn.rope.base = 500.0
    assert not np.array_equal(np.array(causal_block(other.layers[0], x, "causal", other.make_cache()[0])), np.array(b))
    # the compiled RMSNorm takes its weight as an input: a new weight is used, not the traced one
    layer.input_layernorm.weight = layer.input_layernorm.weight * 2.0
    c3, c4 = t.make_cache(), t.make_cache()
    assert np.array_equal(np.array(causal_block(layer, x, "causal", c3[0])), np.array(layer(x, "causal", cache=c4[0])))
    assert not np.array_equal(np.array(causal_block(layer, x, "causal", t.make_cache()[0])), np.array(b))
