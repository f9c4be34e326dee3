"""OpenAI-shaped JSON: completions, stream chunks, usage with the `d2sd` stats, models; SSE framing."""

from __future__ import annotations

import json
import time
import uuid

from .request import CHAT


def new_id(kind: str) -> str:
    return ("chatcmpl-" if kind == CHAT else "cmpl-") + uuid.uuid4().hex[:24]


def d2sd_stats(stats: dict) -> dict:
    """The run's stats for `usage.d2sd`: what the speculation did, with accepted lengths summarized."""
    acc = list(stats.get("accepted_lengths", []))
    hist: dict[str, int] = {}
    for n in sorted(acc):
        hist[str(n)] = hist.get(str(n), 0) + 1
    out = {k: v for k, v in stats.items() if k != "accepted_lengths"}
    out["accepted_lengths"] = {
        "mean": round(sum(acc) / len(acc), 4) if acc else 0.0,
        "min": min(acc) if acc else 0, "max": max(acc) if acc else 0, "histogram": hist,
    }
    return out


def usage(prompt_tokens: int, completion_tokens: int, stats: dict | None) -> dict:
    u = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
         "total_tokens": prompt_tokens + completion_tokens}
    if stats is not None:
        u["prompt_tokens_details"] = {"cached_tokens": int(stats.get("cached_tokens", 0))}  # OpenAI's field
        u["d2sd"] = d2sd_stats(stats)
    return u


class Shaper:
    """Builds the response objects of one request (same id, model and creation time throughout)."""

    def __init__(self, kind: str, model: str):
        self.kind = kind
        self.model = model
        self.id = new_id(kind)
        self.created = int(time.time())

    def _head(self, obj: str) -> dict:
        return {"id": self.id, "object": obj, "created": self.created, "model": self.model}

    def completion(self, text: str, finish_reason: str, usage_: dict) -> dict:
        if self.kind == CHAT:
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None,
                      "finish_reason": finish_reason}
            return {**self._head("chat.completion"), "choices": [choice], "usage": usage_}
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}
        return {**self._head("text_completion"), "choices": [choice], "usage": usage_}

    def chunk(self, text: str | None = None, finish_reason: str | None = None, *, role: bool = False,
              extra: dict | None = None, with_usage: bool = False) -> dict:
        """One stream chunk: text of one decode cycle, or the opening role / closing finish_reason."""
        if self.kind == CHAT:
            delta = {"role": "assistant", "content": ""} if role else ({"content": text} if text else {})
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            out = {**self._head("chat.completion.chunk"), "choices": [choice]}
        else:
            choice = {"index": 0, "text": text or "", "logprobs": None, "finish_reason": finish_reason}
            out = {**self._head("text_completion"), "choices": [choice]}
        if extra:
            out["d2sd"] = extra
        if with_usage:
            out["usage"] = None
        return out

    def usage_chunk(self, usage_: dict) -> dict:
        obj = "chat.completion.chunk" if self.kind == CHAT else "text_completion"
        return {**self._head(obj), "choices": [], "usage": usage_}


def models(model: str, created: int) -> dict:
    return {"object": "list", "data": [model_card(model, created)]}


def model_card(model: str, created: int) -> dict:
    return {"id": model, "object": "model", "created": created, "owned_by": "d2sd-mlx"}


def sse(obj) -> bytes:
    """One Server-Sent Event carrying `obj` as JSON (or the literal [DONE])."""
    data = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)
    return f"data: {data}\n\n".encode()


DONE = sse("[DONE]")
