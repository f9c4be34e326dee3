"""The prompt box: Enter sends, Shift+Enter / Ctrl+J add a newline, Tab completes /commands."""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.widgets import Static, TextArea

from .. import commands
from ..keys import PROMPT_KEYS, effective


class PromptInput(TextArea):
    """Send/newline/complete keys are handled in `_on_key`, in order with the typed characters
    (a binding would run before the characters queued ahead of it reach the text)."""

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, **kwargs) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus",
                         placeholder="Ask anything… (Enter sends · / for commands · F1 help)", **kwargs)
        self.sent: list[str] = []
        self._history_pos = 0

    async def _on_key(self, event: events.Key) -> None:
        keymap = getattr(self.app, "keymap_config", {})
        for key in PROMPT_KEYS:
            if event.key in effective(key, keymap).split(",") and self.check_action(key.action, ()):
                event.stop()
                event.prevent_default()
                await self.run_action(key.action)
                return
        await super()._on_key(event)

    def action_send(self) -> None:
        text = self.text.strip()
        if not text:
            return
        if not self.sent or self.sent[-1] != text:
            self.sent.append(text)
        self._history_pos = len(self.sent)
        self.clear()
        self.post_message(self.Submitted(text))

    def action_newline(self) -> None:
        self.insert("\n")

    def action_complete(self) -> None:
        self.set_text(commands.complete(self.text))

    def action_history(self, step: int) -> None:
        if not self.sent:
            return
        self._history_pos = max(0, min(len(self.sent), self._history_pos + step))
        self.set_text(self.sent[self._history_pos] if self._history_pos < len(self.sent) else "")

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "complete":
            return bool(commands.matches(self.text))  # otherwise Tab moves focus as usual
        return True

    def set_text(self, text: str) -> None:
        self.load_text(text)
        self.move_cursor(self.document.end)


class CommandHints(Static):
    """The commands matching what is typed after '/', shown under the prompt."""

    def show_for(self, text: str) -> None:
        found = commands.hints(text)
        self.display = bool(found)
        if found:
            self.update("\n".join(f"{c.usage:<40} {c.help}" for c in found[:8]))
