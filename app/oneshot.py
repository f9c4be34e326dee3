"""One-shot mode: answer one prompt on stdout (stats on stderr with --stats) and exit."""

from __future__ import annotations

import sys
from typing import TextIO

from . import metrics
from .engine import Engine, EngineError, clean_text, resolve_mode
from .params import Params


def run(engine: Engine, prompt: str, params: Params, *, model=None, drafter=None, vp_drafter=None,
        system: str = "", stats: bool = False, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Exit status: 0 answered, 1 the engine failed mid-reply, 2 bad input, 130 interrupted."""
    if not prompt.strip():
        print("error: the prompt is empty", file=err)
        return 2
    try:
        info = engine.load(model, drafter, vp_drafter)
    except EngineError as exc:
        print(f"error: {exc}", file=err)
        return 2
    mode, note = resolve_mode(params.mode, info)
    if note:
        print(f"note: {note}", file=err)
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
    last, rc, broken = None, 0, False
    stream = engine.stream(messages, Params.from_dict({**params.to_dict(), "mode": mode}))
    try:
        for response in stream:
            text, bad = clean_text(response.text)
            broken |= bad
            out.write(text)
            out.flush()
            last = response
    except KeyboardInterrupt:
        print("\n[stopped]", file=err)
        rc = 130
    except BrokenPipeError:  # the reader went away (e.g. `| head`): stop quietly
        _silence(out)
        return 0
    except Exception as exc:  # the engine failed mid-reply: keep what was printed, say why
        print(f"\nerror: {exc}", file=err)
        rc = 1
    finally:
        close = getattr(stream, "close", None)
        if close:
            close()
    out.write("\n")
    out.flush()
    if broken:
        print("note: the reply contained bytes that are not valid UTF-8 (shown as �)", file=err)
    if stats and last is not None:
        print(format_stats(last.stats, info, last.finish_reason), file=err)
    return rc


def _silence(out: TextIO) -> None:
    """Point a closed stdout at /dev/null so the interpreter's final flush does not complain."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def format_stats(stats, info, finish_reason) -> str:
    lines = [metrics.status_line(stats, info), f"mode {stats.mode} · finish {finish_reason or 'stopped'}"]
    if stats.mode != "ar":
        lines += metrics.spec_summary(stats, info, info.block_size if info else None, None)
    return "\n".join(lines)
