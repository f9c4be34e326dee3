"""Every key the app answers to, in one table: bindings, help screen and keymap ids come from here.

Users remap keys in config.json: {"keymap": {"stop": "ctrl+c", "send": "ctrl+s"}}.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Key:
    id: str
    keys: str  # default keys, comma separated
    action: str
    description: str
    show: bool = True  # shown in the footer
    short: str = ""  # footer label (defaults to the description)


APP_KEYS = (
    Key("stop", "escape", "stop", "Stop generating (keeps the partial reply)", short="Stop"),
    Key("help", "f1", "help", "Help: every key and command", short="Help"),
    Key("new_chat", "ctrl+n", "new_chat", "New chat"),
    Key("sources", "ctrl+t", "toggle_sources", "Colour tokens by source", short="Sources"),
    Key("stats", "f2", "toggle_stats", "Speculation panel", short="Stats"),
    Key("chats", "ctrl+o", "open_chats", "Open a saved chat", show=False),
    Key("model", "f3", "pick_model", "Pick model and drafters", show=False),
    Key("copy", "f4", "copy_reply", "Copy the last reply", show=False),
    Key("quit", "ctrl+q", "quit", "Quit"),
)

PROMPT_KEYS = (
    Key("send", "enter", "send", "Send the message", show=False),
    Key("newline", "shift+enter,ctrl+j", "newline", "Insert a newline", show=False),
    Key("complete", "tab", "complete", "Complete a /command", show=False),
    Key("history_prev", "ctrl+up", "history(-1)", "Previous prompt", show=False),
    Key("history_next", "ctrl+down", "history(1)", "Next prompt", show=False),
)

SCROLL_KEYS = (  # priority: they scroll the chat even while the prompt has focus
    Key("scroll_up", "pageup", "scroll_chat(-1)", "Scroll the chat up", show=False),
    Key("scroll_down", "pagedown", "scroll_chat(1)", "Scroll the chat down", show=False),
)

OTHER_KEYS = (
    ("ctrl+p", "Command palette (every command, searchable)"),
    ("escape (in a dialog)", "Close the dialog"),
)


def bindings(keys: tuple[Key, ...], priority: bool = False) -> list[Binding]:
    return [Binding(k.keys, k.action, k.short or k.description, show=k.show, id=k.id, priority=priority) for k in keys]


def effective(key: Key, keymap: dict[str, str]) -> str:
    return keymap.get(key.id, key.keys)
