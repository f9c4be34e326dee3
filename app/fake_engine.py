"""A scripted engine with known token sources and timings, for tests and `--fake` demos.

Replies are split into word tokens; each cycle commits a scripted number of them, the drafted
ones tagged "dflash" or "vp" and the last one "target" (the bonus token), like the real loop; a
scripted branch winner "vp{i}" is "dflash{i}" in dflash2 mode and the DFlash row in dflash mode.
Markers in the user's message pick special scripts: [long], [slow], [utf8], [error].
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

from .engine_types import SOURCE_DFLASH, SOURCE_TARGET, SOURCE_VP, CycleStats, Response, Stats

from .engine import EngineError, EngineInfo, resolve_mode
from .models import check_model_dir

ALPHAS = (5, 2, 7, 1, 4, 3, 6, 2, 8, 3)
WINNERS = ("dflash", "dflash", "vp2", "dflash", "vp0", "dflash", "vp1", "dflash", "vp3", "dflash")


def words(text: str) -> list[str]:
    """Split into tokens that join back exactly: each token is its leading space plus a word."""
    return re.findall(r"\s*\S+|\s+", text)


def default_reply(question: str) -> str:
    if "[long]" in question:
        return long_reply()
    topic = question.strip().splitlines()[0][:60] if question.strip() else "nothing"
    return (
        f"You asked about **{topic}**. Here is a short answer.\n\n"
        "1. Speculative decoding drafts several tokens at once.\n"
        "2. The target model verifies them in one pass.\n\n"
        "```python\ndef accept(draft, target):\n    return [d for d, t in zip(draft, target) if d == t]\n```\n\n"
        "| mode | tokens per cycle |\n| --- | --- |\n| ar | 1 |\n| d2sd | up to γ |\n\n"
        "That is all."
    )


def long_reply(sections: int = 10) -> str:
    """About 500 tokens per section: a long paragraph, a fenced code block and a table."""
    parts = []
    for i in range(sections):
        prose = " ".join(f"word{j}" for j in range(300))
        code = "\n".join(f"    total += {j} * {i}" for j in range(40))
        rows = "\n".join(f"| {j} | {j * j} |" for j in range(20))
        parts.append(f"## Part {i}\n\nSome *text* about part {i}: {prose}.\n\n"
                     f"```python\ndef part_{i}(total=0):\n{code}\n    return total\n```\n\n"
                     f"| n | square |\n| --- | --- |\n{rows}\n\n")
    return "".join(parts)


class FakeEngine:
    """Engine protocol, scripted. `gate` (a Semaphore) releases one cycle per `release()`."""

    def __init__(
        self,
        reply=None,
        *,
        alphas=ALPHAS,
        winners=WINNERS,
        block_size: int = 8,
        delay: float = 0.0,
        gate: threading.Semaphore | None = None,
        drafter: bool = True,
        vp_drafter: bool = True,
        max_context: int = 4096,
        load_error: str | None = None,
        drafter_error: str | None = None,
        name: str = "fake-SmolLM2-135M",
    ) -> None:
        self.reply, self.alphas, self.winners = reply, alphas, winners
        self.block_size, self.delay, self.gate = block_size, delay, gate
        self.has_drafter, self.has_vp = drafter, vp_drafter
        self.max_context, self.load_error, self.drafter_error, self.name = max_context, load_error, drafter_error, name
        self.info: EngineInfo | None = None
        self.calls: list[tuple[list[dict], object]] = []
        self.loads: list[tuple] = []
        self.yielded = 0
        self.closed = threading.Event()
        self.vocab: list[str] = []

    # -- Engine protocol -----------------------------------------------------------------------
    def load(self, model, drafter, vp_drafter) -> EngineInfo:
        self.loads.append((model, drafter, vp_drafter))
        for label, path in (("model", model), ("drafter", drafter), ("VP drafter", vp_drafter)):
            if path and not path.startswith("fake"):
                problem = check_model_dir(path, bundle=label == "model")
                if problem:
                    raise EngineError(f"Cannot use {label} {path}: {problem}")
        if self.load_error:
            raise EngineError(self.load_error)
        has_d = self.has_drafter if drafter is None else drafter != "off"
        has_vp = self.has_vp if vp_drafter is None else vp_drafter != "off"
        if self.drafter_error:
            spec, reason, has_d, has_vp = "failed", f"the drafter failed to load: {self.drafter_error}", False, False
        elif not has_d:
            spec, reason = "off", "no drafter was given"
        else:
            spec, reason = "on", "" if has_vp else "no VP drafter: DFlash only"
        self.info = EngineInfo(
            name=Path(model).name if model and not model.startswith("fake") else self.name,
            model=model,
            drafter=(Path(drafter).name if drafter else "fake-dflash") if has_d else None,
            vp_drafter=(Path(vp_drafter).name if vp_drafter else "fake-vp") if has_d and has_vp else None,
            max_context=self.max_context,
            block_size=self.block_size if has_d else None,
            spec=spec,
            spec_reason=reason,
        )
        return self.info

    def stream(self, messages, params):
        self.calls.append((messages, params))
        question = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        text = self.reply(messages, params) if callable(self.reply) else self.reply or default_reply(question)
        tokens = words(text)
        if "[utf8]" in question and len(tokens) > 3:
            tokens.insert(3, " caf\udce9")  # an undecodable byte, as surrogateescape leaves it
        mode, _ = resolve_mode(params.mode, self.info)
        prompt_tokens = sum(len(words(m["content"])) + 4 for m in messages)
        return self._cycles(tokens, mode, params, prompt_tokens, slow="[slow]" in question, fail="[error]" in question)

    def pieces(self, response: Response) -> list[str]:
        return [self.vocab[t] for t in response.tokens]

    # -- script --------------------------------------------------------------------------------
    def _cycles(self, tokens, mode, params, prompt_tokens, slow, fail):
        self.yielded = 0
        self.closed.clear()
        stats = Stats(mode=mode, prompt_tokens=prompt_tokens, prompt_s=0.05, ttft_s=0.06, peak_memory_gb=0.42)
        limit = min(len(tokens), params.max_tokens)
        block = params.block_size or self.block_size
        pos, i = 0, 0
        try:
            while pos < limit:
                if self.gate is not None:
                    self.gate.acquire(timeout=10)
                if self.delay:
                    time.sleep(self.delay)
                if fail and pos > 4:
                    raise RuntimeError("the fake engine crashed on purpose")
                if mode == "ar":
                    n, winner = 1, "none"
                else:
                    n = 1 if slow and i % 5 else min(self.alphas[i % len(self.alphas)], block)
                    winner = "none" if n == 1 else _in_mode(self.winners[i % len(self.winners)], mode)
                n = min(n, limit - pos)
                seg = tokens[pos : pos + n]
                ids = [self._id(t) for t in seg]
                sources = _sources(n, winner)
                nodes = 1 if mode == "ar" else block * (1 + params.branches if mode == "d2sd" else 1)
                cycle = CycleStats(
                    accepted=n, winner=winner, nodes=nodes,
                    branches=params.branches if mode == "d2sd" else 0,
                    draft_s=0.0 if mode == "ar" else (0.03 if slow else 0.004),
                    verify_s=0.010 if mode == "ar" else 0.012,
                )
                stats.add_cycle(cycle)
                stats.generation_tokens += n
                stats.generation_s = stats.draft_s + stats.verify_s
                pos += n
                i += 1
                finish = None
                if pos >= limit:
                    finish = "length" if limit < len(tokens) else "stop"
                self.yielded += 1
                yield Response("".join(seg), ids, sources, stats, finish, cycle)
        finally:
            self.closed.set()

    def _id(self, piece: str) -> int:
        self.vocab.append(piece)
        return len(self.vocab) - 1


def _in_mode(winner: str, mode: str) -> str:
    """A scripted winner as `mode` names it: dflash has no branches, dflash2's are DFlash's."""
    if not winner.startswith("vp") or mode == "d2sd":
        return winner
    return "dflash" if mode == "dflash" else "dflash" + winner[2:]


def _sources(n: int, winner: str) -> list[str]:
    if n == 1:
        return [SOURCE_TARGET]
    drafted = n - 1
    if winner.startswith("vp"):  # the i kept draft tokens, and at i = 0 DFlash's alternative, are DFlash's
        i = int(winner[2:].partition("/")[0] or 0)
        shared = min(max(i, 1), drafted)
        return [SOURCE_DFLASH] * shared + [SOURCE_VP] * (drafted - shared) + [SOURCE_TARGET]
    return [SOURCE_DFLASH] * drafted + [SOURCE_TARGET]
