"""The help screen: every key (as remapped by the user) and every slash command."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..commands import COMMANDS
from ..keys import APP_KEYS, OTHER_KEYS, PROMPT_KEYS, SCROLL_KEYS, effective


def help_table(keymap: dict[str, str]) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("[u]Keys[/u]", "")
    for key in (*PROMPT_KEYS, *APP_KEYS, *SCROLL_KEYS):
        table.add_row(escape(effective(key, keymap).replace(",", " / ")), f"{escape(key.description)}  [dim]({key.id})[/dim]")
    for keys, what in OTHER_KEYS:
        table.add_row(escape(keys), escape(what))
    table.add_row("", "")
    table.add_row("[u]Commands[/u]", "")
    for c in COMMANDS:
        table.add_row(escape(c.usage), escape(c.help))
    table.add_row("", "")
    table.add_row("[u]Remap keys[/u]", escape('config.json in the data folder: {"keymap": {"stop": "ctrl+c"}}, '
                                             "using the ids in brackets above"))
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(help_table(self.app.keymap_config), id="help-table")
            yield Static("[dim]Esc closes this screen.[/dim]")
