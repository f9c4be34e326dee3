"""Where the app keeps its data, and the user's settings file (keymap, defaults)."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

HOME_ENV = "D2SD_CHAT_HOME"
APP_DIR = "d2sd-chat"


def data_dir() -> Path:
    """$D2SD_CHAT_HOME, else the platform's user data folder."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_DIR
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / APP_DIR


@dataclass
class Config:
    """Contents of config.json in the data folder; every key optional."""

    keymap: dict[str, str] = field(default_factory=dict)  # binding id -> keys, e.g. {"stop": "ctrl+c"}
    system_prompt: str = ""
    params: dict = field(default_factory=dict)  # defaults for new chats, as for /set
    model_dirs: list[str] = field(default_factory=list)  # extra folders the model picker scans

    @property
    def path(self) -> Path:
        return data_dir() / "config.json"


def load_config() -> tuple[Config, str]:
    """The config and a notice ('' if fine); a broken file gives defaults and says why."""
    path = data_dir() / "config.json"
    if not path.exists():
        return Config(), ""
    try:
        raw = json.loads(path.read_text())
        if not isinstance(raw, dict):
            raise ValueError("expected a JSON object")
        config = Config(
            keymap={str(k): str(v) for k, v in dict(raw.get("keymap", {})).items()},
            system_prompt=str(raw.get("system_prompt", "")),
            params=dict(raw.get("params", {})),
            model_dirs=[str(d) for d in raw.get("model_dirs", [])],
        )
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        return Config(), f"{path} was ignored: {exc}"
    return config, ""
