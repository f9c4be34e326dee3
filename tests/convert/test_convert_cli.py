"""End to end: make_tiny sources → `python -m convert.from_hf` → mlx_lm / load_drafter / bundles / decoding."""

import json
import shutil
from pathlib import Path

import mlx.core as mx
import pytest
from conv_helpers import copy_tree, max_diff

from convert.from_hf import convert, main
from convert.make_tiny import write_tiny


def test_from_hf_cli_target_and_drafters(tiny_src, tmp_path, capsys):
    from mlx_lm import load

    from d2sd_mlx.drafter import ROLE_DFLASH, ROLE_VP, load_drafter

    assert main(["--hf-path", str(tiny_src["target"]), "--mlx-path", str(tmp_path / "t")]) == 0
    cap = capsys.readouterr()
    assert "(target)" in cap.out
    # progress on stderr (tqdm bars): the read stage finished its one file, the load stage ran
    assert "read: 100%" in cap.err and "1/1" in cap.err and "model.safetensors" in cap.err
    assert "load: 100%" in cap.err
    model, tok = load(str(tmp_path / "t"))
    assert tok.encode("Paris") and model(mx.array([[1, 2, 3]])).shape == (1, 3, 320)
    assert (tmp_path / "t" / "model.safetensors.index.json").is_file()

    assert main(["--hf-path", str(tiny_src["dflash"]), "--mlx-path", str(tmp_path / "d"), "--quiet"]) == 0
    assert main(["--hf-path", str(tiny_src["vp"]), "--mlx-path", str(tmp_path / "v"), "--quiet"]) == 0
    assert "(dflash)" in capsys.readouterr().out
    d, v = load_drafter(tmp_path / "d"), load_drafter(tmp_path / "v")
    assert d.config.role == ROLE_DFLASH and v.config.role == ROLE_VP
    assert d.config.block_size == 8 and d.config.mask_token_id == 319 and d.config.target_layer_ids == [1, 2]

    # --kind overrides detection
    assert main(["--hf-path", str(tiny_src["dflash"]), "--mlx-path", str(tmp_path / "d-as-vp"), "--kind", "vp", "--quiet"]) == 0
    assert load_drafter(tmp_path / "d-as-vp").config.role == ROLE_VP


def test_drafter_weights_survive_conversion(tiny_src, tmp_path):
    from safetensors.numpy import load_file

    out, _ = convert(str(tiny_src["dflash"]), tmp_path / "d")
    src = load_file(str(tiny_src["dflash"] / "model.safetensors"))
    got = load_file(str(out / "model.safetensors"))
    assert set(src) == set(got)
    assert all(max_diff(src[k], got[k]) == 0 for k in src)


def test_specforge_and_third_party_drafter_names(tmp_path):
    from safetensors.numpy import load_file, save_file

    from d2sd_mlx.drafter import ROLE_VP, load_drafter

    paths = write_tiny(tmp_path / "sf", drafter_layout="specforge", vocab=320)
    cfg = json.loads((paths["vp"] / "config.json").read_text())
    assert "block_size" not in cfg and cfg["dflash_config"]["training_mode"] == "vp_drafter"
    out, kind = convert(str(paths["vp"]), tmp_path / "vp")
    assert kind == "vp" and load_drafter(out).config.role == ROLE_VP

    # Muse-Glimmer-style names: encoder.fc / encoder.output_norm_enc (+ a torch.compile prefix)
    w = load_file(str(paths["dflash"] / "model.safetensors"))
    renamed = {}
    for k, a in w.items():
        k = k.replace("draft_model.fc.", "encoder.fc.").replace("draft_model.hidden_norm.", "encoder.output_norm_enc.")
        renamed["_orig_mod." + k] = a
    save_file(renamed, str(paths["dflash"] / "model.safetensors"))
    out, kind = convert(str(paths["dflash"]), tmp_path / "d")
    ref = load_file(str(out / "model.safetensors"))
    assert max_diff(ref["fc.weight"], w["draft_model.fc.weight"]) == 0
    assert max_diff(ref["hidden_norm.weight"], w["draft_model.hidden_norm.weight"]) == 0
    assert "embed_tokens.weight" not in ref


def test_single_weight_file_and_sharded_source(tmp_path):
    from d2sd_mlx.drafter import load_drafter

    paths = write_tiny(tmp_path / "src", fmt="sharded")
    assert (paths["target"] / "model.safetensors.index.json").is_file()
    out, _ = convert(str(paths["target"]), tmp_path / "t")
    assert (out / "config.json").is_file()

    single = write_tiny(tmp_path / "src2")["dflash"] / "model.safetensors"
    out, kind = convert(str(single), tmp_path / "d")
    assert kind == "dflash" and load_drafter(out)


def test_quantize_and_dtype_flags(tiny_src, tmp_path):
    from mlx_lm import load

    ref_model, _ = load(str(convert(str(tiny_src["target"]), tmp_path / "f32")[0]))
    assert main(["--hf-path", str(tiny_src["target"]), "--mlx-path", str(tmp_path / "q"), "-q", "--q-bits", "8",
                 "--q-group-size", "32", "--quiet"]) == 0
    cfg = json.loads((tmp_path / "q" / "config.json").read_text())
    assert cfg["quantization"]["bits"] == 8 and cfg["quantization"]["group_size"] == 32
    q_model, _ = load(str(tmp_path / "q"))
    ids = mx.array([[5, 17, 40, 2, 99]])
    assert max_diff(q_model(ids), ref_model(ids)) < 0.1

    assert main(["--hf-path", str(tiny_src["target"]), "--mlx-path", str(tmp_path / "bf"), "--dtype", "bfloat16", "--quiet"]) == 0
    bf, _ = load(str(tmp_path / "bf"))
    assert bf.model.norm.weight.dtype == mx.bfloat16
    assert json.loads((tmp_path / "bf" / "config.json").read_text())["torch_dtype"] == "bfloat16"


def test_target_without_tokenizer_loads_with_load_model(tiny_src, tmp_path, capsys):
    from mlx_lm.utils import load_model

    src = copy_tree(tiny_src["target"], tmp_path / "src")
    for f in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        (src / f).unlink(missing_ok=True)
    out, _ = convert(str(src), tmp_path / "out")
    assert "no tokenizer files" in capsys.readouterr().err
    model, _ = load_model(Path(out))
    assert model(mx.array([[1, 2]])).shape == (1, 2, 320)


def test_repo_id_from_local_hub_cache(tiny_src, tmp_path, monkeypatch):
    """A repo id resolves through huggingface_hub's cache offline (HF_HUB_OFFLINE=1)."""
    import huggingface_hub.constants as C

    cache = tmp_path / "hub"
    snap = cache / "models--d2sd-test--tiny-drafter" / "snapshots" / ("a" * 40)
    shutil.copytree(tiny_src["dflash"], snap)
    (cache / "models--d2sd-test--tiny-drafter" / "refs").mkdir()
    (cache / "models--d2sd-test--tiny-drafter" / "refs" / "main").write_text("a" * 40)
    monkeypatch.setattr(C, "HF_HUB_CACHE", str(cache), raising=False)
    monkeypatch.setattr(C, "HF_HUB_OFFLINE", True, raising=False)
    out, kind = convert("d2sd-test/tiny-drafter", tmp_path / "out")
    assert kind == "dflash" and (out / "model.safetensors").is_file()


def test_bundle_and_decoding(tiny_mlx, tmp_path):
    """bundle.json ties the converted target and drafters; the project's loader accepts it and
    greedy DFlash decoding reproduces plain AR decoding token for token."""
    from convert.bundle import main as bundle_main

    b = tmp_path / "bundle"
    assert bundle_main(["--target", str(tiny_mlx["target"]), "--drafter", str(tiny_mlx["dflash"]),
                        "--vp-drafter", str(tiny_mlx["vp"]), "--out", str(b)]) == 0
    m = json.loads((b / "bundle.json").read_text())
    assert m["compat"]["hidden_size"] == 64 and m["compat"]["drafter"]["mask_token_id"] == 319
    assert (b / m["target"]).resolve() == Path(tiny_mlx["target"]).resolve()
    assert bundle_main(["--target", str(tiny_mlx["target"]), "--drafter", str(tiny_mlx["dflash"]), "--out", str(b)]) == 2

    from d2sd_mlx import api
    from d2sd_mlx.loading import load

    bundle = load(str(b))
    assert bundle.drafter is not None and bundle.vp_drafter is not None
    prompt = bundle.tokenizer.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                                  add_generation_prompt=True)

    def run(mode):
        toks = []
        for r in api.stream_generate(bundle, prompt, mode=mode, max_tokens=24, temp=0.0, stop_on_eos=False):
            toks.extend(r.tokens)
        return toks

    ar = run("ar")
    assert len(ar) >= 24 and len(set(ar)) > 3
    assert run("dflash")[:len(ar)] == ar
    assert run("d2sd")[:len(ar)] == ar
