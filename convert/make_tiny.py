"""Write tiny random checkpoints in *source* layouts (what `convert.from_hf` reads), torch-free.

    python -m convert.make_tiny OUT [--kind llama|qwen3] [--format safetensors|sharded|bin]
                                    [--drafter-layout zlab|specforge] [--seed 0]

writes
- OUT/hf-target:  a Hugging Face-layout causal LM (config.json with torch_dtype, `model.*` /
  `lm_head` tensor names, tokenizer.json + tokenizer_config.json with a chat template);
- OUT/hf-dflash:  a DFlash drafter in the z-lab layout (config.json with `block_size`,
  `num_target_layers`, `dflash_config.{mask_token_id,target_layer_ids}`, unprefixed tensors), or
  a SpecForge-style export (`draft_model.` prefixes, an `embed_tokens` copy, `block_size` inside
  dflash_config) with --drafter-layout specforge;
- OUT/hf-vp:      the same for a VP drafter (`training_mode: "vp_drafter"`).
`--format bin` writes PyTorch pickles (needs torch).
Configs and the tokenizer are `d2sd_mlx.tiny`'s; the weights are drawn here in numpy, with norm
weights away from 1 so that a converter that drops or misplaces one is caught.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from d2sd_mlx import tiny


def target_config(kind: str = "llama", vocab: int = 320, hidden: int = 64, layers: int = 4, heads: int = 4,
                  kv_heads: int = 2, tie: bool | None = None) -> dict:
    """`d2sd_mlx.tiny.target_config` as a Hugging Face config.json (architectures, torch_dtype, token ids)."""
    cfg = {
        "architectures": ["LlamaForCausalLM" if kind == "llama" else "Qwen3ForCausalLM"],
        **tiny.target_config(kind, vocab=vocab, hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads, tie=bool(tie)),
        "rms_norm_eps": 1e-6,
        "max_position_embeddings": 2048,
        "attention_bias": False,
        "torch_dtype": "float32",
        "bos_token_id": 1,
        "eos_token_id": 2,
    }
    if kind == "llama":
        cfg["mlp_bias"] = False
    return cfg


def drafter_config(tcfg: dict, layers: int = 1, block_size: int = 8, vp: bool = False, mask_token_id: int | None = None,
                   taps: list | None = None, layout: str = "zlab") -> dict:
    n_t = tcfg["num_hidden_layers"]
    taps = taps if taps is not None else sorted({1, max(1, n_t - 2)})
    mask = tcfg["vocab_size"] - 1 if mask_token_id is None else mask_token_id
    cfg = {
        "architectures": ["DFlashDraftModel"],
        "model_type": "qwen3",
        "hidden_size": tcfg["hidden_size"],
        "num_hidden_layers": layers,
        "intermediate_size": 2 * tcfg["hidden_size"],
        "num_attention_heads": tcfg["num_attention_heads"],
        "num_key_value_heads": tcfg["num_key_value_heads"],
        "head_dim": tcfg["hidden_size"] // tcfg["num_attention_heads"],
        "rms_norm_eps": 1e-6,
        "rope_theta": tcfg["rope_theta"],
        "max_position_embeddings": tcfg["max_position_embeddings"],
        "vocab_size": tcfg["vocab_size"],
        "layer_types": ["full_attention"] * layers,
        "torch_dtype": "float32",
        "num_target_layers": n_t,
        "block_size": block_size,
        "dflash_config": {"mask_token_id": mask, "target_layer_ids": list(taps)},
    }
    if vp:
        cfg["training_mode"] = "vp_drafter"
    if layout == "specforge":
        cfg["dflash_config"]["block_size"] = cfg.pop("block_size")
        if vp:
            cfg["dflash_config"]["training_mode"] = cfg.pop("training_mode")
    return cfg


def _linear(rng, out_dim, in_dim):
    b = 1.0 / np.sqrt(in_dim)
    return rng.uniform(-b, b, size=(out_dim, in_dim)).astype(np.float32)


def _norm(rng, n):
    return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)


def _layer(rng, prefix: str, c: dict, qk_norm: bool) -> dict:
    h, hd, i = c["hidden_size"], c["head_dim"], c["intermediate_size"]
    w = {
        f"{prefix}.self_attn.q_proj.weight": _linear(rng, c["num_attention_heads"] * hd, h),
        f"{prefix}.self_attn.k_proj.weight": _linear(rng, c["num_key_value_heads"] * hd, h),
        f"{prefix}.self_attn.v_proj.weight": _linear(rng, c["num_key_value_heads"] * hd, h),
        f"{prefix}.self_attn.o_proj.weight": _linear(rng, h, c["num_attention_heads"] * hd),
        f"{prefix}.mlp.gate_proj.weight": _linear(rng, i, h),
        f"{prefix}.mlp.up_proj.weight": _linear(rng, i, h),
        f"{prefix}.mlp.down_proj.weight": _linear(rng, h, i),
        f"{prefix}.input_layernorm.weight": _norm(rng, h),
        f"{prefix}.post_attention_layernorm.weight": _norm(rng, h),
    }
    if qk_norm:
        w[f"{prefix}.self_attn.q_norm.weight"] = _norm(rng, hd)
        w[f"{prefix}.self_attn.k_norm.weight"] = _norm(rng, hd)
    return w


def target_weights(cfg: dict, seed: int = 0, embed_scale: float = 4.0) -> dict:
    rng = np.random.default_rng(seed)
    h = cfg["hidden_size"]
    w = {"model.embed_tokens.weight": (embed_scale / np.sqrt(h) * rng.standard_normal((cfg["vocab_size"], h))).astype(np.float32)}
    for i in range(cfg["num_hidden_layers"]):
        w.update(_layer(rng, f"model.layers.{i}", cfg, qk_norm=cfg["model_type"] == "qwen3"))
    w["model.norm.weight"] = _norm(rng, h)
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = (embed_scale * _linear(rng, cfg["vocab_size"], h))
    return w


def drafter_weights(cfg: dict, seed: int = 1, layout: str = "zlab", embed_rows: int | None = None) -> dict:
    rng = np.random.default_rng(seed)
    h = cfg["hidden_size"]
    n_taps = len(cfg["dflash_config"]["target_layer_ids"])
    w = {"fc.weight": _linear(rng, h, n_taps * h), "hidden_norm.weight": _norm(rng, h), "norm.weight": _norm(rng, h)}
    for i in range(cfg["num_hidden_layers"]):
        w.update(_layer(rng, f"layers.{i}", cfg, qk_norm=True))
    if layout == "specforge":
        w = {f"draft_model.{k}": v for k, v in w.items()}
        w["draft_model.embed_tokens.weight"] = rng.standard_normal((embed_rows or cfg["vocab_size"], h)).astype(np.float32)
    return w


def save_weights(weights: dict, folder: Path, fmt: str = "safetensors", shards: int = 2) -> None:
    """safetensors | sharded (safetensors + model.safetensors.index.json) | bin (pytorch_model.bin)."""
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "safetensors":
        from safetensors.numpy import save_file

        save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    elif fmt == "sharded":
        from safetensors.numpy import save_file

        names = sorted(weights)
        wm = {}
        for s in range(shards):
            part = names[s::shards]
            fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            save_file({n: weights[n] for n in part}, str(folder / fname), metadata={"format": "pt"})
            wm.update({n: fname for n in part})
        total = sum(v.nbytes for v in weights.values())
        (folder / "model.safetensors.index.json").write_text(
            json.dumps({"metadata": {"total_size": total}, "weight_map": wm}, indent=2))
    elif fmt == "bin":
        import torch

        torch.save({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in weights.items()}, str(folder / "pytorch_model.bin"))
    else:
        raise ValueError(f"unknown format {fmt!r}")


def write_tiny(out: Path, kind: str = "llama", fmt: str = "safetensors", drafter_layout: str = "zlab",
               seed: int = 0, block_size: int = 8, vocab: int = 320) -> dict:
    out = Path(out)
    tok = tiny.tiny_tokenizer(vocab, chat=True)
    tcfg = target_config(kind, vocab=vocab)
    tdir = out / "hf-target"
    save_weights(target_weights(tcfg, seed), tdir, fmt)
    (tdir / "config.json").write_text(json.dumps(tcfg, indent=2) + "\n")
    tok.save_pretrained(str(tdir))
    mask = tok.convert_tokens_to_ids("<|mask|>")
    paths = {"target": tdir}
    for name, vp, s in (("hf-dflash", False, seed + 1), ("hf-vp", True, seed + 2)):
        dcfg = drafter_config(tcfg, block_size=block_size, vp=vp, mask_token_id=mask, layout=drafter_layout)
        d = out / name
        save_weights(drafter_weights(dcfg, s, drafter_layout), d, fmt)
        (d / "config.json").write_text(json.dumps(dcfg, indent=2) + "\n")
        paths["vp" if vp else "dflash"] = d
    return paths


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m convert.make_tiny", description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--kind", choices=("llama", "qwen3"), default="llama")
    p.add_argument("--format", choices=("safetensors", "sharded", "bin"), default="safetensors")
    p.add_argument("--drafter-layout", choices=("zlab", "specforge"), default="zlab")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--block-size", type=int, default=8)
    a = p.parse_args(argv)
    paths = write_tiny(Path(a.out), a.kind, a.format, a.drafter_layout, a.seed, a.block_size)
    for k, v in paths.items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    main()
