"""Stop sequences on streamed text: cut at the first one and never return it.

Text that could be the start of a stop sequence is held back until the next piece shows
whether it is one, so a stop sequence split across two decode cycles is still caught.
"""

from __future__ import annotations


class StopMatcher:
    def __init__(self, stops: tuple[str, ...] | list[str] = ()):
        self.stops = tuple(s for s in stops if s)
        self._held = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """The part of `text` that can be returned now; sets `stopped` at a stop sequence."""
        if self.stopped:
            return ""
        if not self.stops:
            return text
        buf = self._held + text
        hits = [i for i in (buf.find(s) for s in self.stops) if i >= 0]
        if hits:
            self.stopped, self._held = True, ""
            return buf[: min(hits)]
        keep = 0  # the longest tail of buf that begins some stop sequence
        for s in self.stops:
            for n in range(min(len(s) - 1, len(buf)), keep, -1):
                if s.startswith(buf[-n:]):
                    keep = n
                    break
        self._held = buf[len(buf) - keep:] if keep else ""
        return buf[: len(buf) - keep]

    def flush(self) -> str:
        """What is held back, once the generation has ended without a stop sequence."""
        out, self._held = self._held, ""
        return "" if self.stopped else out
