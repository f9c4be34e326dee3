"""Where d2sd-mlx keeps its caches: $D2SD_HOME, else $XDG_CACHE_HOME/d2sd-mlx, else ~/.cache/d2sd-mlx."""

from __future__ import annotations

import os
from pathlib import Path


def cache_home(sub: str) -> Path:
    """The cache folder `sub` (e.g. "models", "calibration"); nothing is created."""
    home = os.environ.get("D2SD_HOME")
    if home:
        return Path(home) / sub
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "d2sd-mlx" / sub
