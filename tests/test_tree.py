"""Candidate selection, the trie and the token-matching walk."""

import numpy as np
import pytest

from d2sd_mlx.tree import boundary_posterior, build_tree, top_branches, walk


def test_paper_worked_example():
    c = [0.95, 0.84, 0.62, 0.70, 0.42]  # γ = 6, the anchor's confidence (1.0) is not scored
    r = boundary_posterior(c)
    np.testing.assert_allclose(r, [0.050, 0.152, 0.303, 0.148, 0.201], atol=6e-4)



def test_top_branches_first_by_r_then_alternatives_by_their_own_chance():
    c = np.array([0.95, 0.84, 0.62, 0.70, 0.42])  # r = [0.050, 0.152, 0.303, 0.148, 0.201]
    alt = np.array([[0.02, 0.01], [0.08, 0.05], [0.20, 0.15], [0.2, 0.05], [0.3, 0.2]])
    # one alternative per point: the paper's Top-K of r(i), whatever the alternatives' probabilities
    assert top_branches(c, alt[:, :1], 4) == [(1, 1), (2, 1), (3, 1), (4, 1)]
    assert top_branches(c, alt[:, :1], 1) == [(2, 1)]
    # the likeliest rejection point's 2nd alternative (0.62·0.84·0.95·0.15 = 0.120) beats a first
    # branch at the unlikely point 0 (r = 0.05)
    assert top_branches(c, alt, 5) == [(1, 1), (2, 1), (2, 2), (3, 1), (4, 1)]
    assert top_branches(c, alt, 0) == [] and len(top_branches(c, alt, 99)) == alt.size


def test_posterior_sums_with_full_acceptance_to_one():
    c = np.random.default_rng(0).uniform(size=15)
    assert boundary_posterior(c).sum() + np.prod(c) == pytest.approx(1.0)


def test_trie_merges_shared_prefixes_and_keeps_siblings_distinct():
    rows = [[1, 2, 3, 4, 5], [1, 2, 9, 9, 9], [1, 2, 3, 4, 7], [1, 2, 3, 4, 5]]
    t = build_tree(rows, ["dflash", "vp1", "vp3", "vp4"])
    assert t.size == 5 + 3 + 1  # the duplicate row adds nothing
    for kids in t.children:
        assert len(set(kids)) == len(kids)
    assert all(t.parents[i] < i for i in range(1, t.size))
    assert t.depths.tolist() == [0, 1, 2, 3, 4, 2, 3, 4, 4]
    vis = t.visible()
    assert vis.diagonal().all()
    assert vis[7].nonzero()[0].tolist() == [0, 1, 5, 6, 7]
    assert t.rows[8] == "vp3"


def test_node_cap_keeps_the_trie_prefix_closed():
    rows = [[0, 1, 2, 3], [0, 5, 6, 7], [0, 1, 8, 9]]
    t = build_tree(rows, ["dflash", "vp0", "vp1"], max_nodes=6)
    assert t.size == 6
    assert all(t.parents[i] < i for i in range(1, t.size))


def test_walk_follows_the_target_and_emits_a_bonus():
    rows = [[1, 2, 3, 4], [1, 2, 7, 8]]
    t = build_tree(rows, ["dflash", "vp1"])
    # node ids: 0:1 1:2 2:3 3:4 4:7 5:8 ; target says 2 after 1, 7 after 2, 8 after 7, 6 after 8
    targets = np.zeros(t.size, dtype=np.int64)
    targets[[0, 1, 4, 5]] = [2, 7, 8, 6]
    path, emitted = walk(t, targets)
    assert path == [0, 1, 4, 5]
    assert emitted == [2, 7, 8, 6]
    targets[0] = 9  # first draft rejected: only the bonus
    assert walk(t, targets) == ([0], [9])
