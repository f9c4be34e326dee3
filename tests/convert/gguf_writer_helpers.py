"""Write tiny GGUF files the way llama.cpp lays them out (names, Q/K permutation, tokenizer metadata)."""

import json
from pathlib import Path

import numpy as np

LAYER_NAMES = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
    "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
}


def gguf_name(hf: str) -> str:
    if hf.startswith("model.layers."):
        _, _, i, rest = hf.split(".", 3)
        mod, suffix = rest.rsplit(".", 1)
        return f"blk.{i}.{LAYER_NAMES[mod]}.{suffix}"
    return {"rope_freqs.weight": "rope_freqs.weight", "model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
            "lm_head.weight": "output.weight"}[hf]


def tokenizer_meta(tokenizer_json: Path) -> dict:
    """tokens / merges / token types of a byte-level BPE tokenizer.json (the tiny test tokenizer)."""
    t = json.loads(Path(tokenizer_json).read_text())
    vocab = dict(t["model"]["vocab"])
    for a in t["added_tokens"]:
        vocab[a["content"]] = a["id"]
    tokens = [None] * len(vocab)
    for s, i in vocab.items():
        tokens[i] = s
    specials = {a["content"] for a in t["added_tokens"] if a["special"]}
    merges = [m if isinstance(m, str) else " ".join(m) for m in t["model"]["merges"]]
    return {"tokens": tokens, "merges": merges, "types": [3 if s in specials else 1 for s in tokens]}


def write_gguf(path: Path, cfg: dict, weights: dict, qtypes: dict | None = None, tok: dict | None = None,
               arch: str | None = None, extra_meta=None, default_qtype: str = "F32") -> dict:
    """Write weights (HF names, numpy fp32) as GGUF; returns the GGUF-layout dequantized values
    mapped back to HF names and layout (the reference weights the conversion must reproduce)."""
    import gguf
    from gguf import quants

    from d2sd_mlx.gguf import permute_rows, unpermute_rows

    T = gguf.GGMLQuantizationType
    arch = arch or cfg["model_type"]
    w = gguf.GGUFWriter(str(path), arch)
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_rope_freq_base(cfg["rope_theta"])
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_vocab_size(cfg["vocab_size"])
    if cfg.get("head_dim") and cfg["head_dim"] != cfg["hidden_size"] // cfg["num_attention_heads"]:
        w.add_key_length(cfg["head_dim"])
        w.add_value_length(cfg["head_dim"])
    if tok is not None:
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre("default")
        w.add_token_list(tok["tokens"])
        w.add_token_types(tok["types"])
        w.add_token_merges(tok["merges"])
        w.add_bos_token_id(cfg.get("bos_token_id", 1))
        w.add_eos_token_id(cfg.get("eos_token_id", 2))
        w.add_add_bos_token(False)
        if tok.get("chat_template"):
            w.add_chat_template(tok["chat_template"])
    for k, v in (extra_meta or {}).items():
        v(w) if callable(v) else w.add_string(k, v)
    ref = {}
    qtypes = qtypes or {}
    for hf, arr in weights.items():
        name = gguf_name(hf)
        a = np.ascontiguousarray(arr, dtype=np.float32)
        permute = arch == "llama" and (".attn_q." in name or ".attn_k." in name)
        if permute:
            n = cfg["num_attention_heads"] if ".attn_q." in name else cfg["num_key_value_heads"]
            a = np.ascontiguousarray(permute_rows(a, n))
        qt = qtypes.get(hf, default_qtype if a.ndim == 2 else "F32")
        if qt == "F32":
            w.add_tensor(name, a)
            deq = a
        elif qt == "F16":
            w.add_tensor(name, a.astype(np.float16))
            deq = a.astype(np.float16).astype(np.float32)
        else:
            t = T[qt]
            q = quants.quantize(a, t)
            w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=t)
            deq = quants.dequantize(q, t).astype(np.float32)
        ref[hf] = np.ascontiguousarray(unpermute_rows(deq, n)) if permute else deq
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return ref
