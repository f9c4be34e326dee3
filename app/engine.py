"""The engine seen by the app: load a model bundle, stream one reply as `Response`s.

`RealEngine` wraps `d2sd_mlx` (imported lazily, so the UI never imports MLX until a real
model is loaded); `app.fake_engine.FakeEngine` follows the same protocol for tests and demos.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Protocol

from .models import check_model_dir
from .params import Params

if TYPE_CHECKING:
    from d2sd_mlx.types import Response

Message = dict  # {"role": "system" | "user" | "assistant", "content": str}


class EngineError(Exception):
    """A model or drafter that cannot be used; the message says why in plain words."""


@dataclass(frozen=True)
class EngineInfo:
    """What is loaded, and whether speculation can run (and if not, why)."""

    name: str
    model: str | None  # path as given, None for the embedded default
    drafter: str | None
    vp_drafter: str | None
    max_context: int
    block_size: int | None  # the drafter's γ, None when unknown or no drafter
    spec: str  # "on", "off" or "failed"
    spec_reason: str  # plain-language reason when not "on"

    @property
    def modes(self) -> tuple[str, ...]:
        if self.drafter and self.vp_drafter:
            return ("ar", "dflash", "dflash2", "d2sd")
        if self.drafter:
            return ("ar", "dflash", "dflash2")
        return ("ar",)


def resolve_mode(requested: str, info: EngineInfo | None) -> tuple[str, str]:
    """The mode that will actually run, and a plain note when it differs from `requested`."""
    if info is None or requested in info.modes:
        return requested, ""
    if requested == "d2sd" and "dflash" in info.modes:
        return "dflash", "No VP drafter is loaded, so D²SD runs as plain DFlash (one draft row)."
    why = info.spec_reason or "no drafter is loaded"
    return "ar", f"Speculation is off ({why}); using plain decoding."


class Engine(Protocol):
    info: EngineInfo | None

    def load(self, model: str | None, drafter: str | None, vp_drafter: str | None) -> EngineInfo:
        """Load (or replace) the bundle; raise EngineError when the target cannot be used."""

    def stream(self, messages: list[Message], params: Params) -> Iterator[Response]:
        """Yield one Response per decode cycle; closing the iterator stops generation."""

    def pieces(self, response: Response) -> list[str]:
        """Per-token text of `response`, joining exactly to `response.text`."""


def align_pieces(pieces: list[str], text: str) -> list[str]:
    """Make per-token pieces join exactly to `text` (the detokenizer's truth), never losing text.

    Pieces decoded one token at a time can disagree with the streaming detokenizer around
    incomplete multibyte characters; the mismatch is absorbed by the nearest piece.
    """
    if "".join(pieces) == text or not pieces:
        return pieces if pieces else ([text] if text else [])
    out, pos = [], 0
    for piece in pieces[:-1]:
        piece = piece.replace("\ufffd", "")
        take = piece if text.startswith(piece, pos) else text[pos : pos + len(piece)]
        out.append(take)
        pos += len(take)
    out.append(text[pos:])
    return out


def clean_text(text: str) -> tuple[str, bool]:
    """Replace lone surrogates (undecodable bytes) by U+FFFD; report whether the text was broken."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text), True
    return text, "\ufffd" in text


class RealEngine:
    """d2sd_mlx behind the Engine protocol: chat template, context fitting, per-token text."""

    CONTEXT_TOKENS = 4  # tokens of left context used to decode one token's text

    def __init__(self) -> None:
        self.bundle = None
        self.info: EngineInfo | None = None
        self._generated: list[int] = []
        self._caches: list = []  # d2sd_mlx.PromptCache per recent conversation, least recently used first

    def load(self, model, drafter, vp_drafter) -> EngineInfo:
        for label, path in (("model", model), ("drafter", drafter), ("VP drafter", vp_drafter)):
            if path:
                problem = check_model_dir(path, bundle=label == "model")
                if problem:
                    raise EngineError(f"Cannot use {label} {path}: {problem}")
        try:
            import d2sd_mlx
            from d2sd_mlx.errors import D2SDError
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise EngineError(f"The d2sd_mlx engine is not available: {exc}") from exc
        spec_error = ""
        try:
            bundle = d2sd_mlx.load(model=model, drafter=drafter, vp_drafter=vp_drafter)
        except D2SDError as exc:
            # An explicit drafter that cannot be used is an error: never answer with other drafters
            # (the bundle's defaults) or silently without the one that was asked for.
            given = [f"{label} {path}" for label, path in (("drafter", drafter), ("VP drafter", vp_drafter)) if path]
            hint = f" (fix or drop the {' and '.join(given)}: an explicit drafter is never replaced)" if given else ""
            raise EngineError(f"{exc}{hint}") from exc
        except (OSError, KeyError) as exc:
            raise EngineError(f"Could not load {model or 'the default bundle'}: {exc}") from exc
        self.bundle = bundle
        self._caches = []  # another model: nothing cached applies
        self.info = _bundle_info(bundle, model, drafter, vp_drafter, spec_error)
        return self.info

    def stream(self, messages, params):
        from d2sd_mlx import stream_generate

        if self.bundle is None:
            raise EngineError("No model is loaded.")
        mode, _ = resolve_mode(params.mode, self.info)
        prompt, max_tokens = self._fit(messages, params.max_tokens)
        self._generated = list(prompt[-self.CONTEXT_TOKENS :])
        cache = self._cache_for(prompt)
        return stream_generate(
            self.bundle, prompt, mode=mode, max_tokens=max_tokens, temp=params.temp,
            top_p=params.top_p, top_k=params.top_k, seed=params.seed,
            block_size=params.block_size, branches=params.branches, max_nodes=params.max_nodes,
            prompt_cache=cache,
        )

    MAX_CACHES = 3  # conversations whose caches are kept (switching between chats keeps theirs)

    def _cache_for(self, prompt: list[int]):
        """The cache of the conversation `prompt` continues: the one sharing the longest prefix with it,
        when that prefix holds the cache's last prompt (a follow-up) or nearly all of this one (a
        regenerated reply); else a fresh one, in place of the least recently used when all are taken."""
        from d2sd_mlx.prompt_cache import PromptCache, supported

        if not supported(self.bundle.target):
            return None  # a target split over ranks takes no prompt cache

        def shared(c) -> int:
            n = 0
            for a, b in zip(c.tokens, prompt):
                if a != b:
                    break
                n += 1
            return n

        n, best = max(((shared(c), c) for c in self._caches), key=lambda p: p[0], default=(0, None))
        if best is None or (n < best.prompt_len and n < 0.9 * len(prompt)):
            if len(self._caches) < self.MAX_CACHES:
                best = PromptCache()
            else:
                best = self._caches[0]
                best.clear()
        if best in self._caches:
            self._caches.remove(best)
        self._caches.append(best)
        return best

    def pieces(self, response):
        tok = self.bundle.target.tokenizer
        context = self._generated[-self.CONTEXT_TOKENS :]
        prev, out = tok.decode(context), []
        for i in range(len(response.tokens)):
            cur = tok.decode(context + list(response.tokens[: i + 1]))
            common = _common_prefix(prev, cur)
            out.append(cur[common:])
            prev = cur
        self._generated.extend(response.tokens)
        return align_pieces(out, response.text)

    def _encode(self, messages) -> list[int]:
        from d2sd_mlx.chat_template import messages_ids

        return messages_ids(self.bundle.target.tokenizer, messages)

    def _fit(self, messages, max_tokens: int) -> tuple[list[int], int]:
        """Drop the oldest turns (never the system prompt or the question) until the prompt fits."""
        limit = self.info.max_context if self.info else 1 << 30
        messages = list(messages)
        prompt = self._encode(messages)
        while len(prompt) + min(max_tokens, 256) > limit:
            first = 1 if messages and messages[0]["role"] == "system" else 0
            if len(messages) - first <= 1:
                break
            del messages[first]
            prompt = self._encode(messages)
        if len(prompt) >= limit:
            raise EngineError(f"The prompt is {len(prompt)} tokens; the model's context is {limit}.")
        return prompt, max(1, min(max_tokens, limit - len(prompt)))


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _bundle_info(bundle, model, drafter, vp_drafter, spec_error: str) -> EngineInfo:
    d, vp = bundle.drafter, bundle.vp_drafter
    block = None
    for candidate in (d, vp):
        cfg = getattr(candidate, "cfg", None) or getattr(candidate, "config", None)
        block = block or getattr(cfg, "block_size", None) or getattr(candidate, "block_size", None)
    if spec_error:
        spec, reason = "failed", f"the drafter failed to load: {spec_error}"
    elif d is None:
        spec = "off"
        reason = "no drafter was given" if model else "the default bundle has no drafter"
    else:
        spec, reason = "on", "" if vp is not None else "no VP drafter: DFlash only"
    return EngineInfo(
        name=getattr(bundle, "name", None) or (Path(model).name if model else "default"),
        model=model,
        drafter=_label(drafter or (getattr(bundle, "drafter_path", None) if model else None), d),
        vp_drafter=_label(vp_drafter or (getattr(bundle, "vp_drafter_path", None) if model else None), vp),
        max_context=int(getattr(bundle, "max_context", 0) or 2048),
        block_size=int(block) if block else None,
        spec=spec,
        spec_reason=reason,
    )


def _label(path: str | None, loaded) -> str | None:
    if loaded is None:
        return None
    return Path(path).name if path else "default"
