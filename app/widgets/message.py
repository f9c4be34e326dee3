"""One chat message: a header, the body as Markdown (streamed), the token-source view, a footer."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Markdown, Static

from ..engine_types import SOURCE_DFLASH, SOURCE_TARGET, SOURCE_VP

SOURCE_STYLES = {
    SOURCE_TARGET: "",  # the target's own (bonus / plain) tokens: default colour
    SOURCE_DFLASH: "bold green",
    SOURCE_VP: "bold magenta",
}
SOURCE_NAMES = {SOURCE_TARGET: "target / bonus", SOURCE_DFLASH: "DFlash accepted", SOURCE_VP: "VP accepted"}


def legend() -> Text:
    text = Text()
    for source, name in SOURCE_NAMES.items():
        text.append("■ ", style=SOURCE_STYLES[source] or "bold")
        text.append(name + "\n")
    text.rstrip()
    return text


class MessageView(Vertical):
    """A user or assistant message. Assistant replies stream in through `append`."""

    def __init__(self, role: str, text: str = "", *, spans: list | None = None, footer: str = "",
                 status: str = "done", message_id: int | None = None) -> None:
        super().__init__(classes=f"message {role} {status}")
        self.role, self.text, self.status, self.message_id = role, text, status, message_id
        self.spans: list[list[str]] = [list(s) for s in spans or []]  # [[source, text], ...] merged runs
        self._footer = footer
        self._stream = None
        self._showing_sources = False

    def compose(self) -> ComposeResult:
        yield Static("You" if self.role == "user" else "Assistant", classes="header")
        yield Markdown(self.text, classes="body")
        yield Static(classes="sources")
        yield Static(self._footer, classes="footer")

    @property
    def markdown(self) -> Markdown | None:
        """The body widget; None once the view is being torn down (e.g. the app is closing)."""
        found = self.query(".body")
        return found.first(Markdown) if found else None

    async def append(self, text: str, pieces: list[str], sources: list[str]) -> None:
        """Add the next piece of the reply; `pieces` (one per token) join to `text`."""
        if not text:
            return
        self.text += text
        for piece, source in zip(pieces, sources):
            if not piece:
                continue
            if self.spans and self.spans[-1][0] == source:
                self.spans[-1][1] += piece
            else:
                self.spans.append([source, piece])
        if self.markdown is None:
            return
        if self._stream is None:
            self._stream = Markdown.get_stream(self.markdown)
        await self._stream.write(text)
        if self._showing_sources:
            self._render_sources()

    async def finish(self, status: str, footer: str) -> None:
        """End streaming; re-parse the whole text once so code fences render right."""
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        if self.markdown is not None:
            await self.markdown.update(self.text)
        self.set_status(status, footer)

    def set_status(self, status: str, footer: str) -> None:
        self.remove_class(self.status)
        self.status = status
        self.add_class(status)
        self._footer = footer
        for widget in self.query(".footer"):
            widget.update(footer)

    def source_text(self) -> Text:
        text = Text()
        for source, piece in self.spans:
            text.append(piece, style=SOURCE_STYLES.get(source, ""))
        return text

    def show_sources(self, on: bool) -> None:
        if self.role != "assistant":
            return
        self._showing_sources = on
        self.set_class(on, "show-sources")
        if on:
            self._render_sources()

    def _render_sources(self) -> None:
        for widget in self.query(".sources"):
            widget.update(self.source_text())


class Note(Static):
    """An app message inside the chat (not stored): command output, errors."""

    def __init__(self, text: str, kind: str = "info") -> None:
        super().__init__(text, classes=f"note {kind}", markup=False)
