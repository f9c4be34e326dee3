"""Chat export: readable Markdown, and lossless JSON with every stored field."""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict
from pathlib import Path

from d2sd_mlx.atomic import write_text

from .store import Chat, StoredMessage

FORMATS = ("md", "json")
EXPORT_VERSION = 1


def to_markdown(chat: Chat, messages: list[StoredMessage]) -> str:
    lines = [f"# {chat.title or 'Chat'}", ""]
    lines.append(f"- created: {_when(chat.created_at)}")
    if chat.model or chat.drafter:
        lines.append(f"- model: {chat.model or 'default'}; drafter: {chat.drafter or '-'}; VP drafter: {chat.vp_drafter or '-'}")
    if chat.system_prompt:
        lines += ["", "**System prompt:**", "", _quote(chat.system_prompt)]
    for m in messages:
        lines += ["", f"## {'You' if m.role == 'user' else 'Assistant'}", ""]
        lines.append(m.content)
        if m.role == "assistant":
            lines += ["", f"<sub>{_footer(m)}</sub>"]
    return "\n".join(lines).rstrip() + "\n"


def to_json(chat: Chat, messages: list[StoredMessage]) -> str:
    return json.dumps(
        {"format": "d2sd-chat", "version": EXPORT_VERSION, "chat": asdict(chat),
         "messages": [asdict(m) for m in messages]},
        indent=2, ensure_ascii=False,
    ) + "\n"


def write(chat: Chat, messages: list[StoredMessage], fmt: str, path: Path) -> Path:
    text = to_markdown(chat, messages) if fmt == "md" else to_json(chat, messages)
    path = path.expanduser()
    if path.is_dir():
        path = path / default_name(chat, fmt)
    write_text(path, text)  # never a half-written export over an older one
    return path


def default_name(chat: Chat, fmt: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", (chat.title or "chat").lower()).strip("-")[:40] or "chat"
    return f"{slug}-{chat.id}.{fmt}"


def _footer(m: StoredMessage) -> str:
    s = m.stats or {}
    parts = [m.model or "default", m.mode or "?"]
    if s.get("generation_tokens"):
        parts.append(f"{s['generation_tokens']} tokens at {s.get('generation_tps', 0):.1f} tok/s")
    if m.alpha:
        parts.append(f"α {m.alpha:.2f}")
    parts.append(m.stop_reason or m.status)
    return " · ".join(parts)


def _quote(text: str) -> str:
    return "\n".join("> " + line for line in text.splitlines())


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))
