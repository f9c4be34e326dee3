"""Prompt files: JSONL with a "prompt" field per line (the dev and training sets), or plain text.
(Encoding a prompt for the target is `chat_template.prompt_ids`.)"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import D2SDError

DEV_PROMPTS = Path(__file__).parent / "data" / "dev_prompts.jsonl"


def read_prompts(path: str | Path) -> list[dict]:
    """JSONL with a "prompt" field per line (plain text files: one prompt per line)."""
    path = Path(path)
    if not path.is_file():
        raise D2SDError(f"{path}: prompt file not found")
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if path.suffix == ".jsonl":
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise D2SDError(f"{path}:{n}: invalid JSON ({e})") from e
            if not isinstance(row, dict) or not str(row.get("prompt", "")).strip():
                raise D2SDError(f"{path}:{n}: missing or empty \"prompt\" field")
            h = row.get("history")
            if h is not None and not (isinstance(h, list) and all(
                    isinstance(m, dict) and m.get("role") in ("system", "user", "assistant") and isinstance(m.get("content"), str)
                    for m in h)):
                raise D2SDError(f"{path}:{n}: \"history\" must be a list of {{\"role\", \"content\"}} messages")
            rows.append(row)
        else:
            rows.append({"prompt": line})
    if not rows:
        raise D2SDError(f"{path}: no prompts")
    return rows


def as_prompt(row: dict):
    """A prompt-file row as a prompt: its text, or with a "history" of earlier turns, the conversation."""
    history = row.get("history")
    return list(history) + [{"role": "user", "content": row["prompt"]}] if history else row["prompt"]
