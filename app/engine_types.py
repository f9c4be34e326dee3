"""`d2sd_mlx.types` without importing MLX.

The package's `__init__` imports mlx and mlx-lm (seconds of start-up); the UI and the fake
engine only need the plain dataclasses, so this loads `d2sd_mlx/types.py` on its own and
registers it under its real name, so a later `import d2sd_mlx` reuses the very same classes.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_NAME = "d2sd_mlx.types"


def _load():
    if _NAME in sys.modules:
        return sys.modules[_NAME]
    spec = importlib.util.find_spec("d2sd_mlx")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("d2sd_mlx is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "types.py"
    spec = importlib.util.spec_from_file_location(_NAME, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module
    spec.loader.exec_module(module)
    return module


_types = _load()
CycleStats = _types.CycleStats
Response = _types.Response
Stats = _types.Stats
SOURCE_TARGET = _types.SOURCE_TARGET
SOURCE_DFLASH = _types.SOURCE_DFLASH
SOURCE_VP = _types.SOURCE_VP
