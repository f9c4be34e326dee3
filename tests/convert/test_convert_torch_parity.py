"""Torch → MLX parity: tiny HF Llama/Qwen3 targets (safetensors, sharded, .bin) and the DFlash drafter."""

import json

import mlx.core as mx
import numpy as np
import pytest
from conv_helpers import max_diff, needs_torch

pytestmark = needs_torch

VOCAB = 320


def _hf_model(kind: str, tie: bool, seed: int = 0):
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen3Config

    common = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-6, max_position_embeddings=256,
                  tie_word_embeddings=tie, initializer_range=0.1, bos_token_id=1, eos_token_id=2)
    cfg = LlamaConfig(**common) if kind == "llama" else Qwen3Config(head_dim=16, **common)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg).float().eval()
    with torch.no_grad():  # non-trivial norm weights, so that a dropped/misnamed norm shows
        for name, p in model.named_parameters():
            if "norm" in name:
                p.add_(0.2 * torch.randn_like(p))
    return model


def _save(model, folder, fmt):
    import torch
    from d2sd_mlx.tiny import tiny_tokenizer

    if fmt == "safetensors":
        model.save_pretrained(str(folder))
    elif fmt == "sharded":
        model.save_pretrained(str(folder), max_shard_size="60KB")
        assert (folder / "model.safetensors.index.json").is_file()
    else:  # PyTorch pickle, as older checkpoints ship it
        folder.mkdir(parents=True)
        model.config.save_pretrained(str(folder))
        torch.save(model.state_dict(), str(folder / "pytorch_model.bin"))
    tiny_tokenizer(VOCAB, chat=True).save_pretrained(str(folder))


@pytest.mark.parametrize(
    "kind,tie,fmt",
    [("llama", True, "safetensors"), ("llama", False, "bin"), ("qwen3", False, "sharded"), ("qwen3", True, "bin")],
)
def test_hf_target_logits_match_torch(tmp_path, kind, tie, fmt):
    import torch
    from mlx_lm import load

    from convert.from_hf import main

    model = _hf_model(kind, tie)
    src = tmp_path / "src"
    _save(model, src, fmt)
    assert main(["--hf-path", str(src), "--mlx-path", str(tmp_path / "out"), "--quiet"]) == 0

    mlx_model, tok = load(str(tmp_path / "out"))
    ids = np.random.default_rng(1).integers(0, VOCAB, size=(2, 17))
    with torch.no_grad():
        ref = model(torch.tensor(ids)).logits.numpy()
    got = np.array(mlx_model(mx.array(ids)).astype(mx.float32))
    assert got.shape == ref.shape
    assert max_diff(got, ref) <= 1e-4, max_diff(got, ref)
    assert np.abs(ref).max() > 0.1  # not a vacuous comparison
    assert tok.encode("hello") == list(tok._tokenizer.encode("hello"))


def _dflash_config(layers=2, taps=(1, 3, 5), hidden=64, mask=7, block=8):
    return {
        "architectures": ["DFlashDraftModel"], "model_type": "qwen3", "hidden_size": hidden,
        "num_hidden_layers": layers, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
        "intermediate_size": 96, "vocab_size": VOCAB, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
        "max_position_embeddings": 512, "block_size": block, "num_target_layers": 8,
        "dflash_config": {"mask_token_id": mask, "target_layer_ids": list(taps)}, "torch_dtype": "float32",
    }


def _ref_drafter(cfg, seed=0):
    import torch

    from dflash_torch_ref import DFlashRef

    torch.manual_seed(seed)
    ref = DFlashRef(cfg).float().eval()
    with torch.no_grad():
        for name, p in ref.named_parameters():
            if "norm" in name:
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            else:
                p.mul_(2.0)
    return ref


def _mlx_hidden(drafter, block, ctx):
    from metal_kernels import pack_mask

    S, N = ctx.shape[1], block.shape[1]
    cache = drafter.make_cache()
    visible = pack_mask(mx.ones((N, N), dtype=mx.bool_))
    out = drafter(mx.array(block), mx.arange(S, S + N, dtype=mx.int32), mx.array(ctx), cache, visible)
    return np.array(out.astype(mx.float32))


@pytest.mark.parametrize("layout", ["zlab", "specforge_bin"])
def test_dflash_drafter_logits_match_torch_reference(tmp_path, layout):
    import torch
    from safetensors.torch import save_file

    from convert.from_hf import main
    from d2sd_mlx.drafter import load_drafter

    cfg = _dflash_config()
    ref = _ref_drafter(cfg)
    src = tmp_path / "src"
    src.mkdir()
    state = {k: v.contiguous() for k, v in ref.state_dict().items()}
    if layout == "zlab":
        save_file(state, str(src / "model.safetensors"))
    else:  # SpecForge-style: draft_model. prefixes, an embed_tokens copy, block_size inside dflash_config
        state = {f"draft_model.{k}": v for k, v in state.items()}
        state["draft_model.embed_tokens.weight"] = torch.randn(VOCAB, 64)
        torch.save(state, str(src / "pytorch_model.bin"))
        torch.save({"epoch": 1}, str(src / "training_state.pt"))
        cfg = dict(cfg, dflash_config=dict(cfg["dflash_config"], block_size=cfg["block_size"]))
        del cfg["block_size"]
    (src / "config.json").write_text(json.dumps(cfg))

    assert main(["--hf-path", str(src), "--mlx-path", str(tmp_path / "out"), "--quiet"]) == 0
    drafter = load_drafter(tmp_path / "out")
    assert drafter.config.block_size == 8 and drafter.config.target_layer_ids == [1, 3, 5]

    rng = np.random.default_rng(3)
    S, N, H = 11, 8, 64
    block = rng.standard_normal((1, N, H)).astype(np.float32)
    ctx = rng.standard_normal((1, S, 3 * H)).astype(np.float32)
    head = rng.standard_normal((VOCAB, H)).astype(np.float32) * 0.5  # the shared (target) LM head
    with torch.no_grad():
        ref_h = ref(torch.tensor(block), torch.tensor(ctx)).numpy()
    got_h = _mlx_hidden(drafter, block, ctx)
    ref_logits, got_logits = ref_h @ head.T, got_h @ head.T
    assert max_diff(got_logits, ref_logits) <= 1e-4, max_diff(got_logits, ref_logits)
    assert np.abs(ref_logits).max() > 1.0
    # the context matters (KV injection is wired): other features, other logits
    other = _mlx_hidden(drafter, block, rng.standard_normal(ctx.shape).astype(np.float32)) @ head.T
    assert max_diff(other, got_logits) > 1e-2
