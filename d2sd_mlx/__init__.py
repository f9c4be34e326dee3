"""d2sd-mlx: lossless D²SD speculative decoding for MLX."""

from .errors import D2SDError
from .loading import Bundle, load
from .api import generate, stream_generate
from .types import Response, Stats

__all__ = ["load", "generate", "stream_generate", "Bundle", "Response", "Stats", "D2SDError"]
