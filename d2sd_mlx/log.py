"""Progress and notes on stderr (stdout stays free for results)."""

from __future__ import annotations

import sys
import time

_quiet = False


def set_quiet(q: bool) -> None:
    global _quiet
    _quiet = q


def info(msg: str) -> None:
    if not _quiet:
        print(f"[INFO] {msg}", file=sys.stderr, flush=True)


def note(msg: str) -> None:
    """Something the user should know (dropped tensors, assumptions); always shown."""
    print(f"[NOTE] {msg}", file=sys.stderr, flush=True)


class Progress:
    """`[stage] i/n name` on stderr: rewritten in place on a terminal, a few lines otherwise."""

    def __init__(self, stage: str, total: int, min_interval: float = 2.0):
        self.stage, self.total, self.i = stage, max(total, 0), 0
        self.tty = sys.stderr.isatty()
        self.min_interval = min_interval
        self.last = 0.0
        self.t0 = time.monotonic()

    def step(self, name: str = "") -> None:
        self.i += 1
        if _quiet:
            return
        now = time.monotonic()
        done = self.i >= self.total
        if self.tty:
            sys.stderr.write(f"\r[{self.stage}] {self.i}/{self.total} {name[:60]:<60}")
            if done:
                sys.stderr.write("\n")
            sys.stderr.flush()
        elif done or self.i == 1 or now - self.last >= self.min_interval:
            print(f"[{self.stage}] {self.i}/{self.total} {name}", file=sys.stderr, flush=True)
            self.last = now
