"""The engine's plain dataclasses (importing them does not load MLX: d2sd_mlx imports lazily)."""

from d2sd_mlx.types import SOURCE_DFLASH, SOURCE_TARGET, SOURCE_VP, CycleStats, Response, Stats

__all__ = ["CycleStats", "Response", "Stats", "SOURCE_TARGET", "SOURCE_DFLASH", "SOURCE_VP"]
