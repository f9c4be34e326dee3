"""The engine thread: one Textual thread worker owns the engine and runs load/generate jobs.

Streamed responses are queued here and announced with a single `ChunksReady` message until
the app takes them, so a fast engine is coalesced into batches, never dropped or reordered.
The app thread only calls `submit_*`, `stop` and `take`; the engine is touched only here.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from dataclasses import dataclass, replace

from textual.message import Message
from textual.worker import get_current_worker

from .engine import Engine, EngineError, EngineInfo, align_pieces, clean_text
from .params import Params


@dataclass
class Chunk:
    """One decode cycle as the UI needs it (a `Response` plus per-token text)."""

    gen_id: int
    text: str
    pieces: list[str]
    sources: list[str]
    stats: object  # d2sd_mlx.types.Stats, a private copy
    cycle: object | None  # d2sd_mlx.types.CycleStats
    finish_reason: str | None
    broken_utf8: bool


class EngineLoaded(Message):
    def __init__(self, info: EngineInfo) -> None:
        super().__init__()
        self.info = info


class EngineLoadFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class ChunksReady(Message):
    """New chunks are waiting in `EngineRunner.take()`."""


class GenerationDone(Message):
    """The engine finished a generation: reason is stop, length, stopped or error."""

    def __init__(self, gen_id: int, reason: str, error: str = "") -> None:
        super().__init__()
        self.gen_id, self.reason, self.error = gen_id, reason, error


@dataclass
class _Job:
    kind: str  # "load" or "generate"
    args: tuple
    gen_id: int = 0
    cancel: threading.Event | None = None


class EngineRunner:
    def __init__(self, engine: Engine, target) -> None:
        self.engine = engine
        self.target = target  # where messages are posted (the app)
        self._jobs: queue.Queue[_Job] = queue.Queue()
        self._chunks: deque[Chunk] = deque()
        self._lock = threading.Lock()
        self._wake_posted = False
        self._cancels: dict[int, threading.Event] = {}
        self._next_id = 0

    # -- app thread ----------------------------------------------------------------------------
    def submit_load(self, model: str | None, drafter: str | None, vp_drafter: str | None) -> None:
        self._jobs.put(_Job("load", (model, drafter, vp_drafter)))

    def submit_generate(self, messages: list[dict], params: Params) -> int:
        self._next_id += 1
        cancel = threading.Event()
        self._cancels[self._next_id] = cancel
        self._jobs.put(_Job("generate", (messages, params), self._next_id, cancel))
        return self._next_id

    def stop(self, gen_id: int) -> None:
        """Ask generation `gen_id` to halt; it does so when the current cycle returns."""
        cancel = self._cancels.get(gen_id)
        if cancel is not None:
            cancel.set()

    def take(self) -> list[Chunk]:
        with self._lock:
            chunks = list(self._chunks)
            self._chunks.clear()
            self._wake_posted = False
        return chunks

    # -- engine thread -------------------------------------------------------------------------
    def serve(self) -> None:
        """Worker body: run jobs until the worker is cancelled."""
        worker = get_current_worker()
        while not worker.is_cancelled:
            try:
                job = self._jobs.get(timeout=0.1)
            except queue.Empty:
                continue
            if job.kind == "load":
                self._load(*job.args)
            else:
                self._generate(job, worker)
                self._cancels.pop(job.gen_id, None)

    def _load(self, model, drafter, vp_drafter) -> None:
        try:
            info = self.engine.load(model, drafter, vp_drafter)
        except EngineError as exc:
            self.target.post_message(EngineLoadFailed(str(exc)))
        except Exception as exc:  # a bug or an unexpected file: report it, keep running
            self.target.post_message(EngineLoadFailed(f"{type(exc).__name__}: {exc}"))
        else:
            self.target.post_message(EngineLoaded(info))

    def _generate(self, job: _Job, worker) -> None:
        messages, params = job.args
        reason, error = "stopped", ""
        stream = None
        try:
            if job.cancel.is_set():
                return
            stream = iter(self.engine.stream(messages, params))
            for response in stream:
                if job.cancel.is_set() or worker.is_cancelled:
                    break
                self._push(self._chunk(job.gen_id, response))
                if response.finish_reason:
                    reason = response.finish_reason
                    break
            else:
                reason = "stop"
        except EngineError as exc:
            reason, error = "error", str(exc)
        except Exception as exc:
            reason, error = "error", f"{type(exc).__name__}: {exc}"
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
            self.target.post_message(GenerationDone(job.gen_id, reason, error))

    def _chunk(self, gen_id: int, response) -> Chunk:
        text, broken = clean_text(response.text)
        pieces = align_pieces([clean_text(p)[0] for p in self.engine.pieces(response)], text)
        stats = response.stats
        stats = replace(stats, accepted_lengths=list(stats.accepted_lengths), winners=dict(stats.winners))
        return Chunk(gen_id, text, pieces, list(response.sources), stats, response.cycle,
                     response.finish_reason, broken)

    def _push(self, chunk: Chunk) -> None:
        with self._lock:
            self._chunks.append(chunk)
            if self._wake_posted:
                return
            self._wake_posted = True
        self.target.post_message(ChunksReady())
