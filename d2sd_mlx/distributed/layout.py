"""How the target's weights are split over the ranks, checked from the config before any weight is read.

pipeline: rank r holds the contiguous layers [start, end) (an even split, the low ranks taking the
          extra layers); rank 0 also keeps the embedding, the final norm and the head (the drafters
          on rank 0 use them), the other ranks drop everything but their layers before the weights
          are materialized, so memory per rank scales with its share.
tensor:   every layer's attention heads and MLP are split with mlx-lm's `shard()` (one all-sum
          after o_proj and one after down_proj per layer); embedding and head stay replicated.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import D2SDError

PIPELINE, TENSOR = "pipeline", "tensor"


@dataclass(frozen=True)
class Layout:
    kind: str  # PIPELINE or TENSOR
    rank: int
    size: int
    start: int = 0  # this rank's layers (pipeline); all layers in tensor parallel
    end: int = 0

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.size}"


def pipeline_bounds(layers: int, size: int) -> list[tuple[int, int]]:
    base, extra = divmod(layers, size)
    bounds, start = [], 0
    for r in range(size):
        n = base + (1 if r < extra else 0)
        bounds.append((start, start + n))
        start += n
    return bounds


def plan(config: dict, rank: int, size: int, pipeline: bool) -> Layout:
    """The layout of this rank, or a D2SDError naming why the target cannot be split this way."""
    layers = int(config.get("num_hidden_layers") or 0)
    if pipeline:
        if size > layers:
            raise D2SDError(f"--pipeline over {size} ranks needs at least {size} target layers; this target has "
                            f"{layers} (use at most {layers} ranks)")
        start, end = pipeline_bounds(layers, size)[rank]
        return Layout(PIPELINE, rank, size, start, end)
    heads = int(config.get("num_attention_heads") or 0)
    kv = int(config.get("num_key_value_heads") or heads)
    mlp = int(config.get("intermediate_size") or 0)
    bad = [f"{what} {n}" for what, n in (("attention heads", heads), ("key/value heads", kv),
                                         ("MLP width", mlp)) if n % size]
    if bad:
        ok = [d for d in range(2, max(heads, 2) + 1) if heads % d == 0 and kv % d == 0 and mlp % d == 0]
        raise D2SDError(f"tensor parallel over {size} ranks splits the heads and the MLP evenly, but this target's "
                        f"{', '.join(bad)} {'is' if len(bad) == 1 else 'are'} not divisible by {size}; use "
                        f"{' or '.join(map(str, ok)) if ok else 'a single rank'} ranks, or --pipeline")
    q = config.get("quantization") or {}
    group_size = int(q.get("group_size") or 0)
    if group_size:
        head_dim = int(config.get("head_dim") or config["hidden_size"] // heads)
        for what, width in (("attention output", heads * head_dim), ("MLP", mlp)):
            if (width // size) % group_size:
                raise D2SDError(f"tensor parallel over {size} ranks cuts the quantized {what} projection "
                                f"({width} inputs) into slices of {width // size}, not a multiple of its "
                                f"quantization group size {group_size}; use fewer ranks or --pipeline")
    return Layout(TENSOR, rank, size, 0, layers)
