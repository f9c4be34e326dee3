"""Drafter training: batch builder semantics, objectives learn, α rises, resume continues the run."""

import json

import mlx.core as mx
import numpy as np
import pytest

from d2sd_mlx import Bundle, D2SDError, stream_generate
from d2sd_mlx.drafter import ROLE_DFLASH, ROLE_VP, load_drafter
from d2sd_mlx.tiny import make_drafter, make_target, target_config
from d2sd_mlx.train.blocks import block_mask, make_blocks, vp_prefix_probs
from d2sd_mlx.train.data import Sequence, read_prompts, tap_features
from d2sd_mlx.train.loop import TrainConfig, train
from d2sd_mlx.train.replay import alpha_table
from oracle import greedy_reference

GAMMA = 6
MASK = 63


def test_dflash_blocks_are_exactly_as_specified():
    tokens = np.arange(100, 130, dtype=np.int32)
    loss_mask = np.r_[np.zeros(10), np.ones(20)].astype(np.uint8)
    b = make_blocks(tokens, loss_mask, 5, GAMMA, MASK, np.random.default_rng(0), "dflash")
    A = len(b.anchors)
    assert A == 5 and (b.anchors >= 9).all()  # the token after the anchor is a response token
    blk = b.tokens.reshape(A, GAMMA)
    assert (blk[:, 0] == tokens[b.anchors]).all() and (blk[:, 1:] == MASK).all()
    pos = b.positions.reshape(A, GAMMA)
    assert (pos == b.anchors[:, None] + np.arange(GAMMA)).all()
    lab = b.labels.reshape(A, GAMMA)
    inside = pos < len(tokens)
    assert (lab[inside] == tokens[pos[inside]]).all()  # same-position labels
    w = b.weights.reshape(A, GAMMA)
    assert (w[:, 0] == 0).all()
    for a in range(A):
        for k in range(1, GAMMA):
            want = np.exp(-(k - 1) / 7.0) if pos[a, k] < len(tokens) else 0.0
            assert w[a, k] == pytest.approx(want)


def test_vp_blocks_have_a_clean_prefix_and_shifted_weights():
    tokens = np.arange(200, 260, dtype=np.int32)
    loss_mask = np.ones(60, np.uint8)
    b = make_blocks(tokens, loss_mask, 40, GAMMA, MASK, np.random.default_rng(1), "vp", beta=0.9, tau=7.0)
    A = len(b.anchors)
    blk, w, pos = b.tokens.reshape(A, GAMMA), b.weights.reshape(A, GAMMA), b.positions.reshape(A, GAMMA)
    assert set(b.prefix.tolist()) <= set(range(1, GAMMA - 1))
    for a in range(A):
        l = b.prefix[a]
        vis = pos[a, : l + 1][pos[a, : l + 1] < len(tokens)]
        assert (blk[a, : len(vis)] == tokens[vis]).all()
        assert (blk[a, l + 1 :] == MASK).all()
        assert (w[a, : l + 1] == 0).all()
        for k in range(l + 1, GAMMA):
            if pos[a, k] < len(tokens):
                assert w[a, k] == pytest.approx(np.exp(-(k - l - 1) / 7.0))
    p = vp_prefix_probs(16, 0.9)
    assert len(p) == 14 and p[1] / p[0] == pytest.approx(0.9)
    b0 = make_blocks(tokens, loss_mask, 40, GAMMA, MASK, np.random.default_rng(2), "vp", min_prefix=0)
    assert 0 in set(b0.prefix.tolist()) and set(b0.prefix.tolist()) <= set(range(0, GAMMA - 1))
    for a in np.nonzero(b0.prefix == 0)[0]:  # l = 0: DFlash's own block, weights from position 1
        blk0, w0 = b0.tokens.reshape(-1, GAMMA)[a], b0.weights.reshape(-1, GAMMA)[a]
        assert (blk0[1:] == MASK).all() and w0[0] == 0 and w0[1] == pytest.approx(1.0)
    assert len(vp_prefix_probs(16, 0.9, min_prefix=0)) == 15


def test_block_mask_sees_context_strictly_before_the_anchor_and_only_its_block():
    anchors = np.array([3, 7])
    m = block_mask(anchors, 10, 4)
    assert m.shape == (8, 18)
    assert m[:4, :10].sum(1).tolist() == [3] * 4 and m[4:, :10].sum(1).tolist() == [7] * 4
    assert m[:4, 10:14].all() and not m[:4, 14:].any() and m[4:, 14:].all() and not m[4:, 10:14].any()


def test_no_response_tokens_means_no_blocks():
    assert make_blocks(np.arange(10), np.zeros(10, np.uint8), 4, GAMMA, MASK, np.random.default_rng(0)) is None


def test_bad_prompt_files(tmp_path):
    with pytest.raises(D2SDError, match="not found"):
        read_prompts(tmp_path / "nope.jsonl")
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(D2SDError, match="no prompts"):
        read_prompts(tmp_path / "empty.txt")
    (tmp_path / "bad.jsonl").write_text('{"prompt": "hi"}\n{"text": "x"}\n')
    with pytest.raises(D2SDError, match="bad.jsonl:2"):
        read_prompts(tmp_path / "bad.jsonl")


@pytest.fixture(scope="module")
def toy():
    """A toy target and its self-distilled sequences (prompt = 4 random tokens, 40 greedy tokens)."""
    cfg = target_config("llama", vocab=64, layers=3)
    target = make_target(cfg, seed=11, scale=3.0)
    rng = np.random.default_rng(0)
    taps = [0, 2]
    seqs = []
    raw = []
    for _ in range(24):
        p = rng.integers(0, 62, size=4).tolist()
        raw.append(p + greedy_reference(target, p, 40))
    feats = tap_features(target, raw, taps)
    for s, f in zip(raw, feats):
        seqs.append(Sequence(np.array(s, np.int32), np.r_[np.zeros(4), np.ones(40)].astype(np.uint8), mx.array(f)))
    meta = {"taps": taps, "hidden_size": cfg["hidden_size"], "vocab_size": 64}
    return cfg, target, seqs, meta


def test_stored_features_are_what_decoding_feeds_the_drafters():
    """The training data's tap features equal the decode path's: a prefill of the first tokens, then a
    verify pass over the rest as a chain (tree attention), concatenated."""
    from d2sd_mlx.tree import build_tree

    cfg = target_config("llama", vocab=64, layers=3)
    target = make_target(cfg, seed=5)
    seq, taps, k = np.random.default_rng(1).integers(0, 64, size=30).tolist(), [0, 2], 12
    stored = tap_features(target, [seq], taps)[0]
    cache = target.make_cache()
    pre = target.forward(mx.array(seq[:k], dtype=mx.int32), cache, taps=taps).feats
    tree = build_tree([seq[k:]], ["dflash"])
    ver = target.forward(mx.array(tree.tokens), cache, tree=tree, taps=taps).feats
    decoded = np.array(mx.concatenate([pre, ver]).astype(mx.float32))
    assert stored.shape == (30, 2 * cfg["hidden_size"]) and stored.dtype == np.float16
    assert np.allclose(stored.astype(np.float32), decoded, atol=2e-2, rtol=1e-2)
    assert not np.allclose(stored[k:].astype(np.float32), np.roll(decoded, 1, axis=0)[k:], atol=2e-2)  # can fail


def alpha(target, drafter, prompts, mode="dflash", vp=None):
    lengths = []
    for p in prompts:
        for r in stream_generate(Bundle(target, drafter, vp), p, mode=mode, max_tokens=24):
            pass
        lengths += r.stats.accepted_lengths
    return float(np.mean(lengths))


def losses(run):
    return [json.loads(l)["loss"] for l in (run / "log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def trained(toy, tmp_path_factory):
    """A DFlash drafter (60 steps) and a VP drafter (40 steps) trained on the toy data, and α before."""
    cfg, target, seqs, meta = toy
    root = tmp_path_factory.mktemp("runs")
    tc = TrainConfig(objective="dflash", steps=60, batch_seqs=4, anchors=8, block_size=GAMMA, lr=3e-3, save_every=30)
    d = make_drafter(cfg, block_size=GAMMA, taps=meta["taps"], mask_token_id=MASK, seed=3)
    before = alpha(target, d, [s.tokens[:4].tolist() for s in seqs[:4]])
    train(target, seqs, meta, root / "dflash", tc, d)
    vc = TrainConfig(objective="vp", steps=40, batch_seqs=4, anchors=8, block_size=GAMMA, lr=3e-3, save_every=40)
    v = make_drafter(cfg, block_size=GAMMA, taps=meta["taps"], mask_token_id=MASK, seed=4, role=ROLE_VP)
    train(target, seqs, meta, root / "vp", vc, v)
    return root, before


def test_dflash_then_vp_training_learns_and_raises_alpha(toy, trained):
    cfg, target, seqs, meta = toy
    root, before = trained
    l = losses(root / "dflash")
    assert np.mean(l[-10:]) < 0.5 * np.mean(l[:5]), l
    after = alpha(target, load_drafter(root / "dflash" / "latest"), [s.tokens[:4].tolist() for s in seqs[:4]])
    assert after > before + 0.5, (before, after)
    l = losses(root / "vp")
    assert np.mean(l[-10:]) < 0.5 * np.mean(l[:5]), l
    assert load_drafter(root / "vp" / "latest").config.role == ROLE_VP


def test_replay_alpha_equals_real_decoding(toy, trained):
    """The offline T=0 replay counts exactly the cycles that real decoding runs, for every mode."""
    cfg, target, seqs, meta = toy
    root, _ = trained
    d, v = load_drafter(root / "dflash" / "latest"), load_drafter(root / "vp" / "latest")
    answers = seqs[:6]
    M = 40 - GAMMA  # the stored answers hold 40 tokens: the last cycle's truth stays known
    got = alpha_table(target, d, v, answers, GAMMA, ks=(2,), max_new=M)
    for mode, key in (("dflash", "dflash"), ("dflash2", "dflash2/K2"), ("d2sd", "d2sd/K2")):
        lengths = []
        for s in answers:
            out = []
            for r in stream_generate(Bundle(target, d, v), s.tokens[:4].tolist(), mode=mode, max_tokens=M,
                                     branches=2, budget="fixed", stop_on_eos=False):
                out += r.tokens
            np.testing.assert_array_equal(out, s.tokens[4 : 4 + M])  # the replayed answer is the greedy one
            lengths += r.stats.accepted_lengths
        assert got[key] == pytest.approx(float(np.mean(lengths)), abs=1e-9), (mode, got)
    assert got["d2sd/K2"] > 1.2, got  # the drafters accept: the comparison is not trivially 1 = 1


def test_resume_continues_the_same_run(toy, tmp_path):
    cfg, target, seqs, meta = toy
    tc = TrainConfig(objective="dflash", steps=8, batch_seqs=2, anchors=4, block_size=GAMMA, lr=1e-3, save_every=4)
    straight = make_drafter(cfg, block_size=GAMMA, taps=meta["taps"], mask_token_id=MASK, seed=5)
    train(target, seqs, meta, tmp_path / "a", tc, straight)

    first = make_drafter(cfg, block_size=GAMMA, taps=meta["taps"], mask_token_id=MASK, seed=5)
    _interrupt_after(4, lambda: train(target, seqs, meta, tmp_path / "b", tc, first))
    resumed = make_drafter(cfg, block_size=GAMMA, taps=meta["taps"], mask_token_id=MASK, seed=99)
    train(target, seqs, meta, tmp_path / "b", tc, resumed)  # picks up at step 4 from b/latest
    a = load_drafter(tmp_path / "a" / "latest").parameters()
    b = load_drafter(tmp_path / "b" / "latest").parameters()
    from mlx.utils import tree_flatten

    for (ka, va), (kb, vb) in zip(tree_flatten(a), tree_flatten(b)):
        np.testing.assert_allclose(np.array(va), np.array(vb), atol=1e-6, err_msg=ka)
    with pytest.raises(D2SDError, match="cannot resume"):
        train(target, seqs, meta, tmp_path / "b", TrainConfig(**{**tc.__dict__, "block_size": GAMMA + 1}), resumed)


class _Stop(Exception):
    pass


def _interrupt_after(steps, run):
    """Run a training call and interrupt it right after its `steps`-th checkpoint."""
    import d2sd_mlx.train.loop as loop

    real = loop.checkpoint

    def stop_after(drafter, opt, out, step, cfg):
        real(drafter, opt, out, step, cfg)
        if step >= steps:
            raise _Stop

    loop.checkpoint = stop_after
    try:
        run()
    except _Stop:
        pass
    finally:
        loop.checkpoint = real
