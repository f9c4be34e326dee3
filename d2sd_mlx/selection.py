"""The budget's selection rules as pure functions (synthetic inputs in tests; the rule itself is
described in budget.py): how many branches and where (`plan_branches`), what every trie node is worth
(`node_values`), which nodes to verify (`select_nodes`), and the rows that keeps (`trim_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .tree import Tree


@dataclass
class Plan:
    anchors: list[int]  # VP anchors (draft tokens kept before the branch), ascending; [] = no VP pass
    gain: float  # predicted value − λ·time of the chosen option, relative to a plain step
    gains: np.ndarray  # the same for K = 0..cap (K = 0: the chain alone, or a plain step)


def best_prefix(values: np.ndarray, lam: float, over_plain: np.ndarray, room: int,
                min_n: int = 0) -> tuple[float, int]:
    """The best n for verifying the first n of `values` (best first) instead of a plain step.

    net(n) = Σ_{i≤n} values_i − λ·over_plain[n], with over_plain[n] = T_verify(n + 1) − T_step the
    extra seconds of a tree of n draft nodes over a plain step (over_plain[0] = 0). The cost is a
    measured table with steps, not a line, so this takes the argmax over n rather than stopping at
    the first node below a threshold. Returns (net gain, n); n = 0 (a plain step) when nothing pays,
    unless min_n forces at least that many nodes.
    """
    n_max = min(values.size, room, over_plain.size - 1)
    if n_max <= 0:
        return 0.0, 0
    net = np.cumsum(values[:n_max]) - lam * over_plain[1 : n_max + 1]
    lo = min(max(min_n, 1), n_max) - 1
    i = lo + int(np.argmax(net[lo:]))
    if net[i] <= 0 and min_n == 0:
        return 0.0, 0
    return float(net[i]), i + 1


def plan_branches(conf: np.ndarray, reach: np.ndarray, lam: float, over_plain: np.ndarray,
                  vp_cost: np.ndarray, k_cap: int, max_nodes: int | None = None) -> Plan:
    """Stage 1: how many VP branches and where, from the (calibrated) DFlash confidences alone.

    conf [g]: c_1..c_g (g = γ-1); reach [g]: ρ_j, a branch node's value at offsets j = 1..g from its
    anchor per unit of r(i); lam: tokens/s to beat; over_plain[n]: T_verify(n + 1) − T_step;
    vp_cost [k_cap+1]: seconds of a VP pass with K rows (vp_cost[0] = 0).
    """
    c = np.asarray(conf, dtype=np.float64)
    g = c.size
    spine = np.cumprod(c)
    r = np.concatenate(([1.0], spine[:-1])) * (1.0 - c)  # r(i), i = 0..g-1
    q = np.asarray(reach, dtype=np.float64)[:g]
    j = np.arange(g)
    vals = r[:, None] * q[None, :]
    vals[j[None, :] >= (g - j)[:, None]] = 0.0  # anchor i re-drafts g - i positions
    k_cap = max(0, min(k_cap, g))
    room = (max_nodes - 1) if max_nodes is not None else over_plain.size - 1
    # rank anchors by their branch's value above the average marginal node cost
    span = over_plain.size - 2
    thr = lam * max(over_plain[-1] - over_plain[1], 0.0) / span if span > 0 else 0.0
    order = np.argsort(-np.maximum(vals - thr, 0.0).sum(axis=1), kind="stable")[:k_cap]
    gains = np.empty(k_cap + 1)
    pool = spine
    for k in range(k_cap + 1):
        if k:
            pool = np.concatenate([pool, vals[order[k - 1], : g - order[k - 1]]])
        gain, _ = best_prefix(np.sort(pool)[::-1], lam, over_plain, room)
        gains[k] = gain - lam * vp_cost[k]
    k = int(np.argmax(gains))  # gains[0] ≥ 0: the chain (or a plain step) is always available
    anchors = sorted(int(i) for i in order[:k]) if k else []
    return Plan(anchors, float(gains[k]), gains)


def spine_siblings(tree: Tree) -> list[int]:
    """Per node: the spine node beside it (the spine child of its parent) when the node is a branch
    node hanging off a spine node, else -1."""
    spine = tree.row_nodes[0]
    out = [-1] * tree.size
    for i in range(1, tree.size):
        d, p = int(tree.depths[i]), int(tree.parents[i])
        if tree.row_of[i] != 0 and tree.row_of[p] == 0 and d <= len(spine):
            out[i] = spine[d - 1]
    return out


def node_values(tree: Tree, confs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(value, conditional probability) of every trie node; confs[r][d] = row r's confidence at depth d.

    confs[0] is the spine's (confs[0][0] unused); a VP row's entries before its anchor are unused.
    """
    n = tree.size
    value = np.ones(n)
    cond = np.ones(n)
    sibling = spine_siblings(tree)
    for i in range(1, n):
        p = confs[tree.row_of[i]][tree.depths[i]]
        s = sibling[i]
        if s >= 0:
            p *= 1.0 - cond[s]
        cond[i] = p
        value[i] = value[tree.parents[i]] * p
    return value, cond


def select_nodes(value: np.ndarray, depth, lam: float, over_plain: np.ndarray, max_nodes: int | None = None,
                 min_n: int = 0, rank: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Stage 2: which trie nodes to verify. Nodes are taken best first (by `rank`, default their value;
    ties shallower first, so every prefix of the order is prefix-closed) and the count is the best
    prefix (see best_prefix). Returns (keep mask with the root always kept, net gain over a plain step).
    """
    key = value if rank is None else rank
    order = np.lexsort((np.asarray(depth)[1:], -key[1:])) + 1
    room = (max_nodes - 1) if max_nodes is not None else order.size
    gain, n = best_prefix(value[order], lam, over_plain, room, min_n)
    keep = np.zeros(value.size, dtype=bool)
    keep[0] = True
    keep[order[:n]] = True
    return keep, gain


def trim_rows(tree: Tree, keep: np.ndarray) -> tuple[list[int], list[int]]:
    """Each row cut to its kept prefix; rows adding nothing dropped (the spine always stays).
    Returns (the rows kept, by index; their lengths after the anchor)."""
    out_idx, out_len = [], []
    for r, ids in enumerate(tree.row_nodes):
        n = 0
        while n < len(ids) and keep[ids[n]]:
            n += 1
        if r == 0 or (n and any(tree.row_of[ids[m]] == r for m in range(n))):
            out_idx.append(r)
            out_len.append(n)
    return out_idx, out_len
