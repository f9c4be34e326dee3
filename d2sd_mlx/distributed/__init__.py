"""D²SD with the target split over the ranks of an `mx.distributed` group (started by `mlx.launch`).

Layouts (layout.py): `pipeline` (each rank a contiguous slice of layers; hidden states passed on
with send/recv) or tensor parallel (mlx-lm's `shard()`; the default when the world has more than
one rank). The drafters are loaded on every rank (they are small, and loading checks them against
the target everywhere, so a mismatch stops every rank before any compute) but run on rank 0 only.

How the ranks agree on the tree and the path: rank 0 decides, the others follow. Rank 0 runs the
whole decode loop (drafters, budget, sampling, the walk) and every target pass it makes is preceded
by one broadcast frame carrying the tokens, the tree (its parents), the taps and the paths it
committed since the previous frame (link.py, target.py). The other ranks never decide anything, so
they cannot build a different tree or commit a different path. The alternative, every rank
drafting on its own and comparing a checksum each cycle, was rejected: the auto budget picks each
tree from wall-clock timings measured on the rank that runs it, so independently drafting ranks
would disagree by design; pipeline ranks do not hold the tap layers, so every rank would need every
tap feature (an extra all-gather per pass); and the drafters' compute would be repeated on every
rank for nothing. The frame costs one small all-sum per target pass (a few hundred bytes; the
commit rides along with the next frame, so there is no extra round trip per cycle). What can still
go wrong is caught, never ignored: each frame has a sequence number and a checksum, and carries
rank 0's cache offset, which every rank checks against its own before the pass (a rank whose
committed length differs raises a DistributedError naming both lengths).

Output: only rank 0 yields responses; on the other ranks `stream_generate` serves rank 0's passes
and yields nothing (`generate` returns ""). A rank that dies ends the others with a
DistributedError at their next wait (the ring backend reports the lost peer); one that hangs is
caught by the watchdog after D2SD_DIST_TIMEOUT seconds (default 120; ten times that for the
first command of a generation, while rank 0 may still be loading).
"""

from __future__ import annotations

import mlx.core as mx

from .. import cpu_layout
from ..errors import D2SDError
from .layout import PIPELINE, TENSOR, Layout, pipeline_bounds, plan
from .link import DistributedError, LeaderError, Link
from .target import ShardedTarget

__all__ = ["world", "plan_for", "split", "is_leader", "ShardedTarget", "Layout", "DistributedError",
           "LeaderError", "PIPELINE", "TENSOR", "pipeline_bounds"]


def world(group=None):
    """The distributed group this process runs in, or None when it is alone (no `mlx.launch`)."""
    if group is None:
        if not mx.distributed.is_available():
            return None
        group = mx.distributed.init()
    return group if group.size() > 1 else None


def plan_for(config: dict, group, pipeline: bool) -> Layout:
    """This rank's layout, checked from the config alone (before any weight is read)."""
    return plan(config, group.rank(), group.size(), pipeline)


def split(target, group, pipeline: bool, layout: Layout | None = None, timeout: float | None = None) -> ShardedTarget:
    """Cut `target` (whose weights may still be lazy) down to this rank's share and materialize it."""
    layout = layout or plan_for(target.config, group, pipeline)
    model, inner = target.model, target.inner
    if layout.kind == PIPELINE:
        inner.layers = inner.layers[layout.start : layout.end]
        if layout.rank != 0:  # only rank 0 embeds and applies the head
            del inner.embed_tokens
            if getattr(model, "lm_head", None) is not None:
                del model.lm_head
    else:
        if any(isinstance(m, cpu_layout.LinearT) for _, m in model.named_modules()):
            raise D2SDError("tensor parallel: the target is already in the CPU layout (transposed weights); "
                            "wrap it with Target(..., cpu_layout=False) before splitting")
        if not hasattr(model, "shard"):
            raise D2SDError(f"{type(model).__module__} has no tensor-parallel shard(); use --pipeline")
        model.shard(group)
    if cpu_layout.wanted(target.dtype):  # this rank's share only (sharded projections keep their own layout)
        target.use_cpu_layout()
    mx.eval(model.parameters())
    return ShardedTarget(target, layout, Link(group, timeout))


def is_leader(target) -> bool:
    """True unless `target` is split and this is not rank 0 (which alone prints)."""
    return getattr(target, "is_leader", True)
