"""Write an mlx-lm-loadable target folder from a weight dict and an HF-style config.

The model is built with mlx-lm's own classes (so `mlx_lm.load(out)` and
`mlx_lm.utils.load_model(out)` see exactly what was checked here); weights are checked against
it by name and shape before loading, then optionally cast, (de)quantized and saved with mlx-lm's
`save_model` / `save_config` (sharded safetensors + index, `config.json`). Tokenizer files are
written by the caller (copied from an HF folder, or rebuilt from GGUF metadata).
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from pathlib import Path
from typing import Callable

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten, tree_map_with_path, tree_unflatten

from .errors import D2SDError

from . import log

CONVERSION_DTYPES = ("float16", "bfloat16", "float32")


def model_classes(config: dict, source: str):
    """mlx-lm's (Model, ModelArgs) for config["model_type"], or a D2SDError naming the field."""
    from mlx_lm.utils import _get_classes

    if "model_type" not in config:
        raise D2SDError(f"{source}: config has no model_type field")
    try:
        return _get_classes(config)
    except ValueError as e:
        raise D2SDError(
            f"{source}: unknown architecture model_type={config['model_type']!r} "
            f"(architectures={config.get('architectures')}); mlx-lm has no model for it"
        ) from e


def build_model(config: dict, source: str) -> nn.Module:
    model_cls, args_cls = model_classes(config, source)
    params = inspect.signature(args_cls).parameters
    missing = [n for n, p in params.items() if p.default is inspect.Parameter.empty and n not in config]
    if missing:
        raise D2SDError(f"{source}: config is missing field(s) required by {config['model_type']}: {', '.join(missing)}")
    try:
        return model_cls(args_cls.from_dict(config))
    except (TypeError, ValueError, KeyError, ZeroDivisionError) as e:
        raise D2SDError(f"{source}: config cannot build a {config['model_type']} model ({e})") from e


def _quantize_like(model: nn.Module, config: dict, weights: dict) -> None:
    """Give the layers that come with scales a quantized structure (as mlx_lm.utils.load_model)."""
    from mlx_lm.utils import infer_quant_config

    q = config.get("quantization")
    if q is None:
        return

    def predicate(path, module):
        if path in q and isinstance(q[path], dict):
            return q[path]
        if not hasattr(module, "to_quantized") or f"{path}.scales" not in weights:
            return False
        return infer_quant_config(path, module, weights)

    nn.quantize(model, group_size=q["group_size"], bits=q["bits"], mode=q.get("mode", "affine"), class_predicate=predicate)


def check_against_model(model: nn.Module, weights: dict, origin: dict, source: str, what: str = "config.json") -> None:
    expected = dict(tree_flatten(model.parameters()))
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))

    def where(name):
        f = origin.get(name)
        return f" (in {f})" if f else ""

    if missing:
        more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
        raise D2SDError(f"{source}: missing tensor(s) expected by {what}: {', '.join(missing[:8])}{more}")
    if extra:
        more = f" and {len(extra) - 8} more" if len(extra) > 8 else ""
        raise D2SDError(
            f"{source}: tensor(s) the {what} model does not have: "
            f"{', '.join(n + where(n) for n in extra[:8])}{more}"
        )
    for name, arr in expected.items():
        if tuple(weights[name].shape) != tuple(arr.shape):
            raise D2SDError(
                f"{source}: tensor {name}{where(name)} has shape {tuple(weights[name].shape)}, "
                f"{what} implies {tuple(arr.shape)}"
            )


def dequantize_layers(model: nn.Module, dtype=None) -> int:
    """Replace quantized Linear/Embedding layers by float ones, computing in fp32.

    Scales and biases are cast to fp32 before `mx.dequantize` (fp16 scales give weight errors up
    to ~4e-3, mlx-on-linux.md §3.4); the result is cast to `dtype`, or to the scales' dtype.
    """
    layers = []
    for name, m in model.named_modules():
        if isinstance(m, nn.QuantizedLinear):
            cls, kwargs = nn.Linear, {"bias": "bias" in m}
        elif isinstance(m, nn.QuantizedEmbedding):
            cls, kwargs = nn.Embedding, {}
        else:
            continue
        out_dtype = dtype or m.scales.dtype
        biases = m.get("biases")
        w = mx.dequantize(
            m.weight,
            m.scales.astype(mx.float32),
            None if biases is None else biases.astype(mx.float32),
            m.group_size,
            m.bits,
            m.mode,
        ).astype(out_dtype)
        new = cls(*w.shape[::-1], **kwargs)
        new.weight = w
        if kwargs.get("bias"):
            new.bias = m.bias
        layers.append((name, new))
    if layers:
        model.update_modules(tree_unflatten(layers))
    return len(layers)


def cast_floating(model: nn.Module, dtype) -> None:
    pred = getattr(model, "cast_predicate", lambda _: True)

    def f(k, v):
        return v.astype(dtype) if pred(k) and mx.issubdtype(v.dtype, mx.floating) else v

    model.update(tree_map_with_path(f, model.parameters()))


def source_dtype(config: dict) -> str | None:
    d = config.get("torch_dtype") or config.get("dtype") or (config.get("text_config") or {}).get("dtype")
    return d if d in CONVERSION_DTYPES else None


def write_target(
    weights: dict,
    config: dict,
    out_dir: Path,
    *,
    source: str,
    origin: dict | None = None,
    dtype: str | None = None,
    quantize: bool = False,
    q_bits: int | None = None,
    q_group_size: int | None = None,
    q_mode: str = "affine",
    dequantize: bool = False,
    write_tokenizer: Callable[[Path], None] | None = None,
) -> dict:
    """Check, convert and save a target into out_dir. Returns the config written."""
    from mlx_lm.utils import quantize_model, save_config, save_model

    if quantize and dequantize:
        raise D2SDError("choose either --quantize or --dequantize, not both")
    if dtype is not None and dtype not in CONVERSION_DTYPES:
        raise D2SDError(f"--dtype {dtype!r}: expected one of {', '.join(CONVERSION_DTYPES)}")
    config = dict(config)
    origin = origin or {}
    qc = config.get("quantization_config")
    if qc and "quantization" not in config:
        method = qc.get("quant_method", "?") if isinstance(qc, dict) else "?"
        raise D2SDError(
            f"{source}: config.json quantization_config (quant_method={method!r}): pre-quantized Hugging Face "
            f"checkpoints are not supported; convert the unquantized model (and pass -q to quantize)"
        )
    model = build_model(config, source)
    if hasattr(model, "sanitize"):
        weights = model.sanitize(dict(weights))
    _quantize_like(model, config, weights)
    check_against_model(model, weights, origin, source)
    model.load_weights(list(weights.items()))

    progress = log.Progress("load", len(weights), unit="tensor")
    for name, arr in weights.items():
        try:
            mx.eval(arr)
        except Exception as e:  # corrupt data only shows up when it is read
            where = origin.get(name, source)
            raise D2SDError(f"{where}: cannot read tensor {name} ({e})") from e
        progress.step(name)
    del weights

    if dequantize or (quantize and "quantization" in config):
        n = dequantize_layers(model, getattr(mx, dtype) if dtype else None)
        log.info(f"Dequantized {n} layers (fp32 scales)")
        config.pop("quantization", None)
        config.pop("quantization_config", None)

    dtype = dtype or source_dtype(config)
    if dtype is not None:
        log.info(f"Using dtype: {dtype}")
        cast_floating(model, getattr(mx, dtype))
        if "torch_dtype" in config:
            config["torch_dtype"] = dtype
        if "dtype" in config:
            config["dtype"] = dtype

    if quantize:
        log.info("Quantizing")
        with contextlib.redirect_stdout(sys.stderr):  # mlx-lm prints its bits-per-weight line
            model, config = quantize_model(model, config, q_group_size, q_bits, mode=q_mode)

    log.info(f"Saving to {out_dir}")
    save_model(out_dir, model, donate_model=True)
    save_config(config, config_path=out_dir / "config.json")
    if write_tokenizer is not None:
        write_tokenizer(out_dir)
    return config
