"""Validate a request body into a `CompletionRequest`, naming the field at fault.

Fields are read as `mlx_lm.server` reads them; unknown fields are ignored, as OpenAI clients
expect. Known fields whose meaning this server cannot honour (logprobs, n > 1, penalties, …) are
refused with a 400 rather than silently ignored, unless they carry their neutral value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..types import BUDGETS, MODES
from .errors import bad_request

CHAT = "chat"
TEXT = "text"

ROLES = ("system", "developer", "user", "assistant")
MAX_STOPS = 16


@dataclass(frozen=True)
class Defaults:
    """What a request gets for each field it leaves out (the server's flags)."""

    max_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    mode: str | None = None  # None: the best the loaded drafters allow
    budget: str | None = None  # None: "auto" in d2sd mode, "fixed" otherwise


@dataclass(frozen=True)
class CompletionRequest:
    """One validated /v1/chat/completions or /v1/completions request."""

    kind: str  # CHAT or TEXT
    messages: tuple[dict, ...] = ()  # CHAT: {"role", "content"} with text content
    prompt: str | tuple[int, ...] = ""  # TEXT: text, or token ids
    max_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    stream: bool = False
    include_usage: bool = False
    mode: str = "ar"
    budget: str | None = None
    model: str | None = None


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


def _type_name(v) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null",
            int: "integer", float: "number"}.get(type(v), type(v).__name__)


def _wrong_type(name: str, want: str, v):
    return bad_request(f"'{name}' must be {want}, got {_type_name(v)} {v!r:.60}", name, "invalid_type")


def _get_int(body: dict, name: str, default, lo: int | None = None, hi: int | None = None):
    v = body.get(name)
    if v is None:
        return default
    if not _is_int(v):
        raise _wrong_type(name, "an integer", v)
    if lo is not None and v < lo:
        raise bad_request(f"'{name}' must be >= {lo}, got {v}", name, "invalid_value")
    if hi is not None and v > hi:
        raise bad_request(f"'{name}' must be <= {hi}, got {v}", name, "invalid_value")
    return v


def _get_number(body: dict, name: str, default: float, lo: float, hi: float | None = None) -> float:
    v = body.get(name)
    if v is None:
        return default
    if not _is_number(v):
        raise _wrong_type(name, "a finite number", v)
    if v < lo or (hi is not None and v > hi):
        rng = f">= {lo}" if hi is None else f"between {lo} and {hi}"
        raise bad_request(f"'{name}' must be {rng}, got {v}", name, "invalid_value")
    return float(v)


def _get_bool(body: dict, name: str, default: bool) -> bool:
    v = body.get(name)
    if v is None:
        return default
    if not isinstance(v, bool):
        raise _wrong_type(name, "a boolean", v)
    return v


def _get_choice(body: dict, name: str, choices) -> str | None:
    v = body.get(name)
    if v is None:
        return None
    if not isinstance(v, str):
        raise _wrong_type(name, "a string", v)
    if v not in choices:
        raise bad_request(f"'{name}' must be one of {', '.join(choices)}; got {v!r}", name, "invalid_value")
    return v


def _zero(v) -> bool:
    return _is_number(v) and v == 0


NEUTRAL = {  # known fields this server cannot honour, and the values that ask for nothing
    "n": lambda v: _is_int(v) and v == 1,
    "best_of": lambda v: _is_int(v) and v == 1,
    "echo": lambda v: v is False,
    "suffix": lambda v: v == "",
    "frequency_penalty": _zero,
    "presence_penalty": _zero,
    "logit_bias": lambda v: v == {},
    "logprobs": lambda v: v is False or (_is_int(v) and v == 0),
    "top_logprobs": lambda v: _is_int(v) and v == 0,
}
WHY = {
    "logprobs": "log-probabilities are not reported by this server",
    "top_logprobs": "log-probabilities are not reported by this server",
    "n": "one choice per request is generated",
    "best_of": "one choice per request is generated",
}


def _unsupported(body: dict) -> None:
    """Known OpenAI fields this server cannot honour: a 400 unless they carry the neutral value."""
    for name, neutral in NEUTRAL.items():
        v = body.get(name)
        if v is None or neutral(v):
            continue
        reason = WHY.get(name, "this server does not support it")
        raise bad_request(f"'{name}' = {v!r:.60} is not supported: {reason}", name, "unsupported_parameter")


def _text_content(content, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for j, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                kind = part.get("type") if isinstance(part, dict) else _type_name(part)
                raise bad_request(f"'{where}[{j}]': only text parts are supported, got {kind!r:.40}",
                                  f"{where}[{j}]", "invalid_content")
            parts.append(part["text"])
        return "".join(parts)
    raise _wrong_type(where, "a string or a list of text parts", content)


def parse_messages(messages) -> tuple[dict, ...]:
    if messages is None:
        raise bad_request("'messages' is required", "messages", "missing_field")
    if not isinstance(messages, list):
        raise _wrong_type("messages", "a list of message objects", messages)
    if not messages:
        raise bad_request("'messages' must not be empty", "messages", "empty_array")
    out = []
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise _wrong_type(where, "an object", m)
        role = m.get("role")
        if not isinstance(role, str):
            raise _wrong_type(f"{where}.role", "a string", role) if role is not None else \
                bad_request(f"'{where}.role' is required", f"{where}.role", "missing_field")
        if role not in ROLES:
            raise bad_request(f"'{where}.role': unknown role {role!r:.40} (supported: {', '.join(ROLES)})",
                              f"{where}.role", "invalid_value")
        content = m.get("content")
        if content is None and role != "assistant":
            raise bad_request(f"'{where}.content' is required", f"{where}.content", "missing_field")
        text = "" if content is None else _text_content(content, f"{where}.content")
        out.append({"role": "system" if role == "developer" else role, "content": text})
    return tuple(out)


def parse_prompt(prompt, vocab_size: int) -> str | tuple[int, ...]:
    if prompt is None:
        raise bad_request("'prompt' is required", "prompt", "missing_field")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], (str, list)):
        prompt = prompt[0]  # one prompt in a batch of one
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and prompt and all(_is_int(t) for t in prompt):
        bad = [t for t in prompt if not 0 <= t < vocab_size]
        if bad:
            raise bad_request(f"'prompt': token id {bad[0]} is outside the vocabulary (0..{vocab_size - 1})",
                              "prompt", "invalid_value")
        return tuple(prompt)
    if isinstance(prompt, list) and prompt and all(isinstance(p, (str, list)) for p in prompt):
        raise bad_request("'prompt': batches of several prompts are not supported; send one per request",
                          "prompt", "unsupported_parameter")
    raise _wrong_type("prompt", "a string or a list of token ids", prompt)


def parse_stop(stop) -> tuple[str, ...]:
    if stop is None:
        return ()
    stops = [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise _wrong_type("stop", "a string or a list of strings", stop)
    if len(stops) > MAX_STOPS:
        raise bad_request(f"'stop' has {len(stops)} sequences; at most {MAX_STOPS} are allowed", "stop", "invalid_value")
    if any(s == "" for s in stops):
        raise bad_request("'stop' sequences must not be empty strings", "stop", "invalid_value")
    return tuple(dict.fromkeys(stops))


def parse_request(body, kind: str, defaults: Defaults, *, max_context: int, vocab_size: int,
                  modes: tuple[str, ...], default_mode: str) -> CompletionRequest:
    """Validate `body` (parsed JSON) for a CHAT or TEXT request; raise APIError 400 naming the field.

    `modes` are those the loaded drafters allow; `max_tokens` above `max_context` is refused as absurd.
    """
    if not isinstance(body, dict):
        raise bad_request(f"the request body must be a JSON object, got {_type_name(body)}", None, "invalid_body")
    _unsupported(body)
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise _wrong_type("model", "a string", model)
    name = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    max_tokens = _get_int(body, name, defaults.max_tokens, lo=1, hi=max_context)
    seed = _get_int(body, "seed", None, lo=-(2**63), hi=2**64 - 1)
    stream = _get_bool(body, "stream", False)
    opts = body.get("stream_options")
    if opts is not None and not isinstance(opts, dict):
        raise _wrong_type("stream_options", "an object", opts)
    include_usage = (opts or {}).get("include_usage")
    if include_usage is not None and not isinstance(include_usage, bool):
        raise _wrong_type("stream_options.include_usage", "a boolean", include_usage)
    mode = _get_choice(body, "mode", MODES) or defaults.mode or default_mode
    if mode not in modes:
        raise bad_request(f"'mode' {mode!r} needs drafters this server has not loaded (available: {', '.join(modes)})",
                          "mode", "invalid_value")
    req = dict(
        kind=kind, max_tokens=max_tokens,
        temperature=_get_number(body, "temperature", defaults.temperature, 0.0),
        top_p=_get_number(body, "top_p", defaults.top_p, 0.0, 1.0),
        top_k=_get_int(body, "top_k", defaults.top_k, lo=0),
        seed=None if seed is None else seed % 2**64,
        stop=parse_stop(body.get("stop")), stream=stream, include_usage=stream and bool(include_usage),
        mode=mode, budget=_get_choice(body, "budget", BUDGETS) or defaults.budget, model=model,
    )
    if kind == CHAT:
        req["messages"] = parse_messages(body.get("messages"))
    else:
        req["prompt"] = parse_prompt(body.get("prompt"), vocab_size)
    return CompletionRequest(**req)
