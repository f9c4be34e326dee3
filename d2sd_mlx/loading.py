"""Load a target (mlx-lm folder or the embedded default) and its drafters, checking they fit."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import mlx.core as mx
from mlx_lm.utils import load as mlx_load

from . import cpu_layout as layout
from . import distributed
from .config_io import read_json
from .drafter import DFlashDrafter, load_drafter
from .errors import D2SDError
from .manifest import check_compat, read_manifest
from .target import SUPPORTED, Target

BUNDLES = Path(__file__).parent / "bundles"
DEFAULT_BUNDLE = BUNDLES / "smollm2-135m-instruct"


@dataclass
class Bundle:
    """A target and the drafters that fit it."""

    target: Target
    drafter: DFlashDrafter | None = None
    vp_drafter: DFlashDrafter | None = None
    name: str = ""
    drafter_path: str | None = None
    vp_drafter_path: str | None = None
    # what the budget learns about this bundle in this process, per (mode, block size): see budget.py
    budget_states: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def tokenizer(self):
        return self.target.tokenizer

    @property
    def max_context(self) -> int:
        return self.target.max_context

    @property
    def default_mode(self) -> str:
        if self.drafter is not None and self.vp_drafter is not None:
            return "d2sd"
        return "dflash" if self.drafter is not None else "ar"


def check_fit(target: Target, drafter: DFlashDrafter, what: str) -> None:
    """Raise D2SDError naming the first way `drafter` does not fit the loaded `target`."""
    cfg = dict(target.config, hidden_size=target.hidden_size, num_hidden_layers=target.num_layers,
               vocab_size=target.config.get("vocab_size", target.vocab_rows), embedding_rows=target.vocab_rows)
    check_compat(cfg, drafter.config, what)


def load_target(path: str | Path, group=None, pipeline: bool = False) -> Target:
    """The target at `path`; with a distributed `group`, only this rank's share of it (distributed/)."""
    path = Path(path)
    if not path.exists():
        raise D2SDError(f"{path}: no such model folder (convert Hugging Face checkpoints with `python -m convert.from_hf`)")
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise D2SDError(f"{path}: not a model folder (no config.json)")
    config = read_json(cfg_file, "model config")
    mt = config.get("model_type")
    if mt not in SUPPORTED:
        raise D2SDError(f"{cfg_file}: model_type {mt!r} is not supported (supported: {', '.join(SUPPORTED)})")
    plan = distributed.plan_for(config, group, pipeline) if group is not None else None  # before any weight
    try:
        model, tokenizer = mlx_load(str(path), lazy=plan is not None)
    except Exception as e:
        raise D2SDError(f"{path}: cannot load the target model ({e})") from e
    target = Target(model, tokenizer, config, cpu_layout=plan is None)  # a split target: after the cut
    return distributed.split(target, group, pipeline, plan) if plan is not None else target


def _drafter(path, target: Target, what: str) -> DFlashDrafter:
    d = load_drafter(path)
    check_fit(target, d, f"{what} {path}")
    dtype = target.inner.norm.weight.dtype
    if dtype in (mx.float32, mx.float16, mx.bfloat16):
        d.set_dtype(dtype)
    if layout.wanted(dtype):  # inference only: the CPU layout (same numbers, faster matmuls)
        layout.transpose_linears(d)
        mx.eval(d.parameters())
    return d


def load(model: str | Path | None = None, drafter: str | Path | None = None,
         vp_drafter: str | Path | None = None, *, pipeline: bool = False, group=None) -> Bundle:
    """Load a target and its drafters.

    `model` may be an mlx-lm folder or a bundle folder (bundle.json naming target and drafters);
    with no model the embedded default (SmolLM2-135M-Instruct + our trained drafters) is used.
    Under `mlx.launch` (or with a `group` of several ranks) the target is split over the ranks:
    layer slices with pipeline=True, tensor parallel otherwise (see d2sd_mlx/distributed).
    """
    group = distributed.world(group)
    manifest = None
    if model is None:
        manifest = read_manifest(DEFAULT_BUNDLE) or {"target": "default"}
        name = "SmolLM2-135M-Instruct (default)"
    elif (Path(model) / "bundle.json").is_file():
        manifest = read_manifest(Path(model))
        name = Path(model).name
    if manifest is None:
        target_path, name = model, Path(model).name
    elif manifest.get("target") in (None, "default"):  # the embedded SmolLM2 target
        from .default_target import ensure_default_target

        target_path = ensure_default_target()
    else:
        target_path = manifest["target"]
    target = load_target(target_path, group, pipeline)
    if manifest is not None:
        drafter = drafter or manifest.get("drafter")
        vp_drafter = vp_drafter or manifest.get("vp_drafter")
    d = _drafter(drafter, target, "drafter") if drafter else None
    v = _drafter(vp_drafter, target, "VP drafter") if vp_drafter else None
    if d is not None and v is not None and d.config.target_layer_ids != v.config.target_layer_ids:
        raise D2SDError(
            f"VP drafter {vp_drafter}: target_layer_ids {v.config.target_layer_ids} differ from the "
            f"DFlash drafter's {d.config.target_layer_ids} (both read the same target features)"
        )
    return Bundle(target, d, v, name, str(drafter) if drafter else None, str(vp_drafter) if vp_drafter else None)

