"""Budgeted D²SD: a `policy.Policy` that chooses, each cycle, the tree that maximises expected
committed tokens per second. Its pieces: the cost model (costmodel.py), the confidence calibration
(calibration.py), the selection rules (selection.py) and this controller; what it learns about a
bundle (`Learned`, and the cost model refined online) is passed in, and kept by the API on the Bundle.

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

from dataclasses import dataclass, field

import numpy as np

from .calibration import Reliability
from .costmodel import CostModel, load_or_calibrate
from .policy import Candidates, Outcome
from .selection import node_values, plan_branches, select_nodes, spine_siblings, trim_rows
from .tree import Tree, build_tree

VP_PRIOR = 0.6  # prior conditional acceptance of a VP token before any VP branch has been verified
PRIOR_WEIGHT = 3.0  # … worth this many branches
RATE_EMA = 0.1  # realized tokens/s of drafted cycles (λ): EMAs of tokens and of seconds
GAIN_EMA, PROBE_EMA = 0.2, 0.5  # net gain of drafted cycles over plain steps (plain-run decision)
CALIB_DECAY = 0.95  # per cycle, for the confidence maps (a memory of about 20 cycles)
MIN_PLAIN, MAX_PLAIN = 4, 64
WARMUP = 3  # drafted cycles (per bundle and process) that verify the whole DFlash row before any plain run




@dataclass
class _Choice:
    """What `keep` chose, for `observe`: per kept row its raw and calibrated confidences by depth and
    its anchor (-1 for the spine), and the calibrated DFlash confidences."""

    raw: list[np.ndarray]
    cal: list[np.ndarray]
    anchors: list[int]
    c: np.ndarray


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


class Budget:
    """Per-generation controller the decode loop consults (see the module docstring for the rule).

    As a `policy.Policy`: `plain_steps`, `branch_starts` (stage 1), `keep` (stage 2; its record of
    the choice travels in the returned Candidates' `note`), `observe` / `observe_plain` (learning).
    """

    wants_branch_conf = True

    def __init__(self, cost: CostModel, gamma: int, k_cap: int, max_nodes: int | None = None,
                 greedy: bool = True, learned: Learned | None = None, learn_costs: bool = True):
        self.cost = cost
        self.gamma = gamma
        self.k_cap = max(0, min(k_cap, gamma - 1))
        self.max_nodes = max_nodes
        self.greedy = greedy
        self.learn_costs = learn_costs
        self.learned = learned if learned is not None else Learned()
        self.spine_cal, self.spine_events = self.learned.calibrator(greedy, "dflash")
        self.vp_cal, self.vp_events = self.learned.calibrator(greedy, "vp")
        # a generation whose bundle has been losing to plain steps opens with a drafted probe: the new
        # text may suit the drafter better (and plain runs longer than a short reply would never probe)
        self._probing = self.learned.drafted >= WARMUP and self.learned.gain < 0

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

    def branch_starts(self, conf_raw: np.ndarray, alt=None) -> list[tuple[int, int]]:
        """Stage 1, after the DFlash pass: the VP branches to draft, as (anchor, 1) ([] = none)."""
        return [(i, 1) for i in self.plan(conf_raw)]

    def plan(self, conf_raw: np.ndarray) -> list[int]:
        """The anchors of the VP branches to draft, from the raw DFlash confidences."""
        if not self.k_cap or self._exploring:
            return []  # (a probe tests the DFlash row alone: cheap, and what decides if drafting pays)
        c = self.spine_cal(np.asarray(conf_raw, dtype=np.float64))
        plan = plan_branches(c, self.learned.reach(self.gamma - 1), self.lam, self._over_plain(),
                             self.cost.vp(np.arange(self.k_cap + 1)), self.k_cap, self.max_nodes)
        return plan.anchors

    def _over_plain(self) -> np.ndarray:
        """[n] → T_verify(n + 1) − T_step for every tree this budget can build (0 at n = 0)."""
        n_max = self.gamma - 1 + self.k_cap * (self.gamma - 1)
        if self.max_nodes is not None:
            n_max = min(n_max, self.max_nodes - 1)
        extra = self.cost.verify(np.arange(2, n_max + 2)) - self.cost.step
        return np.concatenate(([0.0], np.atleast_1d(extra)))

    def keep(self, cands: Candidates) -> Candidates | None:
        """Stage 2: the candidates (rows trimmed) to verify, or None for a plain one-token step.

        cands.branch_conf[r]: the second drafter's raw confidences for branch row r + 1 from its
        branch token on. The returned Candidates' note is the record `observe` learns from.
        """
        g = self.gamma - 1
        c_raw = np.asarray(cands.conf, dtype=np.float64)
        c = self.spine_cal(c_raw)
        raw = [np.concatenate(([1.0], c_raw))]
        cal = [np.concatenate(([1.0], c))]
        anchors = [-1]
        for vc in cands.branch_conf:
            vc = np.asarray(vc, dtype=np.float64)
            a = g - vc.size  # the anchor: draft tokens kept before the branch
            vr, vcal = np.ones(self.gamma), np.ones(self.gamma)
            vr[a + 1 :] = vc
            vcal[a + 1 :] = self.vp_cal(vc)
            raw.append(vr)
            cal.append(vcal)
            anchors.append(a)
        trie = build_tree(cands.rows, cands.names)
        value, _ = node_values(trie, cal)
        rank, min_n = None, 0
        if self._exploring:
            # explore: verify at least the whole DFlash row whatever it seems worth. The confidence maps
            # learn only from verified nodes; a drafter that looks worse than it is would never be tried
            spine = trie.row_nodes[0]
            rank = value.copy()
            rank[spine] = 2.0 - 1e-3 * np.arange(1, len(spine) + 1)
            min_n = len(spine)
        keep, _ = select_nodes(value, trie.depths, self.lam, self._over_plain(), self.max_nodes, min_n, rank)
        if not keep[1:].any():
            return None
        idx, lengths = trim_rows(trie, keep)
        note = _Choice([raw[i] for i in idx], [cal[i] for i in idx], [anchors[i] for i in idx], c)
        return cands.take(idx, lengths, note)

    # -- learning from what happened ----------------------------------------------------------
    def observe_plain(self, seconds: float, n: int = 1) -> None:
        """A run of n plain steps took `seconds` in all."""
        if n and self.learn_costs:
            self.cost.observe_step(seconds / n)

    def observe(self, out: Outcome) -> None:
        """After a drafted cycle (out.path None: it ended in a plain step)."""
        cost, ln = self.cost, self.learned
        path, emitted, dflash_s, vp_s, k = out.path, out.emitted, out.draft_s, out.branch_s, out.branches
        verify_s, nodes = out.verify_s, out.tree.size if out.tree is not None else 1
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
        if path is not None and out.kept is not None and out.kept.note is not None:
            self._record(out.tree, out.kept.note, path)

    def _record(self, trie: Tree, choice: "_Choice", path: list[int]) -> None:
        raw, cal, anchors, c = choice.raw, choice.cal, choice.anchors, choice.c
        v_raw, c_raw = node_values(trie, raw)
        v_cal, _ = node_values(trie, cal)
        on = np.zeros(trie.size, dtype=bool)
        on[path] = True
        self.learned.nodes_raw.add(v_raw[1:], on[1:])
        self.learned.nodes_cal.add(v_cal[1:], on[1:])
        # conditional events: children of accepted nodes, by source (a VP node beside a spine node only
        # counts when that spine node was verified and rejected, which is the event its confidence is for)
        spine_p, spine_hit, vp_p, vp_hit = [], [], [], []
        sibling = spine_siblings(trie)
        for i in range(1, trie.size):
            if not on[trie.parents[i]]:
                continue
            r, d = trie.row_of[i], trie.depths[i]
            if r == 0:
                spine_p.append(raw[0][d])
                spine_hit.append(on[i])
            elif sibling[i] < 0 or not on[sibling[i]]:
                vp_p.append(raw[r][d])
                vp_hit.append(on[i])
        for rel in (self.spine_cal, self.spine_events):
            rel.add(spine_p, spine_hit)
        for rel in (self.vp_cal, self.vp_events):
            rel.add(vp_p, vp_hit)
        # branch reach ρ_j: own nodes accepted at offset j per unit of the predicted r(anchor)
        ln = self.learned
        ln.reach(self.gamma - 1)
        for r in range(1, len(trie.row_nodes)):
            a = anchors[r]
            mass = float(np.prod(c[:a]) * (1.0 - c[a]))
            ids = trie.row_nodes[r][a:]
            for j, node in enumerate(ids):
                ln.branch_mass[j] += mass
                ln.branch_hits[j] += float(on[node] and trie.row_of[node] == r)

    def report(self) -> str:
        ln = self.learned
        parts = [ln.nodes_raw.to_markdown("Node values from raw confidences (the paper's r(i)-style products)"),
                 ln.nodes_cal.to_markdown("Node values from calibrated confidences (what the selection uses)"),
                 self.spine_events.to_markdown("DFlash confidence c_k vs acceptance given the parent was accepted"),
                 self.vp_events.to_markdown("VP confidence vs acceptance given the parent was accepted (and the spine token rejected)")]
        return "\n".join(parts)


@dataclass
class BudgetState:
    """What the budget learns about one bundle, mode and γ in this process: the cost model (measured
    once, refined online) and the learnt maps. The API keeps these on the Bundle."""

    cost: CostModel
    learned: Learned = field(default_factory=Learned)


def for_bundle(bundle, mode: str, block_size: int, branches: int, max_nodes: int | None, greedy: bool) -> Budget:
    """The controller for one generation (calibrating the cost model on first use)."""
    second = bundle.vp_drafter if mode == "d2sd" else bundle.drafter if mode == "dflash2" else None
    k_cap = min(branches, block_size - 1) if second is not None else 0
    key = (mode, block_size)
    state = bundle.budget_states.get(key)
    if state is None:
        state = BudgetState(load_or_calibrate(bundle.target, bundle.drafter, second, block_size).model)
        bundle.budget_states[key] = state
    return Budget(state.cost, block_size, k_cap, max_nodes, greedy=greedy, learned=state.learned)
