"""The CPU layout (cpu_layout.py): transposed float32 weights give the same numbers as mlx-lm's own."""

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest
from mlx.utils import tree_flatten

from d2sd_mlx import cpu_layout
from d2sd_mlx.drafter import load_drafter, save_drafter
from d2sd_mlx.errors import D2SDError
from d2sd_mlx.target import Target
from d2sd_mlx.tiny import make_drafter, make_target, target_config

pytestmark = pytest.mark.skipif(mx.default_device() != mx.cpu, reason="the layout applies on the CPU device only")


@pytest.mark.parametrize("kind", ["llama", "qwen3"])  # tied embedding / separate lm_head
def test_forward_is_identical_to_the_native_layout(kind, monkeypatch):
    cfg = target_config(kind, vocab=160, layers=3)
    monkeypatch.setenv(cpu_layout.ENV, "off")
    native = make_target(cfg, seed=4)
    monkeypatch.setenv(cpu_layout.ENV, "auto")
    moved = make_target(cfg, seed=4)
    assert type(native.layers[0].mlp.up_proj) is nn.Linear
    assert isinstance(moved.layers[0].mlp.up_proj, cpu_layout.LinearT)
    head = moved.model.lm_head if kind == "qwen3" else moved.inner.embed_tokens
    assert isinstance(head, (cpu_layout.LinearT, cpu_layout.EmbeddingT))
    tokens = mx.array([3, 17, 99, 4, 150, 8, 8, 21, 60], dtype=mx.int32)
    for rows in (1, 4, 9):
        ca, cb = native.make_cache(), moved.make_cache()
        a = native.forward(tokens[:rows], ca, taps=(0, 2))
        b = moved.forward(tokens[:rows], cb, taps=(0, 2))
        np.testing.assert_allclose(np.array(b.logits), np.array(a.logits), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(np.array(b.feats), np.array(a.feats), rtol=1e-5, atol=1e-5)
        assert np.array_equal(np.array(a.logits).argmax(-1), np.array(b.logits).argmax(-1))
    ids = mx.array([0, 5, 159])
    assert np.array_equal(np.array(moved.head_rows(ids)), np.array(native.head_rows(ids)))
    assert np.array_equal(np.array(moved.embed(ids)), np.array(native.embed(ids)))
    # the checkpoint form is mlx-lm's: same names, same arrays
    want = dict(tree_flatten(native.model.parameters()))
    got = cpu_layout.checkpoint_weights(moved.model)
    assert sorted(got) == sorted(want)
    assert all(np.array_equal(np.array(got[k]), np.array(want[k])) for k in want)
    # mlx-lm's own forward still runs on the moved model
    ref = native.model(tokens[None])
    np.testing.assert_allclose(np.array(moved.model(tokens[None])), np.array(ref), rtol=1e-5, atol=1e-5)


def test_wrapping_a_moved_model_again_and_the_env_switch(monkeypatch):
    cfg = target_config("llama", vocab=160, layers=2)
    t = make_target(cfg, seed=1)
    again = Target(t.model, None, cfg)  # reads shape and dtype through the transposed views
    assert again.vocab_rows == 160 and again.dtype == mx.float32
    monkeypatch.setenv(cpu_layout.ENV, "sometimes")
    with pytest.raises(D2SDError, match=cpu_layout.ENV):
        cpu_layout.wanted(mx.float32)
    monkeypatch.setenv(cpu_layout.ENV, "auto")
    assert cpu_layout.wanted(mx.float32) and not cpu_layout.wanted(mx.bfloat16)


def test_a_drafter_in_the_cpu_layout_saves_in_the_checkpoint_layout(tmp_path):
    cfg = target_config("llama", vocab=160, layers=2)
    target = make_target(cfg, seed=1)
    d = make_drafter(cfg)
    want = dict(tree_flatten(d.parameters()))
    h = mx.random.normal((1, 8, cfg["hidden_size"]), key=mx.random.key(0))
    before = np.array(d.draft_logits(target, d.norm(h)))
    assert cpu_layout.transpose_linears(d) == 1 + 7 * len(d.layers)  # fc + q,k,v,o + gate,up,down per layer
    np.testing.assert_allclose(np.array(d.draft_logits(target, d.norm(h))), before, rtol=1e-6)
    save_drafter(d, tmp_path / "d")
    back = load_drafter(tmp_path / "d")
    got = dict(tree_flatten(back.parameters()))
    assert sorted(got) == sorted(want)  # `weight`, not `weight_t`
    assert all(np.array_equal(np.array(got[k]), np.array(want[k])) for k in want)
