"""Stage the embedded default target and the training prompts for `scripts/gpu_distill.py`.

Writes into OUT:
- target.safetensors: the SmolLM2 GGUF's tensors with Hugging Face names, still in MLX's affine
  quantized form (packed uint32 weight + scales + biases, as `mx.load` reads Q4_1/Q8_0), so the
  file is as small as the GGUF; the torch side dequantizes it exactly as the fp32 default does;
- target_config.json: the default model's config.json;
- prompts.npz: the chat-templated prompt ids of the prompt file (ids, offsets), in file order;
- ref.json: MLX greedy continuations of a few prompts (the torch side reports whether it matches);
- prompts.sha256: the prompt file's hash (provenance).

    python scripts/gpu_stage.py --prompts d2sd_mlx/data/train_prompts.jsonl --out .stage
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import mlx.core as mx
import numpy as np


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", required=True, help="JSONL prompt file (prompt, optional history)")
    ap.add_argument("--out", required=True, help="stage folder to write")
    ap.add_argument("--limit", type=int, default=None, help="only the first N prompts")
    ap.add_argument("--ref", type=int, default=4, help="prompts to decode greedily here as a reference")
    ap.add_argument("--ref-tokens", type=int, default=48, help="tokens per reference continuation")
    args = ap.parse_args(argv)

    from d2sd_mlx.default_target import ensure_default_target, gguf_path
    from d2sd_mlx.errors import D2SDError
    from d2sd_mlx.gguf import gguf_config, load, map_names
    from d2sd_mlx.loading import load_target
    from d2sd_mlx.chat_template import prompt_ids
    from d2sd_mlx.prompts import as_prompt, read_prompts

    try:
        rows = read_prompts(args.prompts)[: args.limit]  # checked (JSON, prompt, history) before any work
    except D2SDError as e:
        raise SystemExit(f"error: {e}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    src = gguf_path()
    weights, meta, _ = load(src)
    cfg = gguf_config(meta, weights, src)
    named = map_names(weights, cfg, src)
    mx.save_safetensors(str(out / "target.safetensors"), named)
    target_dir = ensure_default_target()
    (out / "target_config.json").write_text((Path(target_dir) / "config.json").read_text())

    target = load_target(target_dir)
    tok = target.tokenizer
    ids = [prompt_ids(tok, as_prompt(r)) for r in rows]
    offsets = np.cumsum([0] + [len(x) for x in ids]).astype(np.int64)
    np.savez(out / "prompts.npz", ids=np.concatenate(ids).astype(np.int32), offsets=offsets)
    (out / "prompts.sha256").write_text(hashlib.sha256(Path(args.prompts).read_bytes()).hexdigest() + "\n")

    from mlx_lm.generate import generate_step

    ref = []
    for i in range(min(args.ref, len(ids))):
        toks = []
        for t, _ in generate_step(mx.array(ids[i]), target.model, max_tokens=args.ref_tokens):
            toks.append(int(t))
        ref.append({"index": i, "tokens": toks})
    (out / "ref.json").write_text(json.dumps(ref) + "\n")
    print(f"staged {len(rows)} prompts ({offsets[-1]} prompt tokens) and the target into {out}")


if __name__ == "__main__":
    main()
