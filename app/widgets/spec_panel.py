"""The speculation panel: α, acceptance, winners, draft/verify split, speedup, α per cycle."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from .message import legend

SPARK_CYCLES = 48


class SpecPanel(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("Speculation", classes="title")
        yield Static("", id="spec-badge")
        yield Static("No speculative reply yet.", id="spec-lines", markup=False)
        yield Static("accepted per cycle", classes="caption")
        yield Sparkline([], id="spec-spark")
        yield Static(legend(), id="spec-legend")

    def show(self, badge: str, lines: list[str], accepted: list[int]) -> None:
        self.query_one("#spec-badge", Static).update(badge)
        self.query_one("#spec-lines", Static).update("\n".join(lines))
        self.query_one(Sparkline).data = list(accepted[-SPARK_CYCLES:])
