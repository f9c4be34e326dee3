"""The bottom status bar and the diagnostics line above the prompt."""

from __future__ import annotations

from textual.widgets import Static


class StatusBar(Static):
    """tok/s, TTFT, tokens, context used/max, peak memory, α; live while a reply streams."""


class Diagnostics(Static):
    """Plain-language notes on speculation; hidden when there is nothing to say."""

    def show(self, lines: list[str]) -> None:
        self.display = bool(lines)
        self.update("\n".join("⚠ " + line for line in lines))
