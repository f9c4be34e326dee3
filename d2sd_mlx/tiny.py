"""Tiny random targets and drafters for tests and demos (no download, a second to build): the
one factory of tiny configs and tokenizers (`convert.make_tiny` writes the same models in the
source layouts the converter reads).

`python -m d2sd_mlx.tiny OUT` writes OUT/target (an mlx-lm folder with a small byte-level BPE
tokenizer), OUT/dflash and OUT/vp (random drafters) and OUT/bundle.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import mlx.core as mx

from .drafter import ROLE_DFLASH, ROLE_VP, DFlashDrafter, DrafterConfig, save_drafter
from .cpu_layout import checkpoint_weights
from .manifest import write_manifest
from .target import Target

_TEXT = (
    "The quick brown fox jumps over the lazy dog. def add(a, b): return a + b. "
    "What is the capital of France? Paris is the capital of France. 1 + 2 = 3, 4 * 5 = 20. "
    "Speculative decoding drafts tokens and the target verifies them in one pass. "
)


CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def target_config(kind: str = "llama", vocab: int = 256, hidden: int = 64, layers: int = 4,
                  heads: int = 4, kv_heads: int = 2, tie: bool | None = None) -> dict:
    cfg = dict(
        model_type=kind, hidden_size=hidden, num_hidden_layers=layers, intermediate_size=2 * hidden,
        num_attention_heads=heads, num_key_value_heads=kv_heads, head_dim=hidden // heads,
        rms_norm_eps=1e-5, vocab_size=vocab, max_position_embeddings=4096, rope_theta=10000.0,
        tie_word_embeddings=(kind == "llama") if tie is None else tie,
    )
    return cfg


def make_target(config: dict, seed: int = 0, scale: float = 1.0, cpu_layout: bool = True) -> Target:
    """A random mlx-lm model of `config` wrapped as a Target (no tokenizer).

    `scale` multiplies the embedding/head weights; larger values make the next-token
    distribution peakier (fewer near-ties in greedy tests). cpu_layout: see `Target`
    (pass False for a target that will be split tensor-parallel).
    """
    from mlx_lm.utils import _get_classes

    model_cls, args_cls = _get_classes(config)
    mx.random.seed(seed)
    model = model_cls(args_cls.from_dict(config))
    if scale != 1.0:
        model.model.embed_tokens.weight = model.model.embed_tokens.weight * scale
        if getattr(model, "lm_head", None) is not None:
            model.lm_head.weight = model.lm_head.weight * scale
    mx.eval(model.parameters())
    return Target(model, None, config, cpu_layout=cpu_layout)


def make_drafter(target_cfg: dict, layers: int = 1, block_size: int = 8, role: str = ROLE_DFLASH,
                 seed: int = 1, taps: list[int] | None = None, mask_token_id: int | None = None) -> DFlashDrafter:
    n_t = target_cfg["num_hidden_layers"]
    cfg = DrafterConfig(
        hidden_size=target_cfg["hidden_size"], num_hidden_layers=layers,
        num_attention_heads=target_cfg["num_attention_heads"], num_key_value_heads=target_cfg["num_key_value_heads"],
        intermediate_size=2 * target_cfg["hidden_size"], vocab_size=target_cfg["vocab_size"], block_size=block_size,
        target_layer_ids=taps if taps is not None else sorted({1, max(1, n_t - 2)}),
        mask_token_id=target_cfg["vocab_size"] - 1 if mask_token_id is None else mask_token_id,
        num_target_layers=n_t, head_dim=target_cfg["hidden_size"] // target_cfg["num_attention_heads"],
        rope_theta=target_cfg.get("rope_theta", 10000.0), max_position_embeddings=target_cfg["max_position_embeddings"],
        role=role,
    )
    mx.random.seed(seed)
    d = DFlashDrafter(cfg)
    mx.eval(d.parameters())
    return d


def tiny_tokenizer(vocab: int, chat: bool = False):
    """A byte-level BPE tokenizer with exactly `vocab` ids: <|endoftext|> = 0 (the end of sequence) and
    <|mask|> = vocab - 1. chat=True: also <|im_start|> = 1 and <|im_end|> = 2 (the end of a turn) and a
    ChatML template, as an instruct model has."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>"] + (["<|im_start|>", "<|im_end|>"] if chat else [])
    trainer = trainers.BpeTrainer(
        vocab_size=vocab - 1, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tok.train_from_iterator([_TEXT] * 4, trainer)
    tok.add_special_tokens(["<|mask|>"])
    if tok.get_vocab_size() != vocab:
        raise RuntimeError(f"tiny tokenizer has {tok.get_vocab_size()} ids, wanted {vocab}")
    if chat:
        return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                       unk_token="<|endoftext|>", pad_token="<|endoftext|>", mask_token="<|mask|>",
                                       chat_template=CHAT_TEMPLATE)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", mask_token="<|mask|>")


def save_target(target: Target, path: Path, tokenizer=None) -> None:
    path.mkdir(parents=True, exist_ok=True)
    weights = checkpoint_weights(target.model)  # mlx-lm's names and layout, whatever the in-memory one
    mx.save_safetensors(str(path / "model.safetensors"), weights, metadata={"format": "mlx"})
    cfg = dict(target.config)
    if tokenizer is not None:
        cfg["eos_token_id"] = tokenizer.eos_token_id
        tokenizer.save_pretrained(str(path))
    (path / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")


def write_tiny_bundle(out: Path, kind: str = "llama", seed: int = 0, block_size: int = 8) -> Path:
    out = Path(out)
    vocab = 320
    tok = tiny_tokenizer(vocab)
    cfg = target_config(kind, vocab=vocab)
    target = make_target(cfg, seed=seed, scale=4.0)
    save_target(target, out / "target", tok)
    mask = tok.convert_tokens_to_ids("<|mask|>")
    save_drafter(make_drafter(cfg, block_size=block_size, seed=seed + 1, mask_token_id=mask), out / "dflash")
    save_drafter(make_drafter(cfg, block_size=block_size, role=ROLE_VP, seed=seed + 2, mask_token_id=mask), out / "vp")
    write_manifest(out, out / "target", out / "dflash", out / "vp", force=True)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m d2sd_mlx.tiny", description=__doc__.splitlines()[0])
    p.add_argument("out", help="output folder")
    p.add_argument("--kind", choices=("llama", "qwen2", "qwen3"), default="llama")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--block-size", type=int, default=8)
    a = p.parse_args(argv)
    out = write_tiny_bundle(Path(a.out), a.kind, a.seed, a.block_size)
    print(f"wrote {out}/target, {out}/dflash, {out}/vp and {out}/bundle.json")


if __name__ == "__main__":
    main()
