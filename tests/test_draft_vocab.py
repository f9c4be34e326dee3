"""Draft vocabulary: a drafter predicts over a stored subset of token ids, the target still verifies."""

import json

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten

from d2sd_mlx import Bundle, stream_generate
from d2sd_mlx.drafter import ROLE_VP, load_drafter, save_drafter
from d2sd_mlx.errors import D2SDError
from d2sd_mlx.tiny import make_drafter, make_target, target_config
from oracle import greedy_reference

VOCAB = 97


def _with_vocab(d, ids):
    d.set_draft_vocab(np.array(sorted(ids), dtype=np.int32))
    return d


def test_logits_are_the_head_rows_and_minus_inf_elsewhere():
    cfg = target_config("llama", vocab=VOCAB, layers=3)
    target = make_target(cfg, seed=0)
    ids = np.array([0, 3, 5, 17, 40, 96])
    d = _with_vocab(make_drafter(cfg), ids)
    h = mx.random.normal((2, 5, cfg["hidden_size"]))
    got = np.array(d.logits(target, h))
    full = np.array(target.head(h))
    assert got.shape == full.shape
    np.testing.assert_allclose(got[..., ids], full[..., ids], rtol=1e-5, atol=1e-5)
    outside = np.setdiff1d(np.arange(VOCAB), ids)
    assert np.all(np.isneginf(got[..., outside]))
    assert set(np.unique(got.argmax(-1))) <= set(ids.tolist())


def test_ranking_the_draft_columns_matches_ranking_the_full_logits():
    """Decoding ranks `draft_logits` (Vd columns) and maps them with `target_ids`: the same tokens and
    probabilities as ranking the V-wide `logits`, without building a V-wide row."""
    from d2sd_mlx.decode import ranked_tokens

    cfg = target_config("llama", vocab=VOCAB, layers=3)
    target = make_target(cfg, seed=1)
    ids = np.array([2, 3, 8, 13, 21, 34, 55, 89])
    d = _with_vocab(make_drafter(cfg), ids)
    h = mx.random.normal((6, cfg["hidden_size"]), key=mx.random.key(3))
    small = d.draft_logits(target, h)
    assert small.shape == (6, len(ids))
    tok_s, p_s = ranked_tokens(mx.softmax(small, axis=-1), 3)
    tok_f, p_f = ranked_tokens(mx.softmax(d.logits(target, h), axis=-1), 3)
    assert d.target_ids(tok_s).tolist() == tok_f.tolist()
    np.testing.assert_allclose(p_s, p_f, rtol=1e-5)
    assert set(d.target_ids(tok_s).ravel().tolist()) <= set(ids.tolist())
    plain = make_drafter(cfg)  # no draft vocabulary: columns are target ids
    assert plain.draft_logits(target, h).shape == (6, VOCAB) and plain.target_ids(tok_f) is tok_f


def test_save_load_keeps_int_vocab_in_bf16(tmp_path):
    cfg = target_config("llama", vocab=VOCAB, layers=3)
    d = _with_vocab(make_drafter(cfg), [1, 2, 50, 60])
    save_drafter(d, tmp_path / "d", dtype=mx.bfloat16)
    raw = mx.load(str(tmp_path / "d" / "model.safetensors"))
    assert raw["draft_vocab"].dtype == mx.int32 and raw["fc.weight"].dtype == mx.bfloat16
    assert json.loads((tmp_path / "d" / "config.json").read_text())["draft_vocab_size"] == 4
    back = load_drafter(tmp_path / "d")
    assert back.config.draft_vocab_size == 4
    assert np.array(back.draft_vocab).tolist() == [1, 2, 50, 60]
    assert "draft_vocab" not in dict(tree_flatten(back.trainable_parameters()))


def _write(tmp_path, vocab_ids, size=None):
    cfg = target_config("llama", vocab=VOCAB, layers=3)
    d = _with_vocab(make_drafter(cfg), [1, 2, 3])
    save_drafter(d, tmp_path / "d")
    w = mx.load(str(tmp_path / "d" / "model.safetensors"))
    w["draft_vocab"] = mx.array(vocab_ids, dtype=mx.int32)
    mx.save_safetensors(str(tmp_path / "d" / "model.safetensors"), w)
    if size is not None:
        c = json.loads((tmp_path / "d" / "config.json").read_text())
        c["draft_vocab_size"] = size
        (tmp_path / "d" / "config.json").write_text(json.dumps(c))
    return tmp_path / "d"


@pytest.mark.parametrize(
    "ids, size, needle",
    [
        ([1, 2, VOCAB], None, "outside 0..96"),  # an id past the vocabulary
        ([-1, 2, 3], None, "outside 0..96"),
        ([3, 2, 1], None, "sorted and unique"),
        ([1, 2, 3, 4], None, "draft_vocab has shape (4,), config implies (3,)"),  # size disagrees with config
        ([1, 2, 3], VOCAB + 1, "draft_vocab_size=98"),
    ],
)
def test_bad_draft_vocab_is_refused_naming_the_file(tmp_path, ids, size, needle):
    path = _write(tmp_path, ids, size)
    with pytest.raises(D2SDError) as e:
        load_drafter(path)
    assert needle in str(e.value) and str(path) in str(e.value)


@pytest.mark.parametrize("seed", range(3))
def test_draft_vocab_decoding_is_lossless(seed):
    """A drafter restricted to a subset still decodes exactly the target's greedy tokens."""
    cfg = target_config("qwen3", vocab=VOCAB, layers=3)
    target = make_target(cfg, seed=seed, scale=3.0)
    prompt = [5, 17, 42, 8, 3][: 2 + seed]
    ref = greedy_reference(target, prompt, 30)
    keep = sorted(set(ref) | set(range(0, VOCAB, 3)))
    bundle = Bundle(target, _with_vocab(make_drafter(cfg, seed=seed), keep),
                    _with_vocab(make_drafter(cfg, role=ROLE_VP, seed=seed + 5), keep))
    for mode in ("dflash", "dflash2", "d2sd"):
        got = [t for r in stream_generate(bundle, prompt, mode=mode, max_tokens=30, budget="fixed") for t in r.tokens]
        assert got == ref, mode
