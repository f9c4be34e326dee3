"""Weights stored transposed for MLX's CPU backend: the same numbers, a faster matmul.

`nn.Linear` computes `x @ W.T` with W [out, in]. On the CPU, MLX hands that product to BLAS sgemm
with a transposed B, which OpenBLAS re-packs on every call: one decode step reads each weight
matrix about three times. Stored once as Wt [in, out], `x @ Wt` is a plain GEMM. Measured on the
embedded default (SmolLM2-135M, fp32, OpenBLAS, 2-core x86): one target step 94 → 67 ms, a forward
over 8 / 32 tokens 161 → 124 / 431 → 307 ms; the logits and tap features are bitwise identical.

Applied to float32 models on the CPU device only (Apple GPUs and quantized weights keep their own
fast paths). The tied embedding becomes `EmbeddingT`, one [H, V] table that serves both the lookup
(a column gather) and the output head, so no memory is added. A module in this layout is for
inference: its parameters are named `weight_t` (not trained); `checkpoint_weights` gives the usual
names and layout back for saving.
"""

from __future__ import annotations

import os

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from .errors import D2SDError

ENV = "D2SD_CPU_LAYOUT"  # "off" keeps MLX's own layout (for before/after measurements)


class LinearT(nn.Module):
    """y = x @ weight_t (+ bias), weight_t = W.T of the `nn.Linear` it replaces."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.weight_t = mx.contiguous(linear.weight.T)
        if "bias" in linear:
            self.bias = linear.bias

    def __call__(self, x: mx.array) -> mx.array:
        y = x @ self.weight_t
        return y + self.bias if "bias" in self else y

    @property
    def weight(self) -> mx.array:
        """W [out, in], as `nn.Linear` has it (a transposed view, for readers of shape and dtype)."""
        return self.weight_t.T

    def rows(self, ids: mx.array) -> mx.array:
        """Rows `ids` of the original W [len(ids), in]."""
        return self.weight_t[:, ids].T


class EmbeddingT(nn.Module):
    """A (tied) embedding kept as its transpose [H, V]: lookup gathers columns, `as_linear` is x @ table."""

    def __init__(self, embedding: nn.Embedding):
        super().__init__()
        self.weight_t = mx.contiguous(embedding.weight.T)

    def __call__(self, ids: mx.array) -> mx.array:
        return mx.moveaxis(mx.take(self.weight_t, ids, axis=1), 0, -1)

    @property
    def weight(self) -> mx.array:
        """The table [V, H], as `nn.Embedding` has it (a transposed view)."""
        return self.weight_t.T

    def as_linear(self, x: mx.array) -> mx.array:
        return x @ self.weight_t

    def rows(self, ids: mx.array) -> mx.array:
        return self.weight_t[:, ids].T


def wanted(dtype) -> bool:
    """Whether the transposed layout pays here: float32 weights on the CPU device, unless D2SD_CPU_LAYOUT=off."""
    mode = os.environ.get(ENV, "auto")
    if mode not in ("auto", "off"):
        raise D2SDError(f"{ENV}: expected 'auto' or 'off', got {mode!r}")
    return mode == "auto" and dtype == mx.float32 and mx.default_device() == mx.cpu


def transpose_linears(module: nn.Module) -> int:
    """Replace every plain float32 `nn.Linear` under `module` by a `LinearT`, in place; returns how many."""

    def swap(parent, key, child) -> int:
        if type(child) is nn.Linear:
            if child.weight.dtype != mx.float32:
                return 0
            parent[key] = LinearT(child)  # modules are dicts: item assignment sets the attribute
            return 1
        if isinstance(child, nn.Module):
            return transpose_linears(child)
        if isinstance(child, (list, dict)):
            return sum(swap(child, k, c) for k, c in (enumerate(child) if isinstance(child, list) else list(child.items())))
        return 0

    return sum(swap(module, name, child) for name, child in module.children().items())


def checkpoint_weights(module: nn.Module) -> dict[str, mx.array]:
    """The flat weights in the usual checkpoint form: every `x.weight_t` back to `x.weight` = its transpose."""
    out = {}
    for k, v in tree_flatten(module.parameters()):
        if k.endswith(".weight_t"):
            out[k[: -len("_t")]] = mx.contiguous(v.T)
        else:
            out[k] = v
    return out
