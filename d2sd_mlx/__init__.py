"""d2sd-mlx: lossless D²SD speculative decoding for MLX.

The public names are imported lazily, so `import d2sd_mlx.types` (plain dataclasses) does not
pull in MLX and mlx-lm.
"""

from importlib import import_module

from . import blas

blas.ensure()  # on Linux, before anything imports mlx.core (see blas.py)

_EXPORTS = {
    "load": ".loading", "Bundle": ".loading",
    "generate": ".api", "stream_generate": ".api", "encode_prompt": ".api",
    "Response": ".types", "Stats": ".types",
    "D2SDError": ".errors",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
