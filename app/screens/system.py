"""Edit the chat's system prompt."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea


class SystemPromptScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("ctrl+s", "save", "Save", priority=True), Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="system"):
            yield Static("System prompt for this chat", classes="title")
            yield TextArea(self.text, soft_wrap=True, id="system-text")
            yield Static("[dim]Ctrl+S saves · Esc cancels[/dim]")

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text.strip())
