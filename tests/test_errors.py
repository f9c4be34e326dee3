"""Bad input gets a clear error naming the problem, before any decoding starts."""

import json

import pytest

from d2sd_mlx import Bundle, D2SDError, load, stream_generate
from d2sd_mlx.drafter import ROLE_VP, load_drafter, save_drafter
from d2sd_mlx.loading import check_fit
from d2sd_mlx.tiny import make_drafter, make_target, target_config, write_tiny_bundle

CFG = target_config("llama", vocab=50, layers=3)


@pytest.fixture(scope="module")
def target():
    return make_target(CFG, seed=0)


def first(gen):
    return next(iter(gen))


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(hidden=32), "hidden_size"),
        (dict(vocab=60), "vocab_size"),
        (dict(taps=[1, 7]), "target_layer_ids"),
        (dict(mask=77), "mask_token_id"),
    ],
)
def test_incompatible_drafter(target, change, message):
    cfg = dict(CFG)
    if "hidden" in change:
        cfg.update(hidden_size=change["hidden"], head_dim=change["hidden"] // cfg["num_attention_heads"])
    if "vocab" in change:
        cfg["vocab_size"] = change["vocab"]
    d = make_drafter(cfg, taps=change.get("taps"), mask_token_id=change.get("mask"))
    with pytest.raises(D2SDError, match=message):
        check_fit(target, d, "drafter")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(mode="d2sd"), "VP drafter"),
        (dict(mode="fast"), "unknown mode"),
        (dict(max_tokens=0), "max_tokens"),
        (dict(block_size=1), "block_size"),
        (dict(block_size=1000), r"block_size 1000 is larger than the drafter's trained block size γ = 8"),
        (dict(block_size=9, mode="dflash2"), "trained block size γ = 8"),
        (dict(temp=-1.0), "temperature"),
        (dict(top_p=1.5), "top_p"),
        (dict(branches=-1), "branches"),
    ],
)
def test_bad_options(target, kwargs, message):
    bundle = Bundle(target, make_drafter(CFG))
    with pytest.raises(D2SDError, match=message):
        first(stream_generate(bundle, [1, 2, 3], **kwargs))


def test_modes_need_drafters(target):
    with pytest.raises(D2SDError, match="DFlash drafter"):
        first(stream_generate(Bundle(target), [1, 2], mode="dflash"))


def test_empty_and_too_long_prompts(target):
    bundle = Bundle(target)
    with pytest.raises(D2SDError, match="empty"):
        first(stream_generate(bundle, []))
    with pytest.raises(D2SDError, match="context"):
        first(stream_generate(bundle, [1] * 5000))


def test_bad_folders(tmp_path):
    with pytest.raises(D2SDError, match="no such model"):
        load(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(D2SDError, match="no config.json"):
        load(tmp_path / "empty")
    with pytest.raises(D2SDError, match="not a drafter folder"):
        load_drafter(tmp_path / "empty")


def test_drafter_config_and_weights_are_checked(tmp_path):
    d = make_drafter(CFG)
    save_drafter(d, tmp_path / "d")
    cfg = json.loads((tmp_path / "d" / "config.json").read_text())
    del cfg["block_size"]
    (tmp_path / "d" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(D2SDError, match="block_size"):
        load_drafter(tmp_path / "d")
    save_drafter(make_drafter(dict(CFG, intermediate_size=64)), tmp_path / "e")
    cfg = json.loads((tmp_path / "e" / "config.json").read_text())
    cfg["intermediate_size"] = 100
    (tmp_path / "e" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(D2SDError, match="shape"):
        load_drafter(tmp_path / "e")
    (tmp_path / "e" / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(D2SDError, match="cannot read"):
        load_drafter(tmp_path / "e")


def test_tiny_bundle_roundtrip_and_role(tmp_path):
    out = write_tiny_bundle(tmp_path / "b")
    b = load(out)
    assert b.default_mode == "d2sd"
    assert b.vp_drafter.config.role == ROLE_VP
    rs = list(stream_generate(b, "The quick", max_tokens=8, stop_on_eos=False))
    tokens = [t for r in rs for t in r.tokens]
    assert len(tokens) == 8 and rs[-1].finish_reason == "length"
    assert "".join(r.text for r in rs) == b.tokenizer.decode(tokens)  # the streamed text is the tokens' text



def test_train_bundle_writes_the_one_manifest_with_relative_paths(tmp_path):
    """`python -m d2sd_mlx.train bundle` writes bundle.json through d2sd_mlx.manifest: paths relative to
    the bundle (it still loads after the folders move together), the compat record, the recipe."""
    import json
    import shutil

    from d2sd_mlx.train.__main__ import main as train_main

    src = write_tiny_bundle(tmp_path / "src")
    (tmp_path / "recipe.json").write_text('{"steps": 3}')
    out = tmp_path / "work" / "b"
    assert train_main(["bundle", "--model", str(src / "target"), "--dflash", str(src / "dflash"), "--vp",
                       str(src / "vp"), "--out", str(out), "--dtype", "float32", "--recipe", str(tmp_path / "recipe.json")]) == 0
    m = json.loads((out / "bundle.json").read_text())
    assert (m["target"], m["drafter"], m["vp_drafter"]) == ("../../src/target", "dflash", "vp")
    assert m["compat"]["hidden_size"] == 64 and m["compat"]["vp_drafter"]["role"] == ROLE_VP and m["recipe"] == {"steps": 3}
    shutil.move(str(tmp_path / "src"), str(tmp_path / "moved" / "src"))
    shutil.move(str(tmp_path / "work"), str(tmp_path / "moved" / "work"))
    b = load(tmp_path / "moved" / "work" / "b")
    assert b.default_mode == "d2sd" and b.target.hidden_size == 64


# --- corrupt config files: one reader names the file and the problem (issue 15, item 1) -----------

CORRUPT = {
    "truncated": ('{"model_type": "llama", "hidden_', "invalid JSON"),
    "list": ("[1, 2]", "must hold a JSON object.*found a list"),
    "empty": ("", "is empty"),
    "binary": (b"\xff\xfe\x00garbage", "not UTF-8"),
}


def _corrupt(f, how):
    content = CORRUPT[how][0]
    if isinstance(content, bytes):
        f.write_bytes(content)
    else:
        f.write_text(content)
    return CORRUPT[how][1]


@pytest.mark.parametrize("how", sorted(CORRUPT))
@pytest.mark.parametrize("which", ["target", "drafter", "bundle"])
def test_corrupt_config_names_file_and_problem(tmp_path, which, how):
    out = write_tiny_bundle(tmp_path / "b")
    f = {"target": out / "target" / "config.json", "drafter": out / "dflash" / "config.json",
         "bundle": out / "bundle.json"}[which]
    assert f.is_file(), sorted(p.name for p in out.iterdir())
    problem = _corrupt(f, how)
    with pytest.raises(D2SDError, match=problem) as e:
        load(out)
    assert str(f) in str(e.value)


@pytest.mark.parametrize("how", sorted(CORRUPT))
def test_corrupt_target_config_on_the_command_line(tmp_path, capsys, how):
    from d2sd_mlx.generate import main

    out = write_tiny_bundle(tmp_path / "b")
    problem = _corrupt(out / "target" / "config.json", how)
    assert main(["--model", str(out / "target"), "--prompt", "hi", "--max-tokens", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err and str(out / "target" / "config.json") in err
    import re

    assert re.search(problem, err), err


@pytest.mark.parametrize("how", sorted(CORRUPT))
def test_corrupt_converter_inputs(tmp_path, how):
    from d2sd_mlx.manifest import drafter_config_of, target_config_of
    from convert.hf import read_config

    out = write_tiny_bundle(tmp_path / "b")
    for folder, reader in ((out / "target", read_config), (out / "target", target_config_of),
                           (out / "dflash", drafter_config_of)):
        problem = _corrupt(folder / "config.json", how)
        with pytest.raises(D2SDError, match=problem) as e:
            reader(folder)
        assert str(folder / "config.json") in str(e.value)


def test_slow_first_use_calibration_says_what_it_does(target, monkeypatch, capsys):
    """A cost calibration longer than a moment prints what it is doing, then its time (issue 15, item 4)."""
    import time

    from d2sd_mlx import api

    real = api.budgeted.for_bundle

    def slow(*a, **k):
        time.sleep(0.3)
        return real(*a, **k)

    monkeypatch.setattr(api, "NOTICE_AFTER_S", 0.05)
    monkeypatch.setattr(api.budgeted, "for_bundle", slow)
    bundle = Bundle(target, make_drafter(CFG), make_drafter(CFG, role=ROLE_VP))
    first(stream_generate(bundle, [1, 2, 3], mode="d2sd", budget="auto", max_tokens=2))
    err = capsys.readouterr().err
    assert "Measuring this machine's draft and verify costs" in err and "γ = 8" in err and "done in" in err
    monkeypatch.setattr(api, "NOTICE_AFTER_S", 30.0)  # a quick one says nothing
    first(stream_generate(bundle, [1, 2, 3], mode="d2sd", budget="auto", max_tokens=2))
    assert capsys.readouterr().err == ""


# --- smaller ones (issue 15, item 10) ------------------------------------------------------------

@pytest.mark.parametrize("mode", ["ar", "dflash2", "d2sd"])
def test_generation_stops_at_the_models_context(mode):
    cfg = dict(CFG, max_position_embeddings=48)
    t = make_target(cfg, seed=0)
    bundle = Bundle(t, make_drafter(cfg), make_drafter(cfg, role=ROLE_VP))
    prompt = [3] * 40
    got, last = 0, None
    for r in stream_generate(bundle, prompt, mode=mode, max_tokens=100, stop_on_eos=False, budget="fixed"):
        got += len(r.tokens)
        last = r
    assert got == 8 and len(prompt) + got == bundle.max_context
    assert last.finish_reason == "context" and last.stats.finish_reason == "context"
    assert last.stats.to_dict()["finish_reason"] == "context"
    *_, short = stream_generate(bundle, prompt, mode=mode, max_tokens=3, stop_on_eos=False, budget="fixed")
    assert short.finish_reason == "length" and short.stats.generation_tokens == 3


@pytest.mark.parametrize("argv, message", [
    (["--temp", "-1"], "temperature"),
    (["--max-tokens", "0"], "max_tokens"),
    (["--top-p", "2"], "top_p"),
    (["--top-k", "-3"], "top_k"),
    (["--block-size", "1"], "block_size"),
    (["--branches", "-1"], "branches"),
    (["--max-nodes", "0"], "max_nodes"),
])
def test_cli_options_are_checked_before_the_model_loads(monkeypatch, capsys, argv, message):
    import importlib

    cli = importlib.import_module("d2sd_mlx.generate")

    def no_load(*a, **k):
        raise AssertionError("the model was loaded before the options were checked")

    monkeypatch.setattr(cli, "load", no_load)
    assert cli.main(["--prompt", "hi", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_input_errors_exit_2_everywhere(tmp_path, capsys):
    """One convention: usage and input errors exit with 2 (argparse's code) in every CLI."""
    from convert.bundle import main as bundle_main
    from convert.from_hf import main as convert_main
    from d2sd_mlx.generate import main as generate_main

    missing = str(tmp_path / "missing")
    assert generate_main(["--model", missing, "--prompt", "hi"]) == 2
    assert convert_main(["--hf-path", missing, "--mlx-path", str(tmp_path / "o"), "--quiet"]) == 2
    assert bundle_main(["--target", missing, "--drafter", missing, "--out", str(tmp_path / "b")]) == 2
    for line in capsys.readouterr().err.splitlines():
        assert line.startswith("error: ") and "Traceback" not in line


@pytest.mark.parametrize("module", ["d2sd_mlx.generate", "d2sd_mlx.bench"])
def test_every_cli_option_has_help_with_its_default(module):
    """`--help` explains every option and says its default (issue 15, item 11)."""
    import argparse
    import importlib

    parser = importlib.import_module(module).build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{module} {action.option_strings[0]} has no help text"
        if not isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            assert "default" in action.help, f"{module} {action.option_strings[0]}: help does not give the default"
