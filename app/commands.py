"""Slash commands: the list, parsing a typed line, and completion."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    help: str


COMMANDS = (
    Command("new", "/new [title]", "Start a new chat"),
    Command("chats", "/chats", "Open a saved chat"),
    Command("model", "/model [path|default]", "Load a model (no argument: pick from a list)"),
    Command("draft", "/draft [vp] [path|off|default]", "Set the DFlash drafter, or with 'vp' the VP drafter"),
    Command("system", "/system [text|clear]", "Set this chat's system prompt (no argument: edit it)"),
    Command("set", "/set [key value]", "Set a parameter of this chat (no argument: list them)"),
    Command("spec", "/spec [on|off|ar|dflash|dflash2|d2sd]", "Turn speculation on or off, or pick its mode"),
    Command("stats", "/stats", "Show or hide the speculation panel"),
    Command("sources", "/sources", "Colour tokens by where they came from"),
    Command("copy", "/copy [code]", "Copy the last reply (or its last code block)"),
    Command("export", "/export [md|json] [path]", "Export this chat as Markdown or JSON"),
    Command("clear", "/clear", "Delete this chat's messages"),
    Command("help", "/help", "Every key and command"),
    Command("quit", "/quit", "Quit"),
)
BY_NAME = {c.name: c for c in COMMANDS}


class CommandError(ValueError):
    """A line that is not a known command; the message suggests what to type."""


def parse(line: str) -> tuple[str, str]:
    """'/set temp 0.7' -> ('set', 'temp 0.7'); raises CommandError for unknown commands."""
    head, _, arg = line.strip()[1:].partition(" ")
    name = head.lower()
    if name in BY_NAME:
        return name, arg.strip()
    close = [c.name for c in matches("/" + name)] if name else []
    close = close or difflib.get_close_matches(name, list(BY_NAME), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join('/' + c for c in close)}?" if close else ""
    raise CommandError(f"Unknown command /{head}.{hint} Type /help for the list.")


def matches(text: str) -> list[Command]:
    """Commands whose name starts with what is typed after the slash."""
    if not text.startswith("/") or " " in text:
        return []
    prefix = text[1:].lower()
    return [c for c in COMMANDS if c.name.startswith(prefix)]


def hints(text: str) -> list[Command]:
    """What to show under the prompt: matching commands, or the usage of the one being typed."""
    if not text.startswith("/"):
        return []
    if " " not in text:
        return matches(text)
    name = text[1:].split(" ", 1)[0].lower()
    return [BY_NAME[name]] if name in BY_NAME else []


def complete(text: str) -> str:
    """`text` extended as far as the matching commands agree (with a space when unique)."""
    found = matches(text)
    if not found:
        return text
    if len(found) == 1:
        return "/" + found[0].name + " "
    return "/" + os.path.commonprefix([c.name for c in found])
