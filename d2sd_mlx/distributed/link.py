"""The wire between ranks: rank 0's command frames, hidden-state hand-offs, and the watchdog.

Everything goes through `mx.distributed` (no transport of our own). A command frame is an int32
vector that rank 0 broadcasts with one `all_sum` (the other ranks add zeros, so the sum is exact);
a payload longer than the frame follows in a second `all_sum`. Every blocking wait runs under the
watchdog: a rank that dies closes its sockets and the ring backend fails the wait at once (turned
into a `DistributedError` here); a rank that hangs (or a network that drops silently) is caught by
the watchdog, which ends this process with a clear message after `timeout` seconds.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time

import mlx.core as mx
import numpy as np

from ..errors import D2SDError

FRAME = 1024  # int32 words per command frame (header + the first part of the payload)
HEADER = 16
MAGIC = 0x44325344  # "D2SD"
DEFAULT_TIMEOUT_S = 120.0  # D2SD_DIST_TIMEOUT overrides


class DistributedError(D2SDError):
    """A distributed run cannot go on: a rank died or hung, or the ranks disagree. The message says which."""


class LeaderError(DistributedError):
    """Rank 0 stopped the generation with an error (already reported there); raised on the other ranks."""


def timeout_s() -> float:
    raw = os.environ.get("D2SD_DIST_TIMEOUT")
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        raise D2SDError(f"D2SD_DIST_TIMEOUT must be a number of seconds, got {raw!r}") from None
    if not value > 0:
        raise D2SDError(f"D2SD_DIST_TIMEOUT must be positive, got {raw!r}")
    return value


def checksum(words: np.ndarray) -> int:
    """A position-weighted sum of int32 words, mod 2^31 - 1 (catches lost, reordered or torn frames)."""
    w = words.astype(np.int64) % 2147483647
    return int((w * (np.arange(w.size, dtype=np.int64) % 65521 + 1)).sum() % 2147483647)


class Link:
    """One rank's end: the group, its neighbours in the ring, timings and the watchdog."""

    def __init__(self, group, timeout: float | None = None):
        self.group = group
        self.rank, self.size = group.rank(), group.size()
        self.timeout = timeout_s() if timeout is None else timeout
        self.broken = False  # set once a wait failed: nothing more is sent
        self.times: dict = {}
        self.reset_times()
        self._waiting: tuple[str, float, float] | None = None  # (what, since, limit)
        self._watch = threading.Thread(target=self._watchdog, name="d2sd-dist-watchdog", daemon=True)
        self._watch.start()

    def reset_times(self) -> None:
        """sync_s: in command frames (on the followers that includes waiting while rank 0 drafts);
        compute_s: this rank's own layers (pipeline); wait_s: sending and waiting for hidden states
        (pipeline) or a whole tensor-parallel pass, all-sums included."""
        self.times.update(sync_s=0.0, compute_s=0.0, wait_s=0.0, passes=0)

    def gather_times(self, what: str) -> list[dict]:
        """Every rank's (sync_s, compute_s, wait_s), collected with one all-sum (all ranks call it)."""
        keys = ("sync_s", "compute_s", "wait_s")
        mine = np.zeros((self.size, len(keys)), dtype=np.float32)
        mine[self.rank] = [self.times[k] for k in keys]
        with self.waiting(what, "sync_s"):
            got = np.array(mx.distributed.all_sum(mx.array(mine), group=self.group, stream=mx.cpu))
        return [{"rank": r, **{k: round(float(v), 4) for k, v in zip(keys, row)}} for r, row in enumerate(got)]

    # -- the watchdog --------------------------------------------------------------------------
    def _watchdog(self) -> None:
        while True:
            time.sleep(min(1.0, self.timeout / 4))
            w = self._waiting
            if w is not None and time.monotonic() - w[1] > w[2]:
                print(f"error: rank {self.rank}: no answer from the other ranks for {w[2]:.0f} s while "
                      f"{w[0]} (a rank died or hangs, or the network is down); exiting "
                      f"(D2SD_DIST_TIMEOUT sets the limit)", file=sys.stderr, flush=True)
                os._exit(3)

    @contextlib.contextmanager
    def waiting(self, what: str, timer: str = "wait_s", patience: float = 1.0):
        """Run a blocking distributed step under the watchdog (for `patience` × the timeout); a lost
        peer becomes a DistributedError."""
        if self.broken:
            raise DistributedError(f"rank {self.rank}: the link to the other ranks is already broken")
        t = time.perf_counter()
        self._waiting = (what, time.monotonic(), self.timeout * patience)
        try:
            yield
        except RuntimeError as e:
            self.broken = True
            raise DistributedError(f"rank {self.rank}: lost the connection to another rank while {what} "
                                   f"(did a rank die?): {e}") from e
        finally:
            self._waiting = None
            self.times[timer] += time.perf_counter() - t

    # -- rank 0's commands ----------------------------------------------------------------------
    def broadcast(self, header: list[int] | None, payload: np.ndarray | None, what: str,
                  patience: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Rank 0 passes (header, payload); every rank gets them back (int32 numpy arrays)."""
        frame = np.zeros(FRAME, dtype=np.int32)
        if self.rank == 0:
            payload = np.zeros(0, dtype=np.int32) if payload is None else payload.astype(np.int32)
            head = list(header) + [0] * (HEADER - len(header))
            head[0], head[9], head[10] = MAGIC, payload.size, checksum(payload)
            frame[:HEADER] = head
            first = payload[: FRAME - HEADER]
            frame[HEADER : HEADER + first.size] = first
        with self.waiting(what, "sync_s", patience):
            got = mx.distributed.all_sum(mx.array(frame), group=self.group, stream=mx.cpu)
            got = np.array(got)
            head = got[:HEADER]
            if head[0] != MAGIC:
                raise DistributedError(f"rank {self.rank}: a command frame from rank 0 is garbled (bad magic "
                                       f"{int(head[0]):#x}); the ranks are out of step")
            n = int(head[9])
            rest = n - (FRAME - HEADER)
            if rest > 0:
                more = np.zeros(rest, dtype=np.int32)
                if self.rank == 0:
                    more = payload[FRAME - HEADER :]
                more = np.array(mx.distributed.all_sum(mx.array(more), group=self.group, stream=mx.cpu))
                body = np.concatenate([got[HEADER:], more])
            else:
                body = got[HEADER : HEADER + n]
        if checksum(body) != int(head[10]):
            raise DistributedError(f"rank {self.rank}: the payload of a command from rank 0 does not match its "
                                   "checksum; the ranks are out of step")
        return head, body

    # -- hidden states along the ring -------------------------------------------------------------
    def send(self, x: mx.array, dst: int, what: str) -> None:
        with self.waiting(what):
            mx.eval(mx.distributed.send(x, dst, group=self.group))

    def recv(self, shape, dtype, src: int, what: str) -> mx.array:
        with self.waiting(what):
            x = mx.distributed.recv(shape, dtype, src, group=self.group)
            mx.eval(x)
        return x

    def barrier(self, failed: bool, what: str) -> int:
        """All ranks: how many of them report `failed`."""
        with self.waiting(what, "sync_s"):
            n = mx.distributed.all_sum(mx.array([int(failed)], dtype=mx.int32), group=self.group, stream=mx.cpu)
            return int(n.item())
