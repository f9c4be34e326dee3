"""d2sd-mlx: lossless D²SD speculative decoding for MLX.

The public names are imported lazily, so `import d2sd_mlx.types` (plain dataclasses) does not
pull in MLX and mlx-lm.
"""

import sys
import types
from importlib import import_module

from . import blas

blas.ensure()  # on Linux, before anything imports mlx.core (see blas.py)

_EXPORTS = {
    "load": ".loading", "Bundle": ".loading",
    "generate": ".api", "stream_generate": ".api", "encode_prompt": ".api",
    "Response": ".types", "Stats": ".types",
    "D2SDError": ".errors",
    "PromptCache": ".prompt_cache",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Package(types.ModuleType):
    """Importing the CLI module `d2sd_mlx.generate` sets the package attribute `generate` to that
    module, which would shadow the API function `generate` (mlx_lm has the same layout and keeps
    the function). The function wins; the module stays importable by its full name."""

    def __setattr__(self, name, value):
        if name == "generate" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
