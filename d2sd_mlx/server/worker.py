"""One worker thread that runs jobs one at a time from a bounded queue.

A job is a function of a `cancelled()` callback that yields events; the worker puts each on the
job's own queue for the HTTP thread that waits on it, then `END`. A full queue refuses new jobs
with `QueueFull` (the server answers 503 with its `retry_after`). Cancelling a waiting job frees
its slot at once; cancelling the running one stops it at its next event (one decode cycle).
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import deque
from typing import Callable, Iterator

log = logging.getLogger("d2sd_mlx.server")

END = object()  # the last event of every job


class Failure:
    """An exception raised by a job, passed to its waiting thread."""

    def __init__(self, error: BaseException):
        self.error = error


class QueueFull(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"the queue is full; retry after {retry_after} s")
        self.retry_after = retry_after


class Job:
    def __init__(self, run: Callable[[Callable[[], bool]], Iterator], name: str = "job"):
        self.run = run
        self.name = name
        self.events: queue.Queue = queue.Queue()
        self._cancelled = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()


class Worker:
    def __init__(self, capacity: int = 16):
        if capacity < 1:
            raise ValueError(f"queue capacity must be >= 1, got {capacity}")
        self.capacity = capacity  # jobs that may wait while one runs
        self._pending: deque[Job] = deque()
        self._running: Job | None = None
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._mean_s = 1.0  # moving average of job durations, for Retry-After
        self.completed = 0

    # -- the HTTP threads' side --------------------------------------------------------------
    def submit(self, job: Job) -> None:
        with self._cond:
            if self._stopping:
                raise QueueFull(self.retry_after())
            if len(self._pending) >= self.capacity:
                raise QueueFull(self.retry_after())
            self._pending.append(job)
            self._cond.notify()

    def call(self, fn: Callable[[], object]):
        """Run `fn` on the worker thread (after the jobs queued before it); return its result."""
        def once(cancelled):
            yield fn()

        job = Job(once, name=getattr(fn, "__name__", "call"))
        self.submit(job)
        result = None
        while (event := job.events.get()) is not END:
            if isinstance(event, Failure):
                raise event.error
            result = event
        return result

    def cancel(self, job: Job) -> None:
        """Stop `job`: dropped from the queue if it waits, stopped at its next event if it runs."""
        with self._cond:
            job._cancelled.set()
            try:
                self._pending.remove(job)
            except ValueError:
                return  # it runs (or has ended): the loop sees the flag
        job.events.put(END)

    def retry_after(self) -> int:
        """Seconds until a slot is likely free: about one job's typical duration."""
        return max(1, min(60, math.ceil(self._mean_s)))

    def status(self) -> dict:
        with self._cond:
            return {"running": int(self._running is not None), "waiting": len(self._pending),
                    "capacity": self.capacity, "completed": self.completed}

    # -- the worker thread ---------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="d2sd-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stopping = True
            jobs = list(self._pending) + ([self._running] if self._running else [])
            self._cond.notify_all()
        for job in jobs:
            self.cancel(job)
        if self._thread is not None:
            self._thread.join(timeout)

    def _next(self) -> Job | None:
        with self._cond:
            while not self._pending and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return None
            self._running = self._pending.popleft()
            return self._running

    def _loop(self) -> None:
        while (job := self._next()) is not None:
            t0 = time.perf_counter()
            events = None
            try:
                if job.cancelled:  # cancelled between leaving the queue and starting
                    continue
                events = iter(job.run(lambda: job.cancelled))
                for event in events:
                    job.events.put(event)
                    if job.cancelled:
                        log.info("%s: cancelled", job.name)
                        break
            except Exception as e:  # the job's failure goes to its waiting thread; the worker goes on
                log.debug("%s failed", job.name, exc_info=True)
                job.events.put(Failure(e))
            finally:
                close = getattr(events, "close", None)
                if close is not None:
                    try:
                        close()
                    except Exception:  # noqa: BLE001 (a job's cleanup must not stop the worker)
                        log.exception("%s: error while stopping", job.name)
                job.events.put(END)
                with self._cond:
                    self._running = None
                    self.completed += 1
                self._mean_s = 0.8 * self._mean_s + 0.2 * (time.perf_counter() - t0)
