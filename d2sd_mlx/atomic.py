"""Write files and folders atomically: build them as a temporary sibling, rename into place at the end.

A failure, Ctrl-C or SIGTERM (see `install_sigterm_handler`) while the body runs removes the
temporary file or folder, so the output path either holds its old content or a complete new one.

- `atomic_file(path)`: a temporary sibling path to write (by any means), renamed onto `path`;
  `write_bytes` / `write_text` / `write_json` on top of it;
- `atomic_dir(out, force)`: a temporary sibling folder, renamed onto `out`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

from d2sd_mlx.errors import D2SDError

TMP_MARK = ".tmp-"
OLD_MARK = ".old-"

_active: set[Path] = set()  # temporary folders being written now (removed by `remove_active`)


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        try:
            p.unlink()
        except FileNotFoundError:
            pass


@contextmanager
def atomic_file(path: str | Path):
    """Yield a temporary path next to `path` (same suffix, hidden name); on success it replaces `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}{TMP_MARK}{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | Path, text: str) -> None:
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, obj, indent: int | None = 2) -> None:
    """`obj` as JSON with a final newline."""
    write_text(path, json.dumps(obj, indent=indent) + "\n")


def check_free(out: str | Path, force: bool, inputs: tuple = ()) -> Path:
    """Refuse an existing output unless force (mlx_lm.convert refuses too), and never replace the
    current folder, one of its parents, or a folder that holds one of `inputs`."""
    out = Path(out)
    check_not_around(out, inputs)
    if (out.exists() or out.is_symlink()) and not force:
        raise D2SDError(f"{out}: already exists (pass --force to overwrite it)")
    return out


def check_not_around(out: str | Path, inputs: tuple = ()) -> None:
    """D2SDError when `out` is the current folder or a parent of it, or holds (or is) an input."""
    resolved = Path(out).expanduser().resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        raise D2SDError(f"{out}: the output would replace the current folder"
                        f"{'' if resolved == cwd else ' (it is one of its parents)'}; pass a new folder, "
                        "e.g. --mlx-path my-model")
    for src in inputs:
        s = Path(src).expanduser().resolve()
        if resolved == s or resolved in s.parents:
            raise D2SDError(f"{out}: the output would replace the input {src}"
                            f"{'' if resolved == s else ' (it is a parent folder of it)'}; pass a new folder")


@contextmanager
def atomic_dir(out: str | Path, force: bool = False):
    """Yield a fresh temporary folder next to `out`; on success it becomes `out`.

    With force an existing `out` is replaced (moved aside first, deleted after the rename).
    """
    out = check_free(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}{TMP_MARK}", dir=out.parent))
    _active.add(tmp)
    try:
        yield tmp
        if out.exists() or out.is_symlink():
            if not force:
                raise D2SDError(f"{out}: appeared while converting; not overwritten (pass --force)")
            old = out.parent / f".{out.name}{OLD_MARK}{uuid.uuid4().hex[:8]}"
            os.rename(out, old)
            try:
                os.rename(tmp, out)
            except BaseException:
                os.rename(old, out)
                raise
            _remove(old)
        else:
            os.rename(tmp, out)
    except BaseException:
        _remove(tmp)
        raise
    finally:
        _active.discard(tmp)


def remove_active() -> list[Path]:
    """Remove the temporary folders of conversions still running in this process (for a hard exit,
    e.g. quitting the app while a thread converts the default model). Returns what was removed."""
    removed = []
    for tmp in list(_active):
        _remove(tmp)
        _active.discard(tmp)
        removed.append(tmp)
    return removed


def sweep_stale(out: str | Path) -> list[Path]:
    """Remove leftover `.OUT.tmp-*` / `.OUT.old-*` siblings of `out` from a process that died mid-write.

    Call it only while holding the lock that serialises writers of `out` (then no live writer owns them).
    """
    out = Path(out)
    removed = []
    if not out.parent.is_dir():
        return removed
    for mark in (TMP_MARK, OLD_MARK):
        for p in out.parent.glob(f".{out.name}{mark}*"):
            if p not in _active:
                _remove(p)
                removed.append(p)
    return removed


def install_sigterm_handler() -> None:
    """Turn SIGTERM into KeyboardInterrupt so `atomic_dir` cleans up (CLI entry points only)."""

    def _raise(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        signal.signal(signal.SIGTERM, _raise)
    except ValueError:  # not the main thread
        pass
