"""Bundles: a target and the drafters that fit it, tied together by `bundle.json`.

    python -m convert.bundle --target T --drafter D [--vp-drafter V] --out B [--force]

writes B/bundle.json:
    {"target": "<path relative to B>", "drafter": "...", "vp_drafter": "..." | null,
     "compat": {"hidden_size": ..., "vocab_size": ..., "embedding_rows": ..., "target_layers": ...,
                "drafter": {...}, "vp_drafter": {...}}}
after checking, with `check_compat` (d2sd_mlx.manifest), that each drafter fits the target (the loader in
`d2sd_mlx.loading` reads the same keys and resolves the paths against B).
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
from pathlib import Path

from d2sd_mlx.atomic import write_json
from d2sd_mlx.config_io import read_json
from d2sd_mlx.drafter import ROLE_VP, DrafterConfig
from d2sd_mlx.errors import D2SDError
from d2sd_mlx.manifest import BUNDLE_FILE, BUNDLE_VERSION, check_compat, target_fields  # noqa: F401 (re-exported)


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


def target_config_of(folder: str | Path) -> dict:
    """config.json of an MLX target folder, with `embedding_rows` from the weights when found."""
    folder = Path(folder)
    f = folder / "config.json"
    if not f.is_file():
        raise D2SDError(f"{folder}: not a model folder (no config.json)")
    cfg = read_json(f, "model config")
    emb = _safetensors_shapes(folder).get("model.embed_tokens.weight")
    if emb:
        cfg["embedding_rows"] = emb[0]
    return cfg


def drafter_config_of(folder: str | Path) -> DrafterConfig:
    folder = Path(folder)
    f = folder / "config.json"
    if not f.is_file():
        raise D2SDError(f"{folder}: not a drafter folder (no config.json)")
    raw = read_json(f, "drafter config")
    return DrafterConfig.from_dict(raw, source=str(f))


def make_manifest(target: str | Path, drafter: str | Path | None, vp_drafter: str | Path | None,
                  out: str | Path) -> dict:
    """The bundle.json content (paths relative to `out`), after checking compatibility."""
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
        compat[key] = {k: rec[k] for k in ("target_layer_ids", "num_target_layers", "mask_token_id", "block_size", "role", "draft_vocab_size")}
    return {
        "version": BUNDLE_VERSION,
        "target": _rel(target, out),
        "drafter": _rel(drafter, out) if drafter else None,
        "vp_drafter": _rel(vp_drafter, out) if vp_drafter else None,
        "compat": compat,
    }


def _rel(p: str | Path, out: Path) -> str:
    return os.path.relpath(Path(p).resolve(), out.resolve())


def write_bundle(target, drafter, vp_drafter, out, force: bool = False) -> Path:
    out = Path(out)
    f = out / BUNDLE_FILE
    if f.exists() and not force:
        raise D2SDError(f"{f}: already exists (pass --force to overwrite it)")
    write_json(f, make_manifest(target, drafter, vp_drafter, out))
    return f


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m convert.bundle", description="Tie a target to its drafters (bundle.json).")
    p.add_argument("--target", required=True, help="MLX target folder (mlx-lm layout)")
    p.add_argument("--drafter", help="DFlash drafter folder")
    p.add_argument("--vp-drafter", help="VP drafter folder")
    p.add_argument("--out", required=True, help="bundle folder (bundle.json is written there)")
    p.add_argument("--force", action="store_true", help="overwrite an existing bundle.json")
    a = p.parse_args(argv)
    if not a.drafter and not a.vp_drafter:
        p.error("give --drafter and/or --vp-drafter")
    try:
        f = write_bundle(a.target, a.drafter, a.vp_drafter, a.out, a.force)
    except D2SDError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
