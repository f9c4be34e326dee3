"""Tree verify equals token-by-token decoding; an off-spine commit leaves the right cache."""

import mlx.core as mx
import numpy as np
import pytest

from d2sd_mlx.tiny import make_target, target_config
from d2sd_mlx.tree import build_tree


def sequential_logits(target, tokens):
    cache = target.make_cache()
    return np.array(target.model(mx.array([tokens]), cache=cache)[0]), cache


@pytest.mark.parametrize("kind", ["llama", "qwen2", "qwen3"])
def test_each_node_matches_decoding_its_own_path(kind):
    cfg = target_config(kind, vocab=61, layers=3)
    target = make_target(cfg, seed=3)
    rng = np.random.default_rng(0)
    prompt = rng.integers(0, 61, size=7).tolist()
    rows = [[11] + rng.integers(0, 61, size=5).tolist() for _ in range(4)]
    rows[1][:3] = rows[0][:3]
    rows[2][:2] = rows[0][:2]
    tree = build_tree(rows, ["dflash", "vp2", "vp1", "vp0"])

    cache = target.make_cache()
    target.forward(mx.array(prompt), cache)
    start = cache[0].offset
    ver = target.forward(mx.array(tree.tokens), cache, tree=tree, taps=(0, 2))
    assert ver.logits.shape == (tree.size, 61)
    assert ver.feats.shape == (tree.size, 2 * cfg["hidden_size"])
    assert cache[0].offset == start  # verify leaves the cache alone
    for node in range(tree.size):
        path = [node]
        while tree.parents[path[-1]] >= 0:
            path.append(int(tree.parents[path[-1]]))
        toks = prompt + [int(tree.tokens[i]) for i in reversed(path)]
        want, _ = sequential_logits(target, toks)
        np.testing.assert_allclose(np.array(ver.logits[node]), want[-1], atol=1e-4, rtol=1e-4)


def test_off_spine_commit_equals_direct_decoding():
    cfg = target_config("qwen3", vocab=61, layers=3)
    target = make_target(cfg, seed=5)
    prompt = [1, 2, 3, 4, 5]
    rows = [[7, 8, 9, 10, 11], [7, 8, 20, 21, 22]]
    tree = build_tree(rows, ["dflash", "vp1"])
    cache = target.make_cache()
    target.forward(mx.array(prompt), cache)
    start = cache[0].offset
    ver = target.forward(mx.array(tree.tokens), cache, tree=tree)
    path = [0, 1, 5, 6]  # 7 8 20 21: leaves the spine after depth 1
    target.commit(cache, ver.kv, path)
    _, direct = sequential_logits(target, prompt + [7, 8, 20, 21])
    assert cache[0].offset == direct[0].offset == len(prompt) + 4
    for c, d in zip(cache, direct):
        n = d.offset
        np.testing.assert_allclose(np.array(c.keys[..., :n, :]), np.array(d.keys[..., :n, :]), atol=1e-5)
        np.testing.assert_allclose(np.array(c.values[..., :n, :]), np.array(d.values[..., :n, :]), atol=1e-5)
    # and the next step from the compacted cache equals a fresh run
    nxt = target.model(mx.array([[22]]), cache=cache)[0, -1]
    want, _ = sequential_logits(target, prompt + [7, 8, 20, 21, 22])
    np.testing.assert_allclose(np.array(nxt), want[-1], atol=1e-4)
