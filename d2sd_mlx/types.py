"""Plain data passed between the decode loop, the API and the app."""

from __future__ import annotations

from dataclasses import dataclass, field

# Where an emitted token came from.
SOURCE_TARGET = "target"  # sampled by the target itself (bonus token, or AR decoding)
SOURCE_DFLASH = "dflash"  # drafted by the DFlash drafter (its row, its alternatives, all of dflash2) and accepted
SOURCE_VP = "vp"  # drafted by the VP drafter (d2sd's branch tokens at i >= 1 and tails) and accepted

MODES = ("ar", "dflash", "dflash2", "d2sd")
SPEC_MODES = MODES[1:]  # the speculative ones (ar is the target alone)
BUDGETS = ("auto", "fixed")  # how the speculative modes pick their tree: budget.py, or the paper's fixed tree


@dataclass
class CycleStats:
    """What one draft/verify cycle did."""

    accepted: int  # tokens committed this cycle, bonus included (1 .. block size)
    # "dflash" (the DFlash row), a branch anchored after i draft tokens named by the drafter that drafted
    # it: "vp{i}" (d2sd) or "dflash{i}" (dflash2), "/{j}" for the j-th alternative there; or "none"
    winner: str
    nodes: int  # tree nodes verified (1 for a plain one-token step)
    branches: int  # VP branches drafted (K)
    draft_s: float
    verify_s: float
    drafted: bool = True  # False: a plain target step chosen by the budget without drafting


@dataclass
class Stats:
    """Running statistics of one generation."""

    mode: str = "ar"
    budget: str = ""  # "fixed" or "auto" for the speculative modes
    seed: int | None = None  # the sampling seed (drawn per request when not given): replays the run at T>0
    prompt_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens taken from a PromptCache (not prefilled again)
    prompt_s: float = 0.0
    generation_tokens: int = 0
    generation_s: float = 0.0
    ttft_s: float = 0.0
    cycles: int = 0
    accepted_lengths: list[int] = field(default_factory=list)
    winners: dict[str, int] = field(default_factory=dict)
    nodes_verified: int = 0
    k_counts: dict[int, int] = field(default_factory=dict)  # drafted cycles by K (VP branches)
    plain_steps: int = 0  # cycles that were plain target steps without a draft
    draft_s: float = 0.0
    verify_s: float = 0.0
    peak_memory_gb: float = 0.0
    finish_reason: str = ""  # set on the last response: "stop", "length" or "context"
    dist: dict | None = None  # a target split over ranks: layout, ranks, passes and rank 0's time by kind

    @property
    def alpha(self) -> float:
        """Mean tokens committed per cycle, bonus included."""
        return sum(self.accepted_lengths) / len(self.accepted_lengths) if self.accepted_lengths else 0.0

    @property
    def prompt_tps(self) -> float:
        """Prompt tokens prefilled per second (cached ones are not counted)."""
        return (self.prompt_tokens - self.cached_tokens) / self.prompt_s if self.prompt_s > 0 else 0.0

    @property
    def generation_tps(self) -> float:
        return self.generation_tokens / self.generation_s if self.generation_s > 0 else 0.0

    def add_cycle(self, c: CycleStats) -> None:
        self.cycles += 1
        self.accepted_lengths.append(c.accepted)
        self.winners[c.winner] = self.winners.get(c.winner, 0) + 1
        self.nodes_verified += c.nodes
        if c.drafted:
            self.k_counts[c.branches] = self.k_counts.get(c.branches, 0) + 1
        else:
            self.plain_steps += 1
        self.draft_s += c.draft_s
        self.verify_s += c.verify_s

    def to_dict(self) -> dict:
        return {
            "mode": self.mode,
            "prompt_tokens": self.prompt_tokens,
            "cached_tokens": self.cached_tokens,
            "prompt_tps": round(self.prompt_tps, 3),
            "generation_tokens": self.generation_tokens,
            "generation_tps": round(self.generation_tps, 3),
            "ttft_s": round(self.ttft_s, 4),
            "cycles": self.cycles,
            "alpha": round(self.alpha, 4),
            "accepted_lengths": list(self.accepted_lengths),
            "winners": dict(self.winners),
            "nodes_per_cycle": round(self.nodes_verified / self.cycles, 3) if self.cycles else 0.0,
            "budget": self.budget,
            "seed": self.seed,
            "k_counts": {str(k): n for k, n in sorted(self.k_counts.items())},
            "plain_steps": self.plain_steps,
            "draft_s": round(self.draft_s, 4),
            "verify_s": round(self.verify_s, 4),
            "peak_memory_gb": round(self.peak_memory_gb, 4),
            "finish_reason": self.finish_reason,
            **({"dist": dict(self.dist)} if self.dist is not None else {}),
        }


@dataclass
class Response:
    """One streamed segment: the tokens committed by one cycle (or the prompt's first token)."""

    text: str
    tokens: list[int]
    sources: list[str]  # one of SOURCE_* per token
    stats: Stats
    finish_reason: str | None = None  # "stop" (EOS), "length" (max tokens), "context" (context full) or None
    cycle: CycleStats | None = None
