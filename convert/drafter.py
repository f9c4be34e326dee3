"""DFlash / VP drafter checkpoints (z-lab layout, SpecForge exports, third-party variants) → a
folder `d2sd_mlx.drafter.load_drafter` loads (config.json in the z-lab layout + model.safetensors).

Tensor names are normalised to the unprefixed z-lab names:
- wrapper prefixes are stripped: `_orig_mod.` (torch.compile), `module.` (DDP), `draft_model.`
  (SpecForge's training wrapper), `model.`, `drafter.`;
- `encoder.fc.` → `fc.` and `encoder.output_norm_enc.` → `hidden_norm.` (Muse-Glimmer-style names);
- `embed_tokens.*` / `lm_head.*` copies are dropped with a note (the drafter uses the target's),
  as are rotary `inv_freq` buffers.
Config: `block_size` / `training_mode` nested in `dflash_config` (SpecForge) are lifted to the top
level where `DrafterConfig.from_dict` reads them.
"""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
from mlx.utils import tree_flatten

from d2sd_mlx.drafter import ROLE_DFLASH, ROLE_VP, DFlashDrafter, DrafterConfig, check_draft_vocab, save_drafter
from d2sd_mlx.errors import D2SDError

from d2sd_mlx import log
from d2sd_mlx.target_folder import CONVERSION_DTYPES, check_against_model, source_dtype

ROOTS = ("fc", "hidden_norm", "norm", "layers", "draft_vocab")
DROPPED_ROOTS = ("embed_tokens", "lm_head")
STRIP_PREFIXES = ("_orig_mod.", "module.", "draft_model.", "model.", "drafter.")
RENAMES = (("encoder.fc.", "fc."), ("encoder.output_norm_enc.", "hidden_norm."))
UNSUPPORTED_ARCHS = ("DFlash2DraftModel", "MuseGlimmerAssistantModel")

KIND_TARGET, KIND_DFLASH, KIND_VP = "target", "dflash", "vp"


def detect_kind(cfg: dict) -> str:
    """target / dflash / vp from config.json (architectures, dflash_config, training_mode)."""
    archs = cfg.get("architectures") or []
    if isinstance(archs, str):
        archs = [archs]
    dflash = cfg.get("dflash_config")
    if "DFlashDraftModel" in archs or dflash is not None:
        mode = cfg.get("training_mode") or (dflash or {}).get("training_mode")
        return KIND_VP if mode == ROLE_VP else KIND_DFLASH
    return KIND_TARGET


def normalise_config(raw: dict, kind: str, source: str) -> dict:
    d = dict(raw)
    dflash = dict(d.get("dflash_config") or {})
    archs = d.get("architectures") or []
    bad = [a for a in (archs if isinstance(archs, list) else [archs]) if a in UNSUPPORTED_ARCHS]
    if bad:
        raise D2SDError(f"{source}: architecture {bad[0]} is not supported (plain DFlashDraftModel drafters only)")
    proj = dflash.get("projector_type", "dflash")
    if proj != "dflash":
        raise D2SDError(f"{source}: dflash_config.projector_type={proj!r} is not supported (only 'dflash')")
    for key in ("block_size", "training_mode", "num_target_layers"):
        if key not in d and key in dflash:
            d[key] = dflash[key]
    types = d.get("layer_types") or []
    if any(t != "full_attention" for t in types):
        raise D2SDError(f"{source}: layer_types {sorted(set(types))}: only full_attention drafter layers are supported")
    if d.get("attention_bias"):
        raise D2SDError(f"{source}: attention_bias=true is not supported by the drafter (no projection biases)")
    if kind == KIND_VP:
        d["training_mode"] = ROLE_VP
    elif kind == KIND_DFLASH and d.get("training_mode") == ROLE_VP:
        d["training_mode"] = ROLE_DFLASH
    d["dflash_config"] = dflash
    return d


def drafter_config(raw: dict, kind: str, source: str) -> DrafterConfig:
    d = normalise_config(raw, kind, source)
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                "intermediate_size", "vocab_size", "block_size"):
        v = d.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v <= 0):
            raise D2SDError(f"{source}: field {key}={v!r} must be a positive integer")
    try:
        cfg = DrafterConfig.from_dict(d, source=source)
    except (TypeError, ValueError) as e:
        if isinstance(e, D2SDError):
            raise
        raise D2SDError(f"{source}: invalid drafter config ({e})") from e
    if cfg.block_size < 2:
        raise D2SDError(f"{source}: block_size={cfg.block_size} must be at least 2")
    if not 0 <= cfg.mask_token_id < cfg.vocab_size:
        raise D2SDError(f"{source}: dflash_config.mask_token_id={cfg.mask_token_id} outside vocab_size={cfg.vocab_size}")
    bad = [t for t in cfg.target_layer_ids if not 0 <= t < cfg.num_target_layers]
    if bad:
        raise D2SDError(
            f"{source}: dflash_config.target_layer_ids {bad} out of range for num_target_layers={cfg.num_target_layers}"
        )
    if cfg.num_attention_heads % cfg.num_key_value_heads:
        raise D2SDError(f"{source}: num_attention_heads={cfg.num_attention_heads} is not a multiple of "
                        f"num_key_value_heads={cfg.num_key_value_heads}")
    return cfg


def map_names(weights: dict, origin: dict, source: str) -> tuple[dict, dict]:
    out, out_origin, dropped = {}, {}, []
    for name, arr in weights.items():
        n = name
        changed = True
        while changed:
            changed = False
            for old, new in RENAMES:
                if n.startswith(old):
                    n, changed = new + n[len(old):], True
            first = n.split(".", 1)[0]
            if first not in ROOTS and first not in DROPPED_ROOTS:
                for p in STRIP_PREFIXES:
                    if n.startswith(p):
                        n, changed = n[len(p):], True
                        break
        if n.endswith("rotary_emb.inv_freq"):
            continue
        if n.split(".", 1)[0] in DROPPED_ROOTS:
            dropped.append(name)
            continue
        if n in out:
            raise D2SDError(f"{source}: tensors {out_origin[n][1]} and {name} both map to {n}")
        out[n], out_origin[n] = arr, (origin.get(name), name)
    if dropped:
        log.note(f"dropped {', '.join(dropped)}: the drafter uses the target's embedding and LM head")
    return out, {k: (f"{f}: {orig}" if f and orig != k else (f or orig)) for k, (f, orig) in out_origin.items()}


def write_drafter(weights: dict, origin: dict, raw_config: dict, out_dir: Path, *, kind: str, source: str,
                  dtype: str | None = None) -> DrafterConfig:
    """Check and save a drafter into out_dir. Returns its config."""
    if dtype is not None and dtype not in CONVERSION_DTYPES:
        raise D2SDError(f"--dtype {dtype!r}: expected one of {', '.join(CONVERSION_DTYPES)}")
    cfg = drafter_config(raw_config, kind, source)
    weights, origin = map_names(weights, origin, source)
    model = DFlashDrafter(cfg)
    check_against_model(model, weights, origin, source, what="drafter config")
    if cfg.draft_vocab_size:
        check_draft_vocab(weights["draft_vocab"], cfg.vocab_size, origin.get("draft_vocab", source))
    for name, arr in weights.items():
        if name == "draft_vocab":
            continue
        if not mx.issubdtype(arr.dtype, mx.floating):
            raise D2SDError(f"{origin.get(name, source)}: tensor {name} has dtype {arr.dtype}; expected floating point")
    model.load_weights(list(weights.items()))
    progress = log.Progress("load", len(weights), unit="tensor")
    for name, arr in tree_flatten(model.parameters()):
        try:
            mx.eval(arr)
        except Exception as e:
            raise D2SDError(f"{origin.get(name, source)}: cannot read tensor {name} ({e})") from e
        progress.step(name)
    dtype = dtype or source_dtype(raw_config)
    for key in ("torch_dtype", "dtype"):
        if key in cfg.extra and dtype is not None:
            cfg.extra[key] = dtype
    log.info(f"Saving {'VP drafter' if cfg.role == ROLE_VP else 'DFlash drafter'} to {out_dir}"
             + (f" ({dtype})" if dtype else ""))
    save_drafter(model, out_dir, getattr(mx, dtype) if dtype else None)
    return cfg
