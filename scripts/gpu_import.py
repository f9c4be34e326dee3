"""Turn `scripts/gpu_distill.py` outputs into d2sd-mlx drafter folders.

    python scripts/gpu_import.py --src GPU_OUT --out runs/gpu   # writes runs/gpu/dflash and runs/gpu/vp

Each folder gets config.json (z-lab layout, with draft_vocab_size) and model.safetensors (the
weights of all parts, the int32 `draft_vocab` tensor among them); it is then loaded back with
`d2sd_mlx.drafter.load_drafter` to check it.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import mlx.core as mx

from d2sd_mlx.drafter import load_drafter


def import_drafter(src: Path, name: str, out: Path) -> Path:
    parts = sorted(src.glob(f"{name}-*.safetensors"))
    if not parts:
        raise SystemExit(f"{src}: no {name}-*.safetensors")
    weights = {}
    for p in parts:
        weights.update(mx.load(str(p)))
    cfg = json.loads((src / "report.json").read_text())["configs"][name]
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    mx.save_safetensors(str(tmp / "model.safetensors"), weights, metadata={"format": "mlx"})
    (tmp / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    load_drafter(tmp)  # fails loudly on any mismatch
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", required=True, help="gpu_distill.py output folder")
    ap.add_argument("--out", required=True, help="folder to hold dflash/ and vp/")
    args = ap.parse_args(argv)
    src, out = Path(args.src), Path(args.out)
    if not (src / "report.json").is_file():
        raise SystemExit(f"{src}: no report.json (not a gpu_distill.py output folder, or it stopped before training)")
    out.mkdir(parents=True, exist_ok=True)
    for name in ("dflash", "vp"):
        if name in json.loads((src / "report.json").read_text()).get("configs", {}):
            print(f"{name}: {import_drafter(src, name, out / name)}")


if __name__ == "__main__":
    main()
