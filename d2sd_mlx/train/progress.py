"""A one-line progress bar for long work (stderr, rewritten in place)."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, what: str, done: int = 0, stream=sys.stderr):
        self.total, self.what, self.done = total, what, done
        self.start_done = done
        self.t0 = time.perf_counter()
        self.stream = stream
        self.last = 0.0

    def update(self, n: int = 1, force: bool = False, **fields) -> None:
        self.done += n
        now = time.perf_counter()
        if not force and now - self.last < 0.5 and self.done < self.total:
            return
        self.last = now
        rate = (self.done - self.start_done) / max(now - self.t0, 1e-9)
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        extra = " ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in fields.items())
        width = 24
        fill = int(width * self.done / max(self.total, 1))
        line = f"\r{self.what} [{'#' * fill}{'.' * (width - fill)}] {self.done}/{self.total} {extra} eta {_fmt(eta)}"
        self.stream.write(line[:200].ljust(80))
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def _fmt(s: float) -> str:
    if s == float("inf"):
        return "?"
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"
