"""Candidate selection and the token trie that the target verifies.

The trie is flattened spine-first: node 0 is the anchor, nodes 1..γ-1 the DFlash row, then each
VP branch's new nodes in depth order, so a parent always precedes its children.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from metal_kernels import pack_mask


def boundary_posterior(conf: np.ndarray) -> np.ndarray:
    """r(i) = Π_{k≤i} c_k · (1 − c_{i+1}) for i = 0..γ-2, from draft confidences c_1..c_{γ-1}."""
    c = np.asarray(conf, dtype=np.float64)
    prefix = np.concatenate([[1.0], np.cumprod(c[:-1])])
    return prefix * (1.0 - c)


def top_branches(conf: np.ndarray, alt: np.ndarray, k: int) -> list[tuple[int, int]]:
    """The K likeliest branch starts (i, j), sorted: keep the draft tokens t_1..t_i, then take the j-th
    best alternative (j ≥ 1) to t_{i+1}.

    conf [γ-1]: the drafter's probabilities of t_1..t_{γ-1}; alt [γ-1, J]: its probabilities of the
    alternatives at each position, best first. The first branch at a point is valued by the paper's
    r(i) = P(t_1..t_i accepted) · (1 − c_{i+1}) (`boundary_posterior`), the chance that t_{i+1} is
    where the draft fails; whoever drafts that branch may find the right token even where this
    drafter ranks it low. Each further alternative j ≥ 2 is valued by its own chance,
    P(t_1..t_i accepted) · p_j(i+1), so a very likely rejection point can take several branches
    before an unlikely point gets one. With J = 1 this is the paper's Top-K of r(i).
    """
    conf = np.asarray(conf, dtype=np.float64)
    alt = np.asarray(alt, dtype=np.float64).reshape(len(conf), -1)
    reach = np.concatenate([[1.0], np.cumprod(conf[:-1])])
    value = reach[:, None] * alt
    value[:, 0] = boundary_posterior(conf)
    k = min(k, value.size)
    if k <= 0:
        return []
    best = np.argsort(-value, axis=None, kind="stable")[:k]
    return sorted((int(f // alt.shape[1]), int(f % alt.shape[1]) + 1) for f in best)


@dataclass
class Tree:
    """The trie of one cycle's candidate rows. Per node it records, once, everything later stages
    need: its token, parent, depth, the row that inserted it (index and name) and who drafted it."""

    tokens: np.ndarray  # int32 [N]
    parents: np.ndarray  # int32 [N], -1 for the root
    depths: np.ndarray  # int32 [N]
    rows: list[str]  # per node: the name of the first candidate row that inserted it ("dflash", "vp{i}", "dflash{i}")
    children: list[dict[int, int]]  # per node: token -> child index
    sources: list[str]  # per node: the drafter that proposed its token ("dflash" or "vp"; the root "target")
    row_of: list[int]  # per node: the index of the row that inserted it
    row_nodes: list[list[int]]  # per row: the node ids of its tokens after the anchor (as far as inserted)

    @property
    def size(self) -> int:
        return len(self.tokens)

    def visible(self) -> np.ndarray:
        """Boolean [N, N]: node i sees node j iff j is i or an ancestor of i."""
        n = self.size
        vis = np.zeros((n, n), dtype=bool)
        for i in range(n):
            p = self.parents[i]
            if p >= 0:
                vis[i] = vis[p]
            vis[i, i] = True
        return vis

    def packed_visible(self):
        return pack_mask(self.visible())


def build_tree(rows: list[list[int]], names: list[str], max_nodes: int | None = None,
               sources: list[list[str]] | None = None) -> Tree:
    """Merge candidate rows (each starting with the same anchor) into a trie.

    Rows are inserted in the given order (highest priority first); when `max_nodes` is reached the
    remaining tails are dropped, so the trie stays prefix-closed. sources[r][d - 1]: who drafted row
    r's token at depth d (default: "dflash" for the first row, "vp" for the others).
    """
    anchor = rows[0][0]
    tokens, parents, depths, owner, src, row_of = [anchor], [-1], [0], [names[0]], ["target"], [0]
    children: list[dict[int, int]] = [{}]
    row_nodes: list[list[int]] = []
    cap = max_nodes if max_nodes is not None else 1 << 30
    if sources is None:
        sources = [["dflash" if r == 0 else "vp"] * (len(row) - 1) for r, row in enumerate(rows)]
    for r, (row, name, row_src) in enumerate(zip(rows, names, sources)):
        if row[0] != anchor:
            raise ValueError("all candidate rows must start with the anchor")
        node, ids = 0, []
        for depth, tok in enumerate(row[1:], start=1):
            nxt = children[node].get(tok)
            if nxt is None:
                if len(tokens) >= cap:
                    break
                nxt = len(tokens)
                tokens.append(tok)
                parents.append(node)
                depths.append(depth)
                owner.append(name)
                src.append(row_src[depth - 1])
                row_of.append(r)
                children.append({})
                children[node][tok] = nxt
            ids.append(nxt)
            node = nxt
        row_nodes.append(ids)
    return Tree(np.array(tokens, dtype=np.int32), np.array(parents, dtype=np.int32), np.array(depths, dtype=np.int32),
                owner, children, src, row_of, row_nodes)


def walk(tree: Tree, targets: np.ndarray) -> tuple[list[int], list[int]]:
    """Token-matching walk: at each node take the target's token and follow the matching child.

    targets[i] is the target's token (argmax or sample) at node i. Returns (path of node indices,
    starting at the root, whose K/V get committed; emitted tokens = accepted drafts + the bonus).
    """
    path = [0]
    node = 0
    while True:
        tok = int(targets[node])
        child = tree.children[node].get(tok)
        if child is None:
            emitted = [int(tree.tokens[i]) for i in path[1:]] + [tok]
            return path, emitted
        path.append(child)
        node = child
