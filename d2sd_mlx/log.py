"""Progress and notes on stderr (stdout stays free for results)."""

from __future__ import annotations

import sys

from tqdm import tqdm

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
    """One stage's progress on stderr, a tqdm bar (`stage: i/n … name`); silent when quiet."""

    def __init__(self, stage: str, total: int, unit: str = "file"):
        self.stage, self.total, self.i = stage, max(total, 0), 0
        self.bar = tqdm(total=self.total, desc=stage, unit=unit, file=sys.stderr, disable=_quiet, leave=True)

    def step(self, name: str = "") -> None:
        self.i += 1
        self.bar.set_postfix_str(name[-60:], refresh=False)
        self.bar.update(1)
        if self.i >= self.total:
            self.bar.close()
