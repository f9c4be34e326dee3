"""The bundle manifest, `bundle.json`: a target and the drafters that fit it. One writer, one reader.

    {"version": 1, "target": "<path relative to the bundle folder>" | "default",
     "drafter": "...", "vp_drafter": "..." | null,
     "compat": {"hidden_size": ..., "vocab_size": ..., "embedding_rows": ..., "target_layers": ...,
                "drafter": {...}, "vp_drafter": {...}},
     ...extra fields (e.g. "recipe")}

`write_manifest` checks (with `check_compat`) that each drafter fits the target before writing;
`read_manifest` resolves the paths against the bundle folder (`d2sd_mlx.loading` uses it).
`python -m convert.bundle` and `python -m d2sd_mlx.train bundle` write through it.
"""

from __future__ import annotations

import json
import os
import struct
import sys
from pathlib import Path

from .atomic import write_json
from .config_io import read_json
from .drafter import ROLE_VP, DrafterConfig
from .errors import D2SDError

BUNDLE_FILE = "bundle.json"
BUNDLE_VERSION = 1
DEFAULT_TARGET = "default"  # the embedded SmolLM2 target (d2sd_mlx.default_target)
PATH_KEYS = ("target", "drafter", "vp_drafter")
DRAFTER_FIELDS = ("target_layer_ids", "num_target_layers", "mask_token_id", "block_size", "role", "draft_vocab_size")


def _text_config(target_config: dict) -> dict:
    """Top-level fields, falling back to text_config (multimodal wrappers)."""
    tc = dict(target_config.get("text_config") or {})
    tc.update({k: v for k, v in target_config.items() if k != "text_config"})
    return tc


def target_fields(target_config: dict) -> dict:
    """hidden_size, vocab_size, embedding_rows, target_layers of a target config (D2SDError if absent)."""
    tc = _text_config(target_config)
    missing = [k for k in ("hidden_size", "num_hidden_layers", "vocab_size") if k not in tc]
    if missing:
        raise D2SDError(f"target config.json is missing field(s): {', '.join(missing)}")
    try:
        vocab = int(tc["vocab_size"])
        return {"hidden_size": int(tc["hidden_size"]), "vocab_size": vocab,
                "embedding_rows": int(tc.get("embedding_rows", vocab)), "target_layers": int(tc["num_hidden_layers"])}
    except (TypeError, ValueError) as e:
        raise D2SDError(f"target config.json: hidden_size / num_hidden_layers / vocab_size must be integers ({e})") from e


def check_compat(target_config: dict, drafter_config: DrafterConfig, what: str = "drafter") -> dict:
    """Check that a drafter fits a target; return the compat record, or raise D2SDError naming the mismatch.

    Checked: hidden size (the drafter reads the target's embeddings and features and feeds its LM
    head), vocabulary / embedding rows, tap layers against the target's layer count (and the
    layer count the drafter was trained for), mask token inside the target's embedding.
    """
    t = target_fields(target_config)
    hidden, layers, vocab, rows = t["hidden_size"], t["target_layers"], t["vocab_size"], t["embedding_rows"]
    d = drafter_config
    if d.hidden_size != hidden:
        raise D2SDError(f"{what}: hidden_size {d.hidden_size} does not match the target's hidden_size {hidden}")
    if d.vocab_size != rows:
        raise D2SDError(f"{what}: vocab_size {d.vocab_size} does not match the target's embedding rows {rows}")
    bad = [t for t in d.target_layer_ids if not 0 <= t < layers]
    if bad:
        raise D2SDError(
            f"{what}: dflash_config.target_layer_ids {bad} out of range for a target with {layers} layers"
        )
    derived = d.num_target_layers == max(d.target_layer_ids) + 1  # from_dict's default when absent
    if d.num_target_layers != layers and not derived:
        raise D2SDError(
            f"{what}: num_target_layers {d.num_target_layers} (the target it was trained for) differs from "
            f"this target's num_hidden_layers {layers}"
        )
    if not 0 <= d.mask_token_id < rows:
        raise D2SDError(f"{what}: dflash_config.mask_token_id {d.mask_token_id} is outside the target embedding ({rows} rows)")
    return {
        "hidden_size": hidden,
        "vocab_size": vocab,
        "embedding_rows": rows,
        "target_layers": layers,
        "target_layer_ids": list(d.target_layer_ids),
        "num_target_layers": d.num_target_layers,
        "mask_token_id": d.mask_token_id,
        "block_size": d.block_size,
        "role": d.role,
        "draft_vocab_size": d.draft_vocab_size,
    }


def _safetensors_shapes(folder: Path) -> dict:
    """name -> shape from safetensors headers only (no tensor data read)."""
    shapes = {}
    for f in sorted(folder.glob("*.safetensors")):
        try:
            with open(f, "rb") as fh:
                (n,) = struct.unpack("<Q", fh.read(8))
                header = json.loads(fh.read(n))
        except (OSError, struct.error, ValueError) as e:
            raise D2SDError(f"{f}: cannot read safetensors header ({e})") from e
        shapes.update({k: v.get("shape") for k, v in header.items() if k != "__metadata__"})
    return shapes


def _config_file(folder: Path, kind: str) -> Path:
    f = folder / "config.json"
    if not f.is_file():
        raise D2SDError(f"{folder}: not a {kind} folder (no config.json)")
    return f


def target_config_of(folder: str | Path) -> dict:
    """config.json of an MLX target folder, with `embedding_rows` from the weights when found."""
    folder = Path(folder)
    cfg = read_json(_config_file(folder, "model"), "model config")
    emb = _safetensors_shapes(folder).get("model.embed_tokens.weight")
    if emb:
        cfg["embedding_rows"] = emb[0]
    return cfg


def drafter_config_of(folder: str | Path) -> DrafterConfig:
    f = _config_file(Path(folder), "drafter")
    return DrafterConfig.from_dict(read_json(f, "drafter config"), source=str(f))


def make_manifest(target: str | Path, drafter: str | Path | None, vp_drafter: str | Path | None,
                  out: str | Path, *, default_target: bool = False, extra: dict | None = None) -> dict:
    """The bundle.json content (paths relative to `out`), after checking that the drafters fit.

    default_target: `target` is the embedded default's folder, recorded as "default".
    """
    out = Path(out)
    tcfg = target_config_of(target)
    compat = target_fields(tcfg)
    taps = None
    for key, path, what in (("drafter", drafter, "drafter"), ("vp_drafter", vp_drafter, "VP drafter")):
        if path is None:
            continue
        dcfg = drafter_config_of(path)
        rec = check_compat(tcfg, dcfg, what=f"{what} {path}")
        if taps is not None and rec["target_layer_ids"] != taps:
            raise D2SDError(
                f"VP drafter {path}: target_layer_ids {rec['target_layer_ids']} differ from the DFlash drafter's {taps}"
            )
        taps = rec["target_layer_ids"]
        if key == "drafter" and dcfg.role == ROLE_VP:
            print(f"[NOTE] {path} is a VP drafter (training_mode=vp_drafter) used as the DFlash drafter", file=sys.stderr)
        compat[key] = {k: rec[k] for k in DRAFTER_FIELDS}
    return {
        "version": BUNDLE_VERSION,
        "target": DEFAULT_TARGET if default_target else _rel(target, out),
        "drafter": _rel(drafter, out) if drafter else None,
        "vp_drafter": _rel(vp_drafter, out) if vp_drafter else None,
        "compat": compat,
        **(extra or {}),
    }


def _rel(p: str | Path, out: Path) -> str:
    return os.path.relpath(Path(p).resolve(), out.resolve())


def write_manifest(out: str | Path, target: str | Path, drafter: str | Path | None = None,
                   vp_drafter: str | Path | None = None, *, force: bool = False, default_target: bool = False,
                   extra: dict | None = None) -> Path:
    """Check the drafters against the target and write OUT/bundle.json atomically; its path."""
    f = Path(out) / BUNDLE_FILE
    if f.exists() and not force:
        raise D2SDError(f"{f}: already exists (pass --force to overwrite it)")
    write_json(f, make_manifest(target, drafter, vp_drafter, out, default_target=default_target, extra=extra))
    return f


def read_manifest(folder: str | Path) -> dict:
    """FOLDER/bundle.json with its paths resolved against FOLDER ("default" kept); {} without one."""
    folder = Path(folder)
    f = folder / BUNDLE_FILE
    if not f.is_file():
        return {}
    m = read_json(f, "bundle manifest")
    for key in PATH_KEYS:
        if m.get(key) is not None and not isinstance(m[key], str):
            raise D2SDError(f"{f}: {key!r} must be a folder path (a string), found {type(m[key]).__name__}")
        if m.get(key) and m[key] != DEFAULT_TARGET:
            m[key] = str((folder / m[key]).resolve())
    return m
