"""Generation parameters of one chat, and how `/set key value` changes them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from d2sd_mlx.types import MODES, SPEC_MODES  # noqa: F401 (the app's modes are the decoder's)


class ParamError(ValueError):
    """A `/set` value that cannot be used; the message says what is accepted."""


@dataclass(frozen=True)
class Params:
    """What the engine is asked for; persisted per chat and per message."""

    mode: str = "d2sd"
    temp: float = 0.0
    top_p: float = 0.0
    top_k: int = 0
    max_tokens: int = 1024
    seed: int | None = None
    block_size: int | None = None
    branches: int = 4
    max_nodes: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> Params:
        """Build from stored data, ignoring unknown keys and values that no longer validate."""
        params = cls()
        for key, value in (data or {}).items():
            if key in _RULES:
                try:
                    params = params.set(key, "none" if value is None else str(value))
                except ParamError:
                    pass
        return params

    def set(self, key: str, text: str) -> Params:
        """A copy with `key` parsed from `text`; raises ParamError with a plain message."""
        key = _ALIASES.get(key.lower().replace("-", "_"), key.lower().replace("-", "_"))
        if key not in _RULES:
            raise ParamError(f"Unknown parameter '{key}'. Parameters: {', '.join(names())}.")
        return replace(self, **{key: _RULES[key](key, text.strip())})

    def describe(self) -> str:
        return " ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))


def names() -> list[str]:
    return [f.name for f in fields(Params)]


def _number(kind, low, high, optional=False):
    def parse(key: str, text: str):
        if optional and text.lower() in ("none", "auto", "default", ""):
            return None
        try:
            value = kind(text)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise ParamError(f"{key} must be {what}, got '{text}'.") from None
        if not (low <= value <= high):
            raise ParamError(f"{key} must be between {low} and {high}, got {text}.")
        return value

    return parse


def _mode(key: str, text: str) -> str:
    if text.lower() not in MODES:
        raise ParamError(f"mode must be one of {', '.join(MODES)}, got '{text}'.")
    return text.lower()


_RULES = {
    "mode": _mode,
    "temp": _number(float, 0.0, 5.0),
    "top_p": _number(float, 0.0, 1.0),
    "top_k": _number(int, 0, 100_000),
    "max_tokens": _number(int, 1, 1_000_000),
    "seed": _number(int, 0, 2**63 - 1, optional=True),
    "block_size": _number(int, 2, 64, optional=True),
    "branches": _number(int, 0, 16),
    "max_nodes": _number(int, 1, 4096, optional=True),
}

_ALIASES = {"temperature": "temp", "gamma": "block_size", "k": "branches", "max": "max_tokens"}
