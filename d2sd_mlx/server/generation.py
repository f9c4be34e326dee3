"""One request's generation on the public API: pieces of text per decode cycle, stop sequences cut."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from ..api import stream_generate
from .request import CompletionRequest
from .stops import StopMatcher


@dataclass
class Piece:
    """What one decode cycle added: its text (stop sequences removed), tokens and their sources.

    The last piece of a generation has `finish_reason` ("stop" or "length") and the run's stats.
    """

    text: str
    tokens: list[int]
    sources: list[str]
    completion_tokens: int
    finish_reason: str | None = None
    stats: dict | None = None


def generate_pieces(bundle, req: CompletionRequest, ids: list[int], max_tokens: int,
                    cancelled: Callable[[], bool] = lambda: False, prompt_cache=None) -> Iterator[Piece]:
    """Yield one Piece per decode cycle; stop within one cycle once `cancelled()` is true.
    prompt_cache: the server's `PromptCache` (requests run one at a time: a client resending its
    conversation prefills only what is new)."""
    stops = StopMatcher(req.stop)
    steps = stream_generate(
        bundle, ids, mode=req.mode, max_tokens=max_tokens, temp=req.temperature, top_p=req.top_p,
        top_k=req.top_k, seed=req.seed, budget=req.budget, prompt_cache=prompt_cache,
    )
    last = None
    try:
        for r in steps:
            last = r
            if cancelled():
                return
            text = stops.feed(r.text)
            finish = "stop" if stops.stopped else r.finish_reason
            if finish == "context":  # OpenAI's name for "stopped by a token limit"
                finish = "length"
            if finish is not None and not stops.stopped:
                text += stops.flush()
            stats = r.stats.to_dict() if finish is not None else None
            yield Piece(text, list(r.tokens), list(r.sources), r.stats.generation_tokens, finish, stats)
            if finish is not None:
                return
    finally:
        steps.close()
    # the decoder ended without a finish reason (the context is full): close the run as "length"
    if last is not None:
        yield Piece(stops.flush(), [], [], last.stats.generation_tokens, "length", last.stats.to_dict())
