"""What the decode loop asks at its fixed points, and the paper's answer (`FixedPolicy`).

Each cycle `decode.decode` asks its policy, in this order:
1. `plain_steps()`: take n plain one-token target steps now instead of drafting (usually 0);
2. `branch_starts(conf, alt)`: after the DFlash pass, where to branch: (i, j) = keep t_1..t_i and
   replace t_{i+1} by its j-th best alternative ([] = the DFlash row alone);
3. `keep(cands)`: after the branch rows are drafted, what of the candidates to verify (rows may be
   trimmed or dropped), or None for a plain one-token step instead;
4. `observe(outcome)` after the verify (or the plain step), and `observe_plain(seconds, n)` after
   a run of plain steps.

Everything a policy needs later travels in the values it returns (a `Candidates` carries its
`note` into the `Outcome`), so a policy keeps no per-cycle state between the calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .tree import Tree, top_branches


@dataclass
class Candidates:
    """One cycle's candidate rows, before the trie is built."""

    rows: list[list[int]]  # each starts with the anchor; rows[0] is the DFlash row
    names: list[str]  # "dflash", then "vp{i}" / "vp{i}/{j}" (branch after i draft tokens, j-th alternative; "dflash{i}" in dflash2)
    sources: list[list[str]]  # per row, per token after the anchor: "dflash" or "vp"
    conf: np.ndarray  # the DFlash confidences c_1..c_{γ-1} (raw)
    branch_conf: list[np.ndarray | None] = field(default_factory=list)  # per branch row: confidences from its branch token on
    note: Any = None  # the policy's own record of its choice, handed back in the Outcome

    def take(self, idx: list[int], lengths: list[int] | None = None, note: Any = None) -> "Candidates":
        """The rows idx (each cut to lengths[k] tokens after the anchor, if given)."""
        cut = lengths or [len(self.rows[r]) - 1 for r in idx]
        return Candidates([self.rows[r][: n + 1] for r, n in zip(idx, cut)], [self.names[r] for r in idx],
                          [self.sources[r][:n] for r, n in zip(idx, cut)], self.conf,
                          [self.branch_conf[r - 1] for r in idx if r > 0] if self.branch_conf else [], note)


@dataclass
class Outcome:
    """What one drafted cycle did, for the policy to learn from."""

    kept: Candidates | None  # what `keep` returned (None: it chose a plain step)
    tree: Tree | None  # the verified trie (None for a plain step)
    path: list[int] | None  # accepted trie nodes, root first (None for a plain step)
    emitted: int  # tokens committed, bonus included
    branches: int  # branch rows drafted (K)
    draft_s: float  # the DFlash pass
    branch_s: float  # the branch passes and the policy's choice
    verify_s: float  # the verify pass, walk and commit (or the plain step)


class Policy(Protocol):
    wants_branch_conf: bool  # whether `keep` reads the second drafter's confidences

    def plain_steps(self) -> int: ...

    def branch_starts(self, conf: np.ndarray, alt: np.ndarray | None) -> list[tuple[int, int]]: ...

    def keep(self, cands: Candidates) -> Candidates | None: ...

    def observe(self, outcome: Outcome) -> None: ...

    def observe_plain(self, seconds: float, n: int) -> None: ...


class FixedPolicy:
    """The paper's tree: the K likeliest branch starts every cycle, every candidate verified
    (up to the node cap, which `tree.build_tree` applies)."""

    wants_branch_conf = False

    def __init__(self, branches: int):
        self.branches = branches

    def plain_steps(self) -> int:
        return 0

    def branch_starts(self, conf, alt):
        return top_branches(conf, alt, self.branches) if self.branches and alt is not None else []

    def keep(self, cands: Candidates) -> Candidates:
        return cands

    def observe(self, outcome: Outcome) -> None:
        pass

    def observe_plain(self, seconds: float, n: int) -> None:
        pass
