"""GGUF → mlx-lm: tiny llama/qwen3 files written with the gguf package, and the real SmolLM2 file."""

import json
import time
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
from conv_helpers import max_diff, needs_gguf, needs_smollm2

from convert.make_tiny import target_config, target_weights
from d2sd_mlx.tiny import CHAT_TEMPLATE, tiny_tokenizer


def _reference_logits(cfg, ref_weights, ids):
    from mlx_lm.utils import _get_classes

    model_cls, args_cls = _get_classes(cfg)
    model = model_cls(args_cls.from_dict(cfg))
    model.load_weights([(k, mx.array(v)) for k, v in ref_weights.items()])
    return np.array(model(mx.array(ids)))


@pytest.fixture(scope="module")
def tiny_tok(tmp_path_factory):
    d = tmp_path_factory.mktemp("tok")
    tiny_tokenizer(320, chat=True).save_pretrained(str(d))
    from gguf_writer_helpers import tokenizer_meta

    meta = tokenizer_meta(d / "tokenizer.json")
    meta["chat_template"] = CHAT_TEMPLATE
    return d, meta


CASES = {
    # name: (model kind, tied, per-tensor quant types, convert flags, tolerance, output quantized)
    "llama-f32": ("llama", False, {}, [], 1e-4, False),
    "llama-q-mixed-fp32scales": ("llama", True, "mixed", ["--dtype", "float32"], 1e-4, True),
    "llama-q-mixed-dequant": ("llama", False, "mixed", ["-d", "--dtype", "float32"], 1e-4, False),
    "llama-q8-as-shipped": ("llama", False, {"*": "Q8_0"}, [], 3e-2, True),  # fp16 scales as in the file
    "qwen3-f16": ("qwen3", False, {"*": "F16"}, ["--dtype", "float32"], 1e-4, False),
}


def _qtypes(spec, weights):
    if spec == "mixed":
        out = {}
        for i, k in enumerate(sorted(k for k, v in weights.items() if v.ndim == 2)):
            out[k] = ("Q4_0", "Q4_1", "Q8_0")[i % 3]
        out["model.embed_tokens.weight"] = "Q8_0"
        return out
    if "*" in spec:
        return {k: spec["*"] for k, v in weights.items() if v.ndim == 2}
    return spec


@needs_gguf
@pytest.mark.parametrize("case", list(CASES))
def test_tiny_gguf_converts_and_matches(tmp_path, tiny_tok, case):
    from gguf_writer_helpers import write_gguf
    from mlx_lm import load

    from convert.from_hf import main

    kind, tie, spec, flags, tol, quantized = CASES[case]
    cfg = target_config(kind, tie=tie)
    weights = target_weights(cfg, seed=3)
    src = tmp_path / "tiny.gguf"
    ref = write_gguf(src, cfg, weights, _qtypes(spec, weights), tok=tiny_tok[1])
    assert main(["--hf-path", str(src), "--mlx-path", str(tmp_path / "out"), "--quiet", *flags]) == 0

    model, tok = load(str(tmp_path / "out"))
    out_cfg = json.loads((tmp_path / "out" / "config.json").read_text())
    assert out_cfg["model_type"] == kind and out_cfg["tie_word_embeddings"] == tie
    assert ("quantization" in out_cfg) == quantized
    ids = np.random.default_rng(0).integers(0, 320, size=(1, 19))
    got = np.array(model(mx.array(ids)).astype(mx.float32))
    want = _reference_logits(cfg, ref, ids)
    assert max_diff(got, want) <= tol, max_diff(got, want)
    assert (got.argmax(-1) == want.argmax(-1)).mean() > 0.9

    # the tokenizer rebuilt from GGUF metadata encodes like the original one
    from transformers import AutoTokenizer

    orig = AutoTokenizer.from_pretrained(str(tiny_tok[0]))
    for text in ["What is the capital of France?", "def add(a, b):\n  return a+b  # 12345", "<|im_start|>user\nhi<|im_end|>"]:
        assert tok.encode(text) == orig.encode(text), text
    msgs = [{"role": "user", "content": "hi"}]
    assert tok.apply_chat_template(msgs, add_generation_prompt=True) == orig.apply_chat_template(
        msgs, add_generation_prompt=True, return_dict=False)


@needs_gguf
def test_llama_gguf_rope_layout_matters(tmp_path, tiny_tok):
    """Negative control: reading llama.cpp's permuted Q/K rows as-is gives different logits."""
    from gguf_writer_helpers import write_gguf

    from d2sd_mlx import gguf as G

    cfg = target_config("llama")
    weights = target_weights(cfg, seed=4)
    src = tmp_path / "t.gguf"
    ref = write_gguf(src, cfg, weights, tok=tiny_tok[1])
    w, meta, _ = G.load(src)
    cfg2 = G.gguf_config(meta, w, src)
    ok = G.map_names(w, cfg2, src)
    assert max_diff(ok["model.layers.0.self_attn.q_proj.weight"], ref["model.layers.0.self_attn.q_proj.weight"]) == 0
    raw = np.array(w["blk.0.attn_q.weight"])
    assert max_diff(raw, ref["model.layers.0.self_attn.q_proj.weight"]) > 0.01


@needs_gguf
def test_llama3_rope_freqs_become_rope_scaling(tmp_path, tiny_tok):
    from gguf_writer_helpers import write_gguf
    from mlx_lm import load

    from convert.from_hf import convert
    from d2sd_mlx.gguf import llama3_factors
    from d2sd_mlx.errors import D2SDError

    cfg = dict(target_config("llama"), rope_theta=500000.0, max_position_embeddings=131072)
    weights = target_weights(cfg, seed=5)
    freqs = np.array(llama3_factors(16, 500000.0, 8.0, 1.0, 4.0, 8192), np.float32)
    assert freqs.min() == 1.0 and freqs.max() == 8.0 and ((freqs > 1.0) & (freqs < 8.0)).any()
    ref = write_gguf(tmp_path / "l3.gguf", cfg, {**weights, "rope_freqs.weight": freqs}, tok=tiny_tok[1])
    out, _ = convert(str(tmp_path / "l3.gguf"), tmp_path / "out")
    got_cfg = json.loads((out / "config.json").read_text())
    scaling = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 8192}
    assert got_cfg["rope_scaling"] == scaling
    model, _ = load(str(out))
    ids = np.arange(40).reshape(1, 40) % 300
    ref.pop("rope_freqs.weight")
    want = _reference_logits(dict(cfg, rope_scaling=scaling), ref, ids)
    assert max_diff(np.array(model(mx.array(ids))), want) <= 1e-4
    plain = _reference_logits(cfg, ref, ids)
    assert max_diff(plain, want) > 1e-3  # the scaling changes the result, so the check above means something

    write_gguf(tmp_path / "bad.gguf", cfg, {**weights, "rope_freqs.weight": freqs[::-1].copy()}, tok=tiny_tok[1])
    with pytest.raises(D2SDError, match=r"rope_freqs\.weight does not match Llama-3 RoPE scaling"):
        convert(str(tmp_path / "bad.gguf"), tmp_path / "out2")


def test_spm_tokenizer_from_metadata_matches_sentencepiece(tmp_path):
    """The 'llama' (SentencePiece BPE) route: merges from scores, byte fallback, space prefix."""
    spm = pytest.importorskip("sentencepiece", reason="sentencepiece is not installed: it is the reference here")
    from d2sd_mlx.gguf_tokenizer import build_tokenizer

    text = ("The quick brown fox jumps over the lazy dog. Paris is the capital of France. "
            "Speculative decoding drafts tokens; the target verifies them. 12 + 30 = 42.\n") * 30
    (tmp_path / "c.txt").write_text(text)
    spm.SentencePieceTrainer.train(input=str(tmp_path / "c.txt"), model_prefix=str(tmp_path / "m"), vocab_size=400,
                                   model_type="bpe", byte_fallback=True, character_coverage=1.0,
                                   minloglevel=2, bos_id=1, eos_id=2, unk_id=0, pad_id=-1,
                                   normalization_rule_name="identity", remove_extra_whitespaces=False)  # as Llama's
    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "m.model"))
    n = sp.get_piece_size()
    tokens = [sp.id_to_piece(i) for i in range(n)]
    types = [2 if sp.is_unknown(i) else 3 if sp.is_control(i) else 6 if sp.is_byte(i) else 1 for i in range(n)]
    meta = {"tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": tokens,
            "tokenizer.ggml.scores": [sp.get_score(i) for i in range(n)], "tokenizer.ggml.token_type": types,
            "tokenizer.ggml.bos_token_id": mx.array(1, dtype=mx.uint32), "tokenizer.ggml.eos_token_id": mx.array(2, dtype=mx.uint32),
            "tokenizer.ggml.unknown_token_id": mx.array(0, dtype=mx.uint32)}
    built = build_tokenizer(meta, "test.gguf")
    for s in ["The quick brown fox.", "Paris is the capital", "hello  world 42", "Zürich ☃ unseen"]:
        want = [1] + sp.encode(s)
        got = built.tokenizer.encode(s).ids
        assert got == want, (s, got, want)
        assert built.tokenizer.decode(got, skip_special_tokens=True) == sp.decode(sp.encode(s))


@needs_smollm2
def test_default_target_smollm2_paris_and_cache(tmp_path):
    from mlx_lm import generate, load
    from mlx_lm.sample_utils import make_sampler

    from d2sd_mlx.default_target import STAMP, ensure_default_target

    path = ensure_default_target(tmp_path / "cache", dtype="float32")
    assert path == tmp_path / "cache" / "SmolLM2-135M-Instruct-float32"
    cfg = json.loads((path / "config.json").read_text())
    assert "quantization" not in cfg and cfg["num_hidden_layers"] == 30
    model, tok = load(str(path))
    assert model.model.layers[0].self_attn.q_proj.weight.dtype == mx.float32
    prompt = tok.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                     add_generation_prompt=True)
    text = generate(model, tok, prompt=prompt, max_tokens=12, sampler=make_sampler(temp=0.0))
    assert "Paris" in text, text

    # second start: the cache is reused, untouched
    mtime = (path / "model.safetensors").stat().st_mtime_ns
    t0 = time.monotonic()
    assert ensure_default_target(tmp_path / "cache", dtype="float32") == path
    assert time.monotonic() - t0 < 1.0
    assert (path / "model.safetensors").stat().st_mtime_ns == mtime

    # a stale stamp (older converter) is redone
    stamp = json.loads((path / STAMP).read_text())
    (path / STAMP).write_text(json.dumps(dict(stamp, converter_version=0)))
    assert ensure_default_target(tmp_path / "cache", dtype="float32") == path
    assert json.loads((path / STAMP).read_text()) == stamp
    assert sorted(p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")) == [path.name]


@needs_smollm2
def test_default_target_q4_keeps_shipped_quantization(tmp_path, monkeypatch):
    from mlx_lm.utils import load_model

    from d2sd_mlx.default_target import default_dtype, ensure_default_target

    monkeypatch.setenv("D2SD_HOME", str(tmp_path))
    monkeypatch.setenv("D2SD_DEFAULT_DTYPE", "q4")
    assert default_dtype() == "q4"
    path = ensure_default_target()
    assert path == tmp_path / "models" / "SmolLM2-135M-Instruct-q4"
    cfg = json.loads((path / "config.json").read_text())
    assert cfg["quantization"] == {"group_size": 32, "bits": 4}
    model, _ = load_model(Path(path))
    y = model(mx.array([[1, 2, 3]]))
    assert y.shape == (1, 3, 49152)


@needs_smollm2
def test_default_target_sweeps_stale_temp_folders(tmp_path, monkeypatch):
    """A conversion killed or quit mid-way leaves `.NAME.tmp-*`; the next start removes it (issue 15, item 6)."""
    import d2sd_mlx.default_target as dm

    def fake_convert(src, out, **kw):
        (out / "config.json").write_text("{}")
        (out / "tokenizer.json").write_text("{}")

    monkeypatch.setattr(dm, "convert_gguf", fake_convert)
    cache = tmp_path / "cache"
    stale = cache / ".SmolLM2-135M-Instruct-float32.tmp-dead1234"
    stale.mkdir(parents=True)
    (stale / "model.safetensors").write_bytes(b"\0" * 4096)
    old = cache / ".SmolLM2-135M-Instruct-float32.old-deadbeef"
    old.mkdir()
    path = dm.ensure_default_target(cache, dtype="float32")
    assert sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock")) == [path.name]
    stale.mkdir()  # a leftover next to an up-to-date conversion is removed too
    assert dm.ensure_default_target(cache, dtype="float32") == path
    assert sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock")) == [path.name]
