"""The engine thread: one long-lived thread owns the engine and runs load/generate jobs in order.

It is a daemon thread (not a Textual worker, whose executor thread would hold the process open
until a model load of many seconds finished): quitting is immediate, a running generation is
told to stop first.

Streamed responses are queued here and announced with a single `ChunksReady` message until
the app takes them, so a fast engine is coalesced into batches, never dropped or reordered.
The app thread only calls `submit_*`, `stop` and `take`; the engine is touched only here.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections import deque
from dataclasses import dataclass, replace

from textual.message import Message

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


def _release_thread_streams() -> None:
    """MLX asks threads that used it to call `mx.clear_streams()` before they end (else its native
    teardown at interpreter exit can abort: "terminate called without an active exception")."""
    mx = sys.modules.get("mlx.core")
    clear = getattr(mx, "clear_streams", None)
    if clear is None:
        return
    try:
        mx.synchronize()
        clear()
    except Exception:
        pass


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
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve, name="d2sd-engine", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the running generation (within a cycle) and let the thread end."""
        self._closing.set()
        for cancel in list(self._cancels.values()):
            cancel.set()

    def join(self, timeout: float) -> bool:
        """Wait for the thread to end; False if it is still busy (e.g. inside a model load)."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

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
        """Thread body: run jobs until `close()`, then release this thread's MLX streams."""
        try:
            while not self._closing.is_set():
                try:
                    job = self._jobs.get(timeout=0.1)
                except queue.Empty:
                    continue
                if job.kind == "load":
                    self._load(*job.args)
                else:
                    self._generate(job)
                    self._cancels.pop(job.gen_id, None)
        finally:
            _release_thread_streams()

    def _load(self, model, drafter, vp_drafter) -> None:
        try:
            info = self.engine.load(model, drafter, vp_drafter)
        except EngineError as exc:
            self._post(EngineLoadFailed(str(exc)))
        except Exception as exc:  # a bug or an unexpected file: report it, keep running
            self._post(EngineLoadFailed(f"{type(exc).__name__}: {exc}"))
        else:
            self._post(EngineLoaded(info))

    def _generate(self, job: _Job) -> None:
        messages, params = job.args
        reason, error = "stopped", ""
        stream = None
        try:
            if job.cancel.is_set():
                return
            stream = iter(self.engine.stream(messages, params))
            for response in stream:
                if job.cancel.is_set() or self._closing.is_set():
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
            self._post(GenerationDone(job.gen_id, reason, error))

    def _post(self, message: Message) -> None:
        try:
            self.target.post_message(message)
        except RuntimeError:  # the app's event loop is gone: nobody to tell
            pass

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
        self._post(ChunksReady())
