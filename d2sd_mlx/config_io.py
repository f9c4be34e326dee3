"""The one reader for JSON config files (model, drafter and bundle configs, converter inputs).

Every failure is a D2SDError that names the file and the problem, never a raw traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import D2SDError


def read_json(path: str | Path, what: str = "config", expect: type = dict):
    """Parse `path` as JSON holding a `expect` (a dict by default); `what` names the file's role.

    Raises D2SDError("PATH: <what> ...: problem") when the file is missing, unreadable, not UTF-8,
    not valid JSON, or of the wrong type.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise D2SDError(f"{path}: {what} file is missing") from e
    except IsADirectoryError as e:
        raise D2SDError(f"{path}: {what} file is a folder") from e
    except UnicodeDecodeError as e:
        raise D2SDError(f"{path}: {what} file is not UTF-8 text ({e.reason} at byte {e.start})") from e
    except OSError as e:
        raise D2SDError(f"{path}: cannot read the {what} file ({e.strerror or e})") from e
    if not text.strip():
        raise D2SDError(f"{path}: {what} file is empty")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise D2SDError(f"{path}: invalid JSON in the {what} file ({e.msg}: line {e.lineno}, column {e.colno}; "
                        "truncated or edited by hand?)") from e
    except RecursionError as e:
        raise D2SDError(f"{path}: {what} file is nested too deeply to parse") from e
    if expect is not None and not isinstance(value, expect):
        kinds = {dict: "a JSON object {...}", list: "a JSON list [...]"}
        raise D2SDError(f"{path}: {what} file must hold {kinds.get(expect, expect.__name__)}, "
                        f"found {_kind(value)}")
    return value


def _kind(value) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "null" if value is None else type(value).__name__
