"""Budgeted D²SD: choose, each cycle, the tree that maximises expected committed tokens per second.

Node values (the approximation). A node is worth the probability that the token-matching walk
accepts it. With c_k the DFlash confidence (max softmax) at draft position k and v the VP drafter's
confidence at a branch position, both read as "probability that this token is the target's, given
that its parent was accepted" (the paper's conditional-independence reading, §2.2-2.3 of the digest):
- spine node at depth d:                      P_d = Π_{k≤d} c_k
- VP node whose parent is a spine node p that
  also has a spine child (of confidence c):   value(p) · (1 − c) · v   (the spine child was wrong,
                                              the VP token is right; r(i)·v for a branch's first node)
- any other VP node:                          value(parent) · v
A node proposed by several rows keeps the first (highest-priority) row's confidence; two VP siblings
under one spine node are valued independently (their (1 − c)·v can overlap, which overvalues them a
little). Raw confidences go through an online reliability map (per source, 10 bins, each shrunk by
10 pseudo-counts towards a Platt-scaling fit σ(a + b·logit c), forgetting 5% per cycle) learnt from
which verified nodes the walk accepted, so a drafter that is over- or under-confident is corrected
after a few cycles and the map follows the text as it changes.

Selection rule (greedy by marginal value over marginal cost). Let λ be the best long-run rate known
so far (tokens/s: the larger of the plain-step rate and an EMA of the rate of drafted cycles). Every
option is scored as expected tokens − λ·seconds (a Dinkelbach step towards the best tokens/s), and
relative to a plain one-token step. Nodes are added best first; since a node is never worth more than
its parent, every prefix of that order is a prefix-closed tree. A node pays iff its value exceeds λ
times its marginal verify time; because the measured verify time has steps (costmodel.py), the count
is the argmax of Σ values − λ·(T_verify(n+1) − T_step) over n rather than a first-loser cut:
1. before the VP pass (its confidences unknown): the node at offset j of a branch anchored at i is
   valued r(i)·ρ_j, where ρ_j is learnt from verified branches (their own nodes accepted at offset j
   per unit of predicted r(i); a prior of 0.6^j until seen); anchors are ranked by their branch's
   value above the average marginal node cost; K ∈ 0..cap is the one whose best tree (spine + the
   top-K branches) gains most after − λ·T_vp(K) (K = 0: no VP pass);
2. after the VP pass: the real confidences value every trie node; take nodes best first (at most
   max_nodes) and keep the best count n; trim each row to its kept prefix; if no n gains over a
   plain step, do a plain step instead (the draft is spent either way);
3. before drafting: track the net gain of drafted cycles over plain steps, g = tokens committed −
   seconds / T_step (EMA weight 0.2). When g < 0 after 3 drafted cycles, run plain steps for a while
   (4, 8, … 64 steps), then one drafted probe (weight 0.5 in g; every generation also opens with one
   while g < 0); the runs double while probes keep losing and reset when one wins. So with poor
   drafters decoding stays close to the plain-step rate, and it goes back to drafting when the text
   gets easier. The first 3 drafted cycles and every probe verify at least the whole DFlash row, and
   no VP branches (exploration: the confidence maps learn only from verified nodes, so a drafter
   whose raw confidences undersell it would otherwise never be given a chance; the row alone is
   what decides whether drafting pays, and it is the cheap part to test).
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .costmodel import CostModel

BINS = 10
VP_PRIOR = 0.6  # prior conditional acceptance of a VP token before any VP branch has been verified
PRIOR_WEIGHT = 3.0  # … worth this many branches
RATE_EMA = 0.1  # realized tokens/s of drafted cycles (λ): EMAs of tokens and of seconds
GAIN_EMA, PROBE_EMA = 0.2, 0.5  # net gain of drafted cycles over plain steps (plain-run decision)
CALIB_DECAY = 0.95  # per cycle, for the confidence maps (a memory of about 20 cycles)
MIN_PLAIN, MAX_PLAIN = 4, 64
WARMUP = 3  # drafted cycles (per bundle and process) that verify the whole DFlash row before any plain run


# -- reliability: recorded (predicted, accepted) pairs, and the calibration map built from them ----

def _logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p) - np.log1p(-p)


class Reliability:
    """Counts of (predicted probability, accepted?) in equal-width bins; also a calibration map.

    The map is binned, with Platt scaling as the fallback for sparse bins: each bin's observed rate is
    shrunk by `pseudo` counts towards σ(a + b·logit(p)), where (a, b) is fitted to the bins by a few
    Newton steps (ridge towards the identity a = 0, b = 1). So a drafter that is under- or
    over-confident everywhere is corrected in every bin, and with no data the map is the identity.
    """

    def __init__(self, bins: int = BINS, pseudo: float = 10.0, decay: float = 1.0, fit: bool = True):
        self.bins = bins
        self.pseudo = pseudo
        self.decay = decay  # counts are multiplied by this at each add (1: keep everything)
        self.fit = fit  # refit the Platt fallback at each add (off for pure records)
        self.n = np.zeros(bins)
        self.hits = np.zeros(bins)
        self.pred = np.zeros(bins)
        self.logits = np.zeros(bins)  # Σ logit(p) per bin
        self.platt = (0.0, 1.0)

    def _bin(self, p: np.ndarray) -> np.ndarray:
        return np.minimum((np.asarray(p, dtype=np.float64) * self.bins).astype(np.int64), self.bins - 1).clip(0)

    def add(self, pred, accepted) -> None:
        pred = np.asarray(pred, dtype=np.float64).reshape(-1)
        if self.decay != 1.0:
            for a in (self.n, self.hits, self.pred, self.logits):
                a *= self.decay
        if pred.size == 0:
            return
        idx = self._bin(pred)
        np.add.at(self.n, idx, 1.0)
        np.add.at(self.hits, idx, np.asarray(accepted, dtype=np.float64).reshape(-1))
        np.add.at(self.pred, idx, pred)
        np.add.at(self.logits, idx, _logit(pred))
        if self.fit:
            self._fit_platt()

    def _fit_platt(self, ridge: float = 2.0, steps: int = 2) -> None:
        """A few damped Newton steps on the weighted log loss of σ(a + b·x) over the bins (x: mean logit)."""
        m = self.n > 1e-6
        w, x, y = self.n[m], self.logits[m] / self.n[m], self.hits[m] / self.n[m]

        def loss(a, b):
            z = a + b * x
            return float(np.sum(w * (np.logaddexp(0.0, z) - y * z)) + 0.5 * ridge * (a * a + (b - 1.0) ** 2))

        a, b = self.platt
        f = loss(a, b)
        for _ in range(steps):
            p = 1.0 / (1.0 + np.exp(-np.clip(a + b * x, -30, 30)))
            r, s = w * (p - y), w * p * (1.0 - p)
            g = np.array([r.sum() + ridge * a, (r * x).sum() + ridge * (b - 1.0)])
            h = np.array([[s.sum() + ridge, (s * x).sum()], [(s * x).sum(), (s * x * x).sum() + ridge]])
            da, db = np.linalg.solve(h, g)
            t = 1.0
            while t > 1e-3:  # backtrack until the loss does not grow
                na, nb = a - t * da, b - t * db
                nf = loss(na, nb)
                if nf <= f:
                    break
                t *= 0.5
            else:
                break
            a, b, f = na, nb, nf
        self.platt = (a, b)

    def __call__(self, p):
        """Calibrated probability of acceptance for raw confidence(s) p."""
        p = np.asarray(p, dtype=np.float64)
        idx = self._bin(p)
        a, b = self.platt
        prior = 1.0 / (1.0 + np.exp(-(a + b * _logit(p))))
        return (self.hits[idx] + self.pseudo * prior) / (self.n[idx] + self.pseudo)

    @property
    def count(self) -> int:
        return int(round(self.n.sum()))

    def table(self) -> list[dict]:
        rows = []
        for b in range(self.bins):
            if self.n[b] >= 0.5:
                rows.append({"bin": f"{b / self.bins:.1f}-{(b + 1) / self.bins:.1f}", "n": int(round(self.n[b])),
                             "predicted": round(self.pred[b] / self.n[b], 4), "accepted": round(self.hits[b] / self.n[b], 4)})
        return rows

    def ece(self) -> float:
        """Expected calibration error: Σ_bins n/N · |mean predicted − accepted rate|."""
        tot = self.n.sum()
        if not tot:
            return 0.0
        m = self.n > 0
        return float(np.sum(np.abs(self.pred[m] - self.hits[m])) / tot)

    def to_markdown(self, title: str) -> str:
        lines = [f"{title}: {self.count} nodes, ECE {self.ece():.3f}", "",
                 "| predicted bin | nodes | mean predicted | accepted |", "| --- | --- | --- | --- |"]
        lines += [f"| {r['bin']} | {r['n']} | {r['predicted']:.3f} | {r['accepted']:.3f} |" for r in self.table()]
        return "\n".join(lines) + "\n"


# -- pure selection functions (synthetic inputs in tests) ----------------------------------------

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


@dataclass
class Trie:
    """Candidate rows merged as tree.build_tree does (same node order); per-node facts for valuing."""

    parent: list[int]
    depth: list[int]
    row: list[int]  # first row that inserted the node
    sibling: list[int]  # the spine child of this node's parent when the node is a VP node beside it, else -1
    row_nodes: list[list[int]]  # per row: node ids of positions 1..

    @property
    def size(self) -> int:
        return len(self.parent)


def build_trie(rows: list[list[int]]) -> Trie:
    """Merge rows (rows[0] = spine) exactly in build_tree's order, recording what valuing needs."""
    parent, depth, owner, sibling = [-1], [0], [0], [-1]
    children: list[dict[int, int]] = [{}]
    spine_len = len(rows[0])
    row_nodes = []
    for r, row in enumerate(rows):
        node, ids = 0, []
        for d, tok in enumerate(row[1:], start=1):
            nxt = children[node].get(tok)
            if nxt is None:
                nxt = len(parent)
                on_spine = r != 0 and owner[node] == 0 and d < spine_len  # beside the spine node of depth d
                sib = children[node].get(rows[0][d]) if on_spine else None
                parent.append(node)
                depth.append(d)
                owner.append(r)
                sibling.append(sib if sib is not None else -1)
                children.append({})
                children[node][tok] = nxt
            ids.append(nxt)
            node = nxt
        row_nodes.append(ids)
    return Trie(parent, depth, owner, sibling, row_nodes)


def node_values(trie: Trie, confs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(value, conditional probability) of every trie node; confs[r][d] = row r's confidence at depth d.

    confs[0] is the spine's (confs[0][0] unused); a VP row's entries before its anchor are unused.
    """
    n = trie.size
    value = np.ones(n)
    cond = np.ones(n)
    for i in range(1, n):
        p = confs[trie.row[i]][trie.depth[i]]
        s = trie.sibling[i]
        if s >= 0:
            p *= 1.0 - cond[s]
        cond[i] = p
        value[i] = value[trie.parent[i]] * p
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


def trim_rows(rows: list[list[int]], names: list[str], trie: Trie, keep: np.ndarray):
    """Each row cut to its kept prefix; rows adding nothing dropped (the spine always stays)."""
    out_rows, out_names, out_idx = [], [], []
    for r, (row, ids) in enumerate(zip(rows, trie.row_nodes)):
        n = 0
        while n < len(ids) and keep[ids[n]]:
            n += 1
        if r == 0 or (n and any(trie.row[ids[m]] == r for m in range(n))):
            out_rows.append(row[: n + 1])
            out_names.append(names[r])
            out_idx.append(r)
    return out_rows, out_names, out_idx


# -- per-process learnt state and the per-generation controller --------------------------------

@dataclass
class Learned:
    """What the budget learns about a bundle in this process (shared by its generations)."""

    calib: dict = field(default_factory=dict)  # (greedy, "dflash"|"vp") -> Reliability (decaying: the maps)
    events: dict = field(default_factory=dict)  # the same, cumulative (the reports)
    nodes_raw: Reliability = field(default_factory=lambda: Reliability(fit=False))  # node values, raw confidences
    nodes_cal: Reliability = field(default_factory=lambda: Reliability(fit=False))  # … calibrated confidences
    branch_hits: np.ndarray | None = None  # per offset j: own branch nodes accepted
    branch_mass: np.ndarray | None = None  # per offset j: Σ predicted r(i) of the branches verified there
    tokens: float = 1.0  # EMA of tokens per drafted cycle (starts as one plain step)
    seconds: float = 0.0  # EMA of seconds per drafted cycle (0: not started; then one plain step's)
    gain: float = 0.0  # EMA of the net tokens a drafted cycle made over plain steps in the same time
    drafted: int = 0
    plain_next: int = MIN_PLAIN  # length of the next run of plain steps (doubles while probes lose)

    @property
    def rate(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    def start(self, plain_s: float) -> None:
        """Begin the rate EMAs at the plain-step rate, so λ rises only as drafted cycles prove better
        (a lucky first cycle must not overstate what drafting achieves)."""
        if self.seconds <= 0:
            self.tokens, self.seconds = 1.0, plain_s

    def reach(self, g: int) -> np.ndarray:
        """ρ_j for j = 1..g: learnt branch value per unit of r(i), shrunk to VP_PRIOR**j, non-increasing."""
        if self.branch_hits is None or len(self.branch_hits) != g:
            self.branch_hits, self.branch_mass = np.zeros(g), np.zeros(g)
        prior = VP_PRIOR ** np.arange(1, g + 1)
        rho = (self.branch_hits + PRIOR_WEIGHT * prior) / (self.branch_mass + PRIOR_WEIGHT)
        return np.minimum.accumulate(np.minimum(rho, 1.0))

    def calibrator(self, greedy: bool, source: str) -> tuple[Reliability, Reliability]:
        """(the decaying map, the cumulative record) for confidences of `source`."""
        key = (greedy, source)
        if key not in self.calib:
            self.calib[key] = Reliability(decay=CALIB_DECAY)
            self.events[key] = Reliability(fit=False)
        return self.calib[key], self.events[key]


_LEARNED: "weakref.WeakKeyDictionary[CostModel, Learned]" = weakref.WeakKeyDictionary()


def learned_for(cost: CostModel) -> Learned:
    if cost not in _LEARNED:
        _LEARNED[cost] = Learned()
    return _LEARNED[cost]


class Budget:
    """Per-generation controller the decode loop consults (see the module docstring for the rule)."""

    def __init__(self, cost: CostModel, gamma: int, k_cap: int, max_nodes: int | None = None,
                 greedy: bool = True, learned: Learned | None = None, learn_costs: bool = True):
        self.cost = cost
        self.gamma = gamma
        self.k_cap = max(0, min(k_cap, gamma - 1))
        self.max_nodes = max_nodes
        self.greedy = greedy
        self.learn_costs = learn_costs
        self.learned = learned if learned is not None else learned_for(cost)
        self.spine_cal, self.spine_events = self.learned.calibrator(greedy, "dflash")
        self.vp_cal, self.vp_events = self.learned.calibrator(greedy, "vp")
        # a generation whose bundle has been losing to plain steps opens with a drafted probe: the new
        # text may suit the drafter better (and plain runs longer than a short reply would never probe)
        self._probing = self.learned.drafted >= WARMUP and self.learned.gain < 0
        self._cycle = None  # what select() decided, for observe_cycle()
        self._c_raw = self._c = None

    @property
    def _exploring(self) -> bool:
        """Warm-up and probe cycles verify the whole DFlash row (and draft no VP branches)."""
        return self._probing or self.learned.drafted < WARMUP

    # -- the rate to beat ---------------------------------------------------------------------
    @property
    def plain_rate(self) -> float:
        return 1.0 / max(self.cost.step, 1e-6)

    @property
    def lam(self) -> float:
        return max(self.plain_rate, self.learned.rate)

    # -- decisions ----------------------------------------------------------------------------
    def plain_steps(self) -> int:
        """How many plain target steps to take before the next drafted cycle (usually 0)."""
        ln = self.learned
        if self._probing or ln.drafted < WARMUP or ln.gain >= 0:
            return 0  # (after a run of plain steps the next cycle is a drafted probe)
        n = ln.plain_next
        ln.plain_next = min(2 * n, MAX_PLAIN)
        self._probing = True
        return n

    def plan(self, conf_raw: np.ndarray) -> list[int]:
        """Stage 1, after the DFlash pass: the anchors of the VP branches to draft ([] = none)."""
        self._c_raw = np.asarray(conf_raw, dtype=np.float64)
        self._c = self.spine_cal(self._c_raw)
        if not self.k_cap or self._exploring:
            return []  # (a probe tests the DFlash row alone: cheap, and what decides if drafting pays)
        plan = plan_branches(self._c, self.learned.reach(self.gamma - 1), self.lam, self._over_plain(),
                             self.cost.vp(np.arange(self.k_cap + 1)), self.k_cap, self.max_nodes)
        return plan.anchors

    def _over_plain(self) -> np.ndarray:
        """[n] → T_verify(n + 1) − T_step for every tree this budget can build (0 at n = 0)."""
        n_max = self.gamma - 1 + self.k_cap * (self.gamma - 1)
        if self.max_nodes is not None:
            n_max = min(n_max, self.max_nodes - 1)
        extra = self.cost.verify(np.arange(2, n_max + 2)) - self.cost.step
        return np.concatenate(([0.0], np.atleast_1d(extra)))

    def select(self, rows: list[list[int]], names: list[str], vp_conf: list | None = None):
        """Stage 2: the rows (trimmed) and names to verify, or None for a plain one-token step.

        vp_conf[r]: the VP pass's confidences for rows[1 + r] at depths anchor+1.. (raw).
        """
        g = self.gamma - 1
        raw = [np.concatenate(([1.0], self._c_raw))]
        cal = [np.concatenate(([1.0], self._c))]
        anchors = [-1]
        for vc in vp_conf or ():
            vc = np.asarray(vc, dtype=np.float64)
            a = g - vc.size  # the anchor: draft tokens kept before the branch
            vr, vcal = np.ones(self.gamma), np.ones(self.gamma)
            vr[a + 1 :] = vc
            vcal[a + 1 :] = self.vp_cal(vc)
            raw.append(vr)
            cal.append(vcal)
            anchors.append(a)
        trie = build_trie(rows)
        value, _ = node_values(trie, cal)
        rank, min_n = None, 0
        if self._exploring:
            # explore: verify at least the whole DFlash row whatever it seems worth. The confidence maps
            # learn only from verified nodes; a drafter that looks worse than it is would never be tried
            spine = trie.row_nodes[0]
            rank = value.copy()
            rank[spine] = 2.0 - 1e-3 * np.arange(1, len(spine) + 1)
            min_n = len(spine)
        keep, _ = select_nodes(value, trie.depth, self.lam, self._over_plain(), self.max_nodes, min_n, rank)
        if not keep[1:].any():
            self._cycle = None
            return None
        out_rows, out_names, idx = trim_rows(rows, names, trie, keep)
        self._cycle = (out_rows, [raw[i] for i in idx], [cal[i] for i in idx], [anchors[i] for i in idx])
        return out_rows, out_names

    # -- learning from what happened ----------------------------------------------------------
    def observe_steps(self, seconds: float, n: int = 1) -> None:
        """A run of n plain steps took `seconds` in all."""
        if n and self.learn_costs:
            self.cost.observe_step(seconds / n)

    def observe_cycle(self, path: list[int] | None, emitted: int, dflash_s: float, vp_s: float, k: int,
                      verify_s: float, nodes: int) -> None:
        """After a drafted cycle: path = accepted trie nodes of the verified tree (None: it was a plain step)."""
        cost, ln = self.cost, self.learned
        if self.learn_costs:
            cost.observe_dflash(dflash_s)
            if k:
                cost.observe_vp(k, vp_s)
            if path is None:
                cost.observe_step(verify_s)
            else:
                cost.observe_verify(nodes, verify_s)
        seconds = max(dflash_s + vp_s + verify_s, 1e-9)
        ln.start(cost.step)
        ln.tokens += RATE_EMA * (emitted - ln.tokens)
        ln.seconds += RATE_EMA * (seconds - ln.seconds)
        gain = emitted - seconds / cost.step
        ln.gain += (PROBE_EMA if self._probing else GAIN_EMA) * (gain - ln.gain)
        ln.drafted += 1
        if self._probing:
            self._probing = False
            if ln.gain >= 0:
                ln.plain_next = MIN_PLAIN
        if path is not None and self._cycle is not None:
            self._record(path)
        self._cycle = None

    def _record(self, path: list[int]) -> None:
        rows, raw, cal, anchors = self._cycle
        trie = build_trie(rows)
        v_raw, c_raw = node_values(trie, raw)
        v_cal, _ = node_values(trie, cal)
        on = np.zeros(trie.size, dtype=bool)
        on[path] = True
        self.learned.nodes_raw.add(v_raw[1:], on[1:])
        self.learned.nodes_cal.add(v_cal[1:], on[1:])
        # conditional events: children of accepted nodes, by source (a VP node beside a spine node only
        # counts when that spine node was verified and rejected, which is the event its confidence is for)
        spine_p, spine_hit, vp_p, vp_hit = [], [], [], []
        for i in range(1, trie.size):
            if not on[trie.parent[i]]:
                continue
            r, d = trie.row[i], trie.depth[i]
            if r == 0:
                spine_p.append(raw[0][d])
                spine_hit.append(on[i])
            elif trie.sibling[i] < 0 or not on[trie.sibling[i]]:
                vp_p.append(raw[r][d])
                vp_hit.append(on[i])
        for rel in (self.spine_cal, self.spine_events):
            rel.add(spine_p, spine_hit)
        for rel in (self.vp_cal, self.vp_events):
            rel.add(vp_p, vp_hit)
        # branch reach ρ_j: own nodes accepted at offset j per unit of the predicted r(anchor)
        ln = self.learned
        ln.reach(self.gamma - 1)
        c = self._c
        for r in range(1, len(rows)):
            a = anchors[r]
            mass = float(np.prod(c[:a]) * (1.0 - c[a]))
            ids = trie.row_nodes[r][a:]
            for j, node in enumerate(ids):
                ln.branch_mass[j] += mass
                ln.branch_hits[j] += float(on[node] and trie.row[node] == r)

    def report(self) -> str:
        ln = self.learned
        parts = [ln.nodes_raw.to_markdown("Node values from raw confidences (the paper's r(i)-style products)"),
                 ln.nodes_cal.to_markdown("Node values from calibrated confidences (what the selection uses)"),
                 self.spine_events.to_markdown("DFlash confidence c_k vs acceptance given the parent was accepted"),
                 self.vp_events.to_markdown("VP confidence vs acceptance given the parent was accepted (and the spine token rejected)")]
        return "\n".join(parts)


BUDGETS = ("auto", "fixed")


def for_decode(target, drafter, vp_drafter, opts) -> Budget:
    """The controller for one generation with DecodeOptions `opts` (calibrating on first use)."""
    from .costmodel import load_or_calibrate

    second = vp_drafter if opts.mode == "d2sd" else drafter if opts.mode == "dflash2" else None
    k_cap = min(opts.branches, opts.block_size - 1) if second is not None else 0
    cost = load_or_calibrate(target, drafter, second, opts.block_size).model
    return Budget(cost, opts.block_size, k_cap, opts.max_nodes, greedy=opts.temp == 0)


FREE = {"step_s": 1.0, "verify": {"n": [2, 16], "s": [1e-9, 1e-9]}, "dflash_s": 1e-9,
        "vp": {"k": [1, 4], "s": [1e-9, 1e-9]}}  # a cost model under which every node pays


def reliability(bundle, prompts: list, mode: str = "d2sd", max_tokens: int = 64, temp: float = 0.0,
                branches: int = 4, full: bool = True) -> str:
    """Decode `prompts` and report how well the node values predicted what the walk accepted.

    full=True verifies every candidate (free costs: the whole spine and K = `branches` full branches
    at the best anchors), so the tables are not biased by the selection; full=False uses the real
    budget (calibrated costs) and records only the nodes it chose to verify.
    """
    import mlx.core as mx

    from .costmodel import CostModel, load_or_calibrate
    from .decode import DecodeOptions, decode
    from .generate import prompt_ids

    gamma = bundle.drafter.config.block_size
    second = bundle.vp_drafter if mode == "d2sd" else bundle.drafter if mode == "dflash2" else None
    k_cap = min(branches, gamma - 1) if second is not None else 0
    if full:
        cost, learned, learn = CostModel(FREE, gamma), Learned(), False
    else:
        cost = load_or_calibrate(bundle.target, bundle.drafter, second, gamma).model
        learned, learn = learned_for(cost), True
    opts = DecodeOptions(mode, gamma, branches, None, temp, budget="auto")
    tokens = cycles = 0
    for text in prompts:
        ids = prompt_ids(bundle, text) if isinstance(text, str) else list(text)
        budget = Budget(cost, gamma, k_cap, greedy=temp == 0, learned=learned, learn_costs=learn)
        steps = decode(bundle.target, bundle.drafter, bundle.vp_drafter, mx.array(ids, dtype=mx.int32), opts, budget)
        n = 0
        for step in steps:
            n += len(step.tokens)
            cycles += step.cycle is not None
            if n >= max_tokens:
                break
        steps.close()
        tokens += n
    head = (f"{len(prompts)} prompts, {tokens} tokens, {cycles} cycles, mode {mode}, T={temp:g}, "
            f"{'every candidate verified (K=' + str(k_cap) + ')' if full else 'trees chosen by the budget'}\n")
    if not full:
        head += f"\ncost model (ms): {json.dumps(cost.summary())}\n"
    return head + "\n" + Budget(cost, gamma, 0, greedy=temp == 0, learned=learned).report()


def main(argv=None) -> int:
    import argparse
    import sys

    from .errors import D2SDError
    from .loading import load

    p = argparse.ArgumentParser(prog="python -m d2sd_mlx.budget",
                                description="Reliability of the budget's node values: predicted vs accepted.")
    p.add_argument("--model", help="target or bundle folder (default: the embedded default bundle)")
    p.add_argument("--drafter")
    p.add_argument("--vp-drafter")
    p.add_argument("--mode", default="d2sd", choices=("dflash", "dflash2", "d2sd"))
    p.add_argument("--prompts", default=None, help="JSONL with a prompt field (default: the dev set)")
    p.add_argument("--limit", type=int, default=8)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--temp", type=float, default=0.0)
    p.add_argument("--branches", type=int, default=4)
    p.add_argument("--trees", choices=("full", "auto"), default="full",
                   help="full: verify every candidate (unbiased tables); auto: only what the budget picks")
    a = p.parse_args(argv)
    try:
        from .train.data import read_prompts

        path = a.prompts or str(Path(__file__).parent / "data" / "dev_prompts.jsonl")
        rows = read_prompts(path)
        rows = rows[:: max(1, len(rows) // a.limit)][: a.limit]
        bundle = load(a.model, a.drafter, a.vp_drafter)
        print(reliability(bundle, [r["prompt"] for r in rows], a.mode, a.max_tokens, a.temp, a.branches, a.trees == "full"))
    except D2SDError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
