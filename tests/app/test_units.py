"""Pure parts of the app: parameters, commands, metrics, text alignment, model checks."""

from __future__ import annotations

import json

import pytest

from app import commands, metrics
from app.clipboard import last_code_block
from app.engine import EngineInfo, align_pieces, clean_text, resolve_mode
from app.engine_types import CycleStats, Stats
from app.models import Candidate, check_model_dir, compatible, read_candidate
from app.params import ParamError, Params

INFO = EngineInfo("m", None, "d", "vp", 2048, 8, "on", "")


def test_params_set_and_validate():
    p = Params().set("temp", "0.7").set("max-tokens", "64").set("seed", "none").set("gamma", "4")
    assert (p.temp, p.max_tokens, p.seed, p.block_size) == (0.7, 64, None, 4)
    for key, value, words in [("temp", "hot", "must be a number"), ("temp", "9", "between"),
                              ("max_tokens", "1.5", "whole number"), ("mode", "fast", "one of"),
                              ("colour", "red", "Unknown parameter")]:
        with pytest.raises(ParamError, match=words):
            p.set(key, value)
    assert Params.from_dict({"temp": 0.3, "bogus": 1, "top_p": 7}) == Params(temp=0.3)


def test_command_parse_unknown_and_complete():
    assert commands.parse("/set temp 0.7") == ("set", "temp 0.7")
    assert commands.parse("/HELP") == ("help", "")
    with pytest.raises(commands.CommandError, match=r"Unknown command /sto\..*/stats"):
        commands.parse("/sto")
    with pytest.raises(commands.CommandError, match="Type /help"):
        commands.parse("/zzz")
    assert commands.complete("/ex") == "/export "
    assert commands.complete("/s") == "/s"  # set, spec, stats, sources, system: no common prefix beyond s
    assert commands.complete("/st") == "/stats "
    assert commands.complete("hello") == "hello"
    names = {c.name for c in commands.COMMANDS}
    assert {"new", "model", "draft", "system", "set", "spec", "stats", "copy", "export", "clear", "help"} <= names


def _stats(lengths, winners, draft=0.01, verify=0.02, mode="d2sd"):
    s = Stats(mode=mode)
    for n, w in zip(lengths, winners):
        s.add_cycle(CycleStats(n, w, 40, 4, draft, verify))
        s.generation_tokens += n
    s.generation_s = s.draft_s + s.verify_s
    return s


def test_metrics_acceptance_winners_speedup():
    s = _stats([4, 1, 7], ["dflash", "none", "vp2"])
    assert metrics.acceptance_rate(s, 8) == pytest.approx((3 + 0 + 6) / (3 * 7))
    assert metrics.acceptance_rate(s, None) is None
    assert metrics.winner_shares(s) == [("DFlash row", 1 / 3), ("VP branch 2", 1 / 3), ("bonus only", 1 / 3)]
    s2 = _stats([2, 2, 2, 1], ["vp0/2", "vp1", "vp0", "none"])  # branch 0's 2nd alternative sorts after its 1st
    assert [w for w, _ in metrics.winner_shares(s2)] == ["VP branch 0", "VP branch 0 (alt 2)", "VP branch 1", "bonus only"]
    s3 = _stats([2, 3, 2, 1], ["dflash1", "dflash", "dflash0/2", "none"], mode="dflash2")  # dflash2: DFlash's branches
    assert [w for w, _ in metrics.winner_shares(s3)] == ["DFlash row", "DFlash branch 0 (alt 2)", "DFlash branch 1", "bonus only"]
    bound = metrics.speedup(s, None)
    assert not bound.measured and bound.value == pytest.approx(4 * 0.02 / 0.03)
    measured = metrics.speedup(s, ar_tps=s.generation_tps / 2)
    assert measured.measured and measured.value == pytest.approx(2.0)
    assert metrics.speedup(_stats([1], ["none"], mode="ar"), None) is None


def test_diagnostics_explain_off_failed_and_slow():
    off = EngineInfo("m", None, None, None, 2048, None, "off", "no drafter was given")
    failed = EngineInfo("m", None, None, None, 2048, None, "failed", "the drafter failed to load: bad vocab")
    assert "OFF: no drafter was given" in metrics.diagnostics(off, "d2sd", "", None, None)[0]
    assert "FAILED: the drafter failed to load: bad vocab" in metrics.diagnostics(failed, "d2sd", "", None, None)[0]
    slow = _stats([1, 2] * 5, ["none", "dflash"] * 5, draft=0.05, verify=0.02)
    text = " ".join(metrics.diagnostics(INFO, "d2sd", "", slow, None))
    assert "slower than plain decoding" in text and "/spec off" in text
    fast = _stats([6] * 10, ["dflash"] * 10)
    assert metrics.diagnostics(INFO, "d2sd", "", fast, None) == []
    # measured against a plain-decoding rate faster than ours: slower, says so with the numbers
    text = " ".join(metrics.diagnostics(INFO, "d2sd", "", fast, fast.generation_tps * 2))
    assert "η 0.50×" in text


def test_resolve_mode_falls_back_with_reason():
    assert resolve_mode("d2sd", INFO) == ("d2sd", "")
    dflash_only = EngineInfo("m", None, "d", None, 2048, 8, "on", "")
    mode, note = resolve_mode("d2sd", dflash_only)
    assert mode == "dflash" and "No VP drafter" in note
    off = EngineInfo("m", None, None, None, 2048, None, "off", "no drafter was given")
    assert resolve_mode("dflash", off) == ("ar", "Speculation is off (no drafter was given); using plain decoding.")


def test_align_pieces_always_joins_to_text():
    assert align_pieces(["a", "b"], "ab") == ["a", "b"]
    assert "".join(align_pieces(["ca", "f\ufffd", "é!"], "café!")) == "café!"
    assert align_pieces([], "x") == ["x"]
    assert "".join(align_pieces(["zz", "yy"], "")) == ""


def test_clean_text_marks_broken_utf8():
    assert clean_text("ok") == ("ok", False)
    assert clean_text("caf\udce9") == ("caf\ufffd", True)
    assert clean_text("bad \ufffd") == ("bad \ufffd", True)


def test_last_code_block():
    assert last_code_block("x\n```py\na = 1\n```\ny\n~~~\nb\n~~~\n") == "b"
    assert last_code_block("no code") is None


def test_check_model_dir_reasons(tmp_path):
    assert "no such" in check_model_dir(str(tmp_path / "missing"))
    (tmp_path / "f.txt").write_text("x")
    assert "not a folder" in check_model_dir(str(tmp_path / "f.txt"))
    assert "config.json is missing" in check_model_dir(str(tmp_path))
    (tmp_path / "config.json").write_text("{nope")
    assert "cannot be read" in check_model_dir(str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"vocab_size": 10, "block_size": 8}))
    assert "safetensors" in check_model_dir(str(tmp_path))
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 10)
    assert check_model_dir(str(tmp_path)) == ""
    cand = read_candidate(tmp_path)
    assert cand.kind == "drafter" and cand.vocab_size == 10
    assert compatible(cand, 10) == ""
    assert "vocabulary mismatch" in compatible(cand, 49152)
    assert "not a drafter" in compatible(Candidate("p", "n", "target", 10, 1, None), 10)


def test_status_line_says_how_much_of_the_prompt_was_reused():
    from d2sd_mlx.types import Stats

    s = Stats(mode="ar", prompt_tokens=400, generation_tokens=20, generation_s=1.0, ttft_s=0.3)
    assert "TTFT 0.30 s ·" in metrics.status_line(s, INFO)
    s.cached_tokens = 380
    assert "TTFT 0.30 s (380 cached) ·" in metrics.status_line(s, INFO)
    assert "ctx 420/" in metrics.status_line(s, INFO)
