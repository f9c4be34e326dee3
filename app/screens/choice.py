"""Pick one item from a list, or type a path: models, drafters, saved chats."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option


@dataclass(frozen=True)
class Choice:
    label: str
    value: str
    why_not: str = ""  # non-empty: shown greyed out with the reason


class ChoiceScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str, choices: list[Choice], *, path_prompt: str = "") -> None:
        super().__init__()
        self.title_text, self.choices, self.path_prompt = title, choices, path_prompt

    def compose(self) -> ComposeResult:
        with Vertical(id="choice"):
            yield Static(self.title_text, classes="title")
            options = [
                Option(c.label if not c.why_not else f"{c.label}  — {c.why_not}", id=str(i), disabled=bool(c.why_not))
                for i, c in enumerate(self.choices)
            ]
            if options:
                yield OptionList(*options)
            else:
                yield Static("Nothing found.", classes="empty")
            if self.path_prompt:
                yield Input(placeholder=self.path_prompt)
            yield Static("[dim]Enter picks · Esc cancels[/dim]")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.choices[int(event.option.id)].value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(event.value.strip())
