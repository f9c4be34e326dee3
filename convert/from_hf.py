"""`python -m convert.from_hf`: convert a checkpoint into an MLX folder (mlx_lm.convert's flags).

    python -m convert.from_hf --hf-path REPO_OR_DIR_OR_FILE --mlx-path OUT [-q] [--q-bits 4]
        [--q-group-size 64] [--dtype float32] [--revision REV] [--kind auto|target|dflash|vp]
        [--target T] [--force]

Inputs: a Hugging Face repo id (downloaded with huggingface_hub; HF_HUB_OFFLINE honoured) or a
local folder with config.json and safetensors (single or sharded) or PyTorch .bin/.pt weights,
a single weight file next to its config.json, or a GGUF file (llama / qwen2 / qwen3).
The kind is read from config.json: `architectures` containing "DFlashDraftModel" or a
`dflash_config` → drafter; `training_mode: "vp_drafter"` → VP drafter; otherwise a target.
Targets become mlx-lm folders (`mlx_lm.load(OUT)`; tokenizer files are copied when present);
drafters become folders `d2sd_mlx.drafter.load_drafter` loads. With `--target T` a drafter is
checked against the MLX target folder T before anything is written.
The output is built in a temporary folder next to OUT and renamed at the end.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from d2sd_mlx.errors import D2SDError

from d2sd_mlx import log
from d2sd_mlx.atomic import atomic_dir, check_free, install_sigterm_handler
from .drafter import KIND_DFLASH, KIND_TARGET, KIND_VP, detect_kind, drafter_config, write_drafter
from .hf import copy_tokenizer, read_config, read_safetensors, read_pickle, read_weights, resolve
from d2sd_mlx.target_folder import CONVERSION_DTYPES, write_target

Q_MODES = ("affine", "mxfp4", "nvfp4", "mxfp8")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def _single_file(f: Path) -> tuple[dict, dict]:
    part = read_safetensors(f) if f.suffix == ".safetensors" else read_pickle(f)
    return part, {k: f.name for k in part}


def convert(
    hf_path: str,
    mlx_path: str | Path = "mlx_model",
    quantize: bool = False,
    q_group_size: int | None = None,
    q_bits: int | None = None,
    q_mode: str = "affine",
    dtype: str | None = None,
    revision: str | None = None,
    dequantize: bool = False,
    kind: str = "auto",
    target: str | Path | None = None,
    force: bool = False,
) -> tuple[Path, str]:
    """Convert `hf_path` into `mlx_path`. Returns (output path, kind written)."""
    out = check_free(mlx_path, force)
    if quantize and dequantize:
        raise D2SDError("choose either --quantize or --dequantize, not both")
    if dtype is not None and dtype not in CONVERSION_DTYPES:
        raise D2SDError(f"--dtype {dtype!r}: expected one of {', '.join(CONVERSION_DTYPES)}")
    src = resolve(hf_path, revision)
    check_free(out, force, inputs=(src,))

    gguf = None
    if src.is_file() and src.suffix == ".gguf":
        gguf = src
    elif src.is_dir() and not (src / "config.json").is_file():
        found = sorted(src.glob("*.gguf"))
        if len(found) == 1:
            gguf = found[0]
        elif len(found) > 1:
            raise D2SDError(f"{src}: several GGUF files ({', '.join(f.name for f in found)}); pass one of them")
    if gguf is not None:
        if kind not in ("auto", KIND_TARGET):
            raise D2SDError(f"{gguf}: GGUF files are converted as targets only (--kind {kind})")
        from d2sd_mlx.gguf import convert_gguf

        with atomic_dir(out, force) as tmp:
            convert_gguf(gguf, tmp, dtype=dtype, dequantize=dequantize, quantize=quantize, q_bits=q_bits,
                         q_group_size=q_group_size, q_mode=q_mode)
        return out, KIND_TARGET

    if src.is_file():
        if src.suffix not in WEIGHT_SUFFIXES:
            raise D2SDError(f"{src}: not a checkpoint (expected a folder, .gguf, .safetensors, .bin or .pt)")
        folder, single = src.parent, src
    else:
        folder, single = src, None
    raw = read_config(folder)
    detected = detect_kind(raw)
    kind = detected if kind == "auto" else kind
    if kind not in (KIND_TARGET, KIND_DFLASH, KIND_VP):
        raise D2SDError(f"--kind {kind!r}: expected auto, target, dflash or vp")
    log.info(f"Converting {hf_path} as {'a target' if kind == KIND_TARGET else ('a VP drafter' if kind == KIND_VP else 'a DFlash drafter')}"
             + ("" if kind == detected else f" (config.json says {detected})"))

    if kind == KIND_TARGET:
        weights, origin = _single_file(single) if single else read_weights(folder)

        def tokenizer(dst: Path):
            copied = copy_tokenizer(folder, dst)
            if not any(n in copied for n in ("tokenizer.json", "tokenizer.model", "vocab.json")):
                log.note(f"{folder}: no tokenizer files; {out} loads with mlx_lm.utils.load_model but not mlx_lm.load")

        with atomic_dir(out, force) as tmp:
            write_target(weights, raw, tmp, source=str(folder), origin=origin, dtype=dtype, quantize=quantize,
                         q_bits=q_bits, q_group_size=q_group_size, q_mode=q_mode, dequantize=dequantize,
                         write_tokenizer=tokenizer)
        return out, KIND_TARGET

    if quantize:
        raise D2SDError("drafters are kept in floating point (load_drafter reads float weights); drop -q/--quantize")
    if target is not None:
        from d2sd_mlx.manifest import check_compat, target_config_of

        check_compat(target_config_of(target), drafter_config(raw, kind, str(folder / "config.json")),
                     what=f"drafter {hf_path}")
    weights, origin = _single_file(single) if single else read_weights(folder)
    with atomic_dir(out, force) as tmp:
        write_drafter(weights, origin, raw, tmp, kind=kind, source=str(folder), dtype=dtype)
    return out, kind


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m convert.from_hf",
        description="Convert a Hugging Face / PyTorch / GGUF checkpoint (target, DFlash or VP drafter) to MLX.",
    )
    p.add_argument("--hf-path", "--model", required=True,
                   help="local folder, weight file or .gguf, or a Hugging Face repo id")
    p.add_argument("--mlx-path", default="mlx_model", help="output folder (default: mlx_model)")
    p.add_argument("-q", "--quantize", action="store_true", help="generate a quantized model (targets only)")
    p.add_argument("--q-group-size", type=int, default=None, help="group size (default per mode: affine 64)")
    p.add_argument("--q-bits", type=int, default=None, help="bits per weight (default per mode: affine 4)")
    p.add_argument("--q-mode", choices=Q_MODES, default="affine", help="quantization mode")
    p.add_argument("--dtype", choices=CONVERSION_DTYPES, default=None,
                   help="type of the floating parameters (default: config.json torch_dtype)")
    p.add_argument("-d", "--dequantize", action="store_true", help="dequantize a quantized (e.g. GGUF) model")
    p.add_argument("--revision", default=None, help="hub revision (branch, tag or commit)")
    p.add_argument("--kind", choices=("auto", KIND_TARGET, KIND_DFLASH, KIND_VP), default="auto",
                   help="what the checkpoint is (default: detected from config.json)")
    p.add_argument("--target", default=None, help="MLX target folder a drafter must fit (checked before writing)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output folder")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    return p


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    log.set_quiet(a.quiet)
    install_sigterm_handler()
    try:
        out, kind = convert(a.hf_path, a.mlx_path, a.quantize, a.q_group_size, a.q_bits, a.q_mode, a.dtype,
                            a.revision, a.dequantize, a.kind, a.target, a.force)
    except D2SDError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing was written", file=sys.stderr)
        return 130
    print(f"{out} ({kind})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
