"""Self-distil the target and train both drafters in PyTorch on one GPU, within a time budget.

The recipe is d2sd_mlx.train's (blocks, masks, loss weights, feature scale, warm start), run at a
GPU's batch size; the outputs import into MLX with `scripts/gpu_import.py`. Stages, each bounded
by its share of --budget seconds and each written to --out as soon as it is done:

1. greedy answers to every staged prompt (fp32, exact matmuls), batched with a KV cache;
2. the tap features of every prompt+answer (one batched pass, kept on the GPU in fp16);
3. the DFlash drafter, then the VP drafter warm-started from it, both predicting over a draft
   vocabulary (the N most frequent answer tokens) with the target's own head rows.

Inputs come from `scripts/gpu_stage.py`. Runs on a CPU too: with `--cpu-bf16 --feat-bf16` a CPU with
AMX (Intel Sapphire Rapids and later) trains and computes features in bf16 about 3x faster than fp32;
`--sample N` keeps the features of N answers in memory (N x ~200 tokens x 9 KB); `--init` continues
an earlier run, so a CPU round can be spread over several sittings.

    python scripts/gpu_distill.py --stage .stage --target /tmp/target.safetensors --out $OUT --budget 480

On a machine reached through a small upload limit, split target.safetensors (e.g. `head -c` /
`tail -c` into two parts), send the parts in back-to-back calls, `cat` them together there and
check the sha256 before running. Import the results with `scripts/gpu_import.py`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import load_file
from safetensors.torch import load_file as load_torch_file
from safetensors.torch import save_file

T0 = time.time()


def log(msg: str) -> None:
    line = f"[{time.time() - T0:7.1f}s] {msg}"
    print(line, flush=True)
    if LOG is not None:
        LOG.write(line + "\n")
        LOG.flush()


LOG = None


# --------------------------------------------------------------------------------------------
# target weights
# --------------------------------------------------------------------------------------------
def dequantize(w: np.ndarray, scales: np.ndarray, biases: np.ndarray) -> np.ndarray:
    """MLX affine dequantization (group 32 along columns), scales and biases cast to fp32 first."""
    rows, words = w.shape
    groups = scales.shape[1]
    bits = words * 32 // (groups * 32)
    per = 32 // bits
    shifts = (np.arange(per, dtype=np.uint32) * bits)[None, None, :]
    q = ((w[:, :, None] >> shifts) & np.uint32((1 << bits) - 1)).reshape(rows, words * per).astype(np.float32)
    q = q.reshape(rows, groups, 32)
    out = q * scales.astype(np.float32)[:, :, None] + biases.astype(np.float32)[:, :, None]
    return out.reshape(rows, groups * 32)


def load_target_weights(path: str) -> dict[str, np.ndarray]:
    raw = load_file(path)
    out = {}
    for name, arr in raw.items():
        if name.endswith(".scales") or name.endswith(".biases"):
            continue
        base = name[: -len(".weight")] if name.endswith(".weight") else None
        if base is not None and f"{base}.scales" in raw:
            arr = dequantize(arr, raw[f"{base}.scales"], raw[f"{base}.biases"])
        out[name] = arr.astype(np.float32)
    return out


class Target:
    """A Llama-family target (SmolLM2) in plain torch: batched prefill/decode, tap features."""

    def __init__(self, w: dict, cfg: dict, device):
        t = lambda n: torch.from_numpy(w[n]).to(device)
        self.cfg = cfg
        self.nh, self.nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
        self.hd = cfg.get("head_dim") or cfg["hidden_size"] // self.nh
        self.eps = cfg["rms_norm_eps"]
        self.emb = t("model.embed_tokens.weight")
        self.head_w = t("lm_head.weight") if "lm_head.weight" in w else self.emb
        self.norm = t("model.norm.weight")
        self.layers = []
        for i in range(cfg["num_hidden_layers"]):
            p = f"model.layers.{i}."
            self.layers.append({k: t(p + n) for k, n in (
                ("q", "self_attn.q_proj.weight"), ("k", "self_attn.k_proj.weight"), ("v", "self_attn.v_proj.weight"),
                ("o", "self_attn.o_proj.weight"), ("g", "mlp.gate_proj.weight"), ("u", "mlp.up_proj.weight"),
                ("d", "mlp.down_proj.weight"), ("n1", "input_layernorm.weight"), ("n2", "post_attention_layernorm.weight"))})
        inv = 1.0 / (cfg.get("rope_theta", 10000.0) ** (torch.arange(0, self.hd, 2, dtype=torch.float64) / self.hd))
        self.inv_freq = inv.to(device)
        self.device = device
        ang = torch.arange(cfg.get("max_position_embeddings", 8192), device=device, dtype=torch.float64)[:, None] * self.inv_freq
        ang = torch.cat([ang, ang], -1)
        self.cos_tab, self.sin_tab = ang.cos().float(), ang.sin().float()

    def to_dtype(self, dtype) -> None:
        """Cast every weight (and so the KV cache and activations of generate) to `dtype`."""
        tied = self.head_w is self.emb
        self.emb, self.norm = self.emb.to(dtype), self.norm.to(dtype)
        self.head_w = self.emb if tied else self.head_w.to(dtype)
        self.layers = [{k: v.to(dtype) for k, v in layer.items()} for layer in self.layers]

    def rms(self, x, w):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) * w.to(x.dtype)

    def rope(self, x, pos):
        """x [B, H, T, D], pos [B, T] (rotate-half), from a cached fp32 table."""
        cos = self.cos_tab[pos].to(x.dtype)[:, None]
        sin = self.sin_tab[pos].to(x.dtype)[:, None]
        a, b = x.chunk(2, dim=-1)
        return x * cos + torch.cat([-b, a], -1) * sin

    def layer_qkv(self, L, x, pos):
        B, T, _ = x.shape
        h = self.rms(x, L["n1"])
        q = (h @ L["q"].T.to(h.dtype)).view(B, T, self.nh, self.hd).transpose(1, 2)
        k = (h @ L["k"].T.to(h.dtype)).view(B, T, self.nkv, self.hd).transpose(1, 2)
        v = (h @ L["v"].T.to(h.dtype)).view(B, T, self.nkv, self.hd).transpose(1, 2)
        return self.rope(q, pos), self.rope(k, pos), v

    def layer_out(self, L, x, o):
        B, _, T, _ = o.shape
        x = x + o.transpose(1, 2).reshape(B, T, -1) @ L["o"].T.to(x.dtype)
        h = self.rms(x, L["n2"])
        return x + (F.silu(h @ L["g"].T.to(h.dtype)) * (h @ L["u"].T.to(h.dtype))) @ L["d"].T.to(h.dtype)

    def forward(self, tokens, pos, mask, taps=(), upto=None, caches=None):
        """Full-sequence pass. mask bool [B, 1, T, T]. Returns (hidden after last layer run, tap list).

        caches: a list to receive (k, v) per layer (prefill into a KV cache)."""
        x = self.emb[tokens]
        got = {}
        n = len(self.layers) if upto is None else upto + 1
        rep = self.nh // self.nkv
        for i, L in enumerate(self.layers[:n]):
            q, k, v = self.layer_qkv(L, x, pos)
            if caches is not None:
                caches.append((k, v))
            o = F.scaled_dot_product_attention(q, k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1), attn_mask=mask)
            x = self.layer_out(L, x, o)
            if i in taps:
                got[i] = x
        return x, [got[t] for t in taps]

    def logits(self, h):
        return self.rms(h, self.norm) @ self.head_w.T.to(h.dtype)


# --------------------------------------------------------------------------------------------
# 1. greedy answers
# --------------------------------------------------------------------------------------------
@torch.no_grad()
def generate(target: Target, prompts: list[np.ndarray], max_new: int, eos: int, batch: int, deadline: float,
             temp: float = 0.0, gen: torch.Generator | None = None):
    """Greedy answers (lists of ids, eos included when reached), or answers sampled at `temp` > 0 from
    the target's softmax with `gen`. Stops launching batches at deadline."""
    dev = target.device
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    answers: list[list[int] | None] = [None] * len(prompts)
    rep = target.nh // target.nkv
    done_tokens = 0
    for s in range(0, len(order), batch):
        if time.time() > deadline:
            log(f"generation: time budget reached after {s} prompts")
            break
        t_b = time.time()
        idx = order[s : s + batch]
        B = len(idx)
        P = max(len(prompts[i]) for i in idx)
        pad = torch.tensor([P - len(prompts[i]) for i in idx], device=dev)
        toks = torch.zeros(B, P, dtype=torch.long, device=dev)
        for j, i in enumerate(idx):
            toks[j, P - len(prompts[i]) :] = torch.from_numpy(prompts[i].astype(np.int64))
        ar = torch.arange(P, device=dev)
        pos = (ar[None] - pad[:, None]).clamp(min=0)
        valid_k = ar[None, :] >= pad[:, None]  # [B, P]
        mask = (ar[None, :, None] >= ar[None, None, :]) & valid_k[:, None, :]
        mask = mask | torch.eye(P, dtype=torch.bool, device=dev)[None]
        mask = mask[:, None]
        Tmax = P + max_new
        kc = torch.zeros(len(target.layers), B, target.nkv, Tmax, target.hd, device=dev, dtype=target.emb.dtype)
        vc = torch.zeros_like(kc)
        caches = []
        h, _ = target.forward(toks, pos, mask, caches=caches)
        for li, (k, v) in enumerate(caches):
            kc[li, :, :, :P] = k
            vc[li, :, :, :P] = v
        del caches
        pick = (lambda lg: lg.argmax(-1)) if temp <= 0 else \
            (lambda lg: torch.multinomial(torch.softmax(lg.float() / temp, -1), 1, generator=gen)[:, 0])
        nxt = pick(target.logits(h[:, -1]))
        out = torch.zeros(B, max_new, dtype=torch.long, device=dev)
        finished = torch.zeros(B, dtype=torch.bool, device=dev)
        keyvalid = torch.zeros(B, Tmax, dtype=torch.bool, device=dev)
        keyvalid[:, :P] = valid_k
        cur_pos = P - pad  # next position per row
        steps = 0
        active = torch.arange(B, device=dev)  # the batch row behind each row still decoding
        for t in range(max_new):
            out[active, t] = nxt
            finished |= nxt == eos
            steps = t + 1
            if bool(finished.all()) or t == max_new - 1:
                break
            if float(finished.float().mean()) >= 0.25:  # drop the finished rows: their answers are complete
                keep = ~finished
                kc, vc = kc[:, keep], vc[:, keep]
                keyvalid, cur_pos, nxt, active, finished = keyvalid[keep], cur_pos[keep], nxt[keep], active[keep], finished[keep]
            Bc = len(active)
            x = target.emb[nxt][:, None]  # [Bc, 1, H]
            p1 = cur_pos[:, None]
            keyvalid[:, P + t] = True
            m = keyvalid[:, None, None, : P + t + 1]
            for li, L in enumerate(target.layers):
                q, k, v = target.layer_qkv(L, x, p1)
                kc[li, :, :, P + t] = k[:, :, 0]
                vc[li, :, :, P + t] = v[:, :, 0]
                qg = q.view(Bc, target.nkv, rep, target.hd)  # the rep query heads of one kv head as rows
                o = F.scaled_dot_product_attention(qg, kc[li, :, :, : P + t + 1], vc[li, :, :, : P + t + 1], attn_mask=m)
                x = target.layer_out(L, x, o.reshape(Bc, target.nh, 1, target.hd))
            nxt = pick(target.logits(x[:, 0]))
            cur_pos = cur_pos + 1
        out = out[:, :steps].cpu().numpy()
        for j, i in enumerate(idx):
            row = out[j].tolist()
            if eos in row:
                row = row[: row.index(eos) + 1]
            answers[i] = row
            done_tokens += len(row)
        dt = time.time() - t_b
        log(f"generation: {s + B}/{len(order)} prompts, batch of {B} (prompt {P}, {steps} steps) in {dt:.1f}s, "
            f"{sum(len(answers[i]) for i in idx) / dt:.0f} answer tok/s")
        del kc, vc
    return answers


# --------------------------------------------------------------------------------------------
# 2. tap features
# --------------------------------------------------------------------------------------------
@torch.no_grad()
def tap_features(target: Target, seqs: list[np.ndarray], taps: list[int], tokens_per_batch: int, bf16: bool = False):
    """Flat fp16 features [sum(len), n_taps*H] on the device, and offsets; `bf16`: bf16 matmuls."""
    dev = target.device
    lens = np.array([len(s) for s in seqs])
    offsets = np.concatenate([[0], np.cumsum(lens)])
    feats = torch.empty(int(offsets[-1]), len(taps) * target.emb.shape[1], dtype=torch.float16, device=dev)
    order = np.argsort(lens, kind="stable")
    s, done, t0, last = 0, 0, time.time(), time.time()
    while s < len(order):
        if time.time() - last > 60:
            log(f"features: {done:,} of {int(offsets[-1]):,} tokens, {done / (time.time() - t0):.0f} tok/s")
            last = time.time()
        T = int(lens[order[s]])
        n = max(1, tokens_per_batch // max(T, 1))
        idx = order[s : s + n]
        T = int(lens[idx].max())
        B = len(idx)
        toks = torch.zeros(B, T, dtype=torch.long, device=dev)
        for j, i in enumerate(idx):
            toks[j, : lens[i]] = torch.from_numpy(seqs[i].astype(np.int64))
        pos = torch.arange(T, device=dev)[None].expand(B, T)
        mask = torch.ones(T, T, dtype=torch.bool, device=dev).tril()[None, None]
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            _, got = target.forward(toks, pos, mask, taps=taps, upto=max(taps))  # fp32 (TF32 matmuls on a GPU)
        f = torch.cat([g.float() for g in got], -1).to(torch.float16)
        for j, i in enumerate(idx):
            feats[offsets[i] : offsets[i] + lens[i]] = f[j, : lens[i]]
        s += B
        done += int(lens[idx].sum())
    return feats, torch.from_numpy(offsets).to(dev), torch.from_numpy(lens).to(dev)


# --------------------------------------------------------------------------------------------
# 3. the drafter (same parameter names as d2sd_mlx.drafter)
# --------------------------------------------------------------------------------------------
class RMSNorm(torch.nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) * self.weight.to(x.dtype)


def rope(x, pos, inv):
    ang = pos.double()[..., None] * inv
    cos = torch.cat([ang.cos(), ang.cos()], -1).to(x.dtype)[:, None]
    sin = torch.cat([ang.sin(), ang.sin()], -1).to(x.dtype)[:, None]
    a, b = x.chunk(2, dim=-1)
    return x * cos + torch.cat([-b, a], -1) * sin


class Attn(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        h, hd = c["hidden_size"], c["head_dim"]
        self.nh, self.nkv, self.hd = c["num_attention_heads"], c["num_key_value_heads"], hd
        self.q_proj = torch.nn.Linear(h, self.nh * hd, bias=False)
        self.k_proj = torch.nn.Linear(h, self.nkv * hd, bias=False)
        self.v_proj = torch.nn.Linear(h, self.nkv * hd, bias=False)
        self.o_proj = torch.nn.Linear(self.nh * hd, h, bias=False)
        self.q_norm = RMSNorm(hd, c["rms_norm_eps"])
        self.k_norm = RMSNorm(hd, c["rms_norm_eps"])

    def kv(self, x, pos, inv):
        B, T, _ = x.shape
        k = self.k_norm(self.k_proj(x).view(B, T, self.nkv, self.hd)).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        return rope(k, pos, inv), v

    def forward(self, x, pos, ctx_k, ctx_v, mask, inv):
        B, T, _ = x.shape
        q = rope(self.q_norm(self.q_proj(x).view(B, T, self.nh, self.hd)).transpose(1, 2), pos, inv)
        kb, vb = self.kv(x, pos, inv)
        rep = self.nh // self.nkv
        k = torch.cat([ctx_k, kb], 2).repeat_interleave(rep, 1)
        v = torch.cat([ctx_v, vb], 2).repeat_interleave(rep, 1)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.o_proj(o.transpose(1, 2).reshape(B, T, -1))


class Layer(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attn(c)
        self.mlp = torch.nn.Module()
        h, m = c["hidden_size"], c["intermediate_size"]
        self.mlp.gate_proj = torch.nn.Linear(h, m, bias=False)
        self.mlp.up_proj = torch.nn.Linear(h, m, bias=False)
        self.mlp.down_proj = torch.nn.Linear(m, h, bias=False)
        self.input_layernorm = RMSNorm(h, c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(h, c["rms_norm_eps"])

    def forward(self, x, pos, ctx, ctx_pos, mask, inv):
        ck, cv = self.self_attn.kv(ctx, ctx_pos, inv)
        h = x + self.self_attn(self.input_layernorm(x), pos, ck, cv, mask, inv)
        g = self.post_attention_layernorm(h)
        return h + self.mlp.down_proj(F.silu(self.mlp.gate_proj(g)) * self.mlp.up_proj(g))


class Drafter(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        n_taps = len(c["dflash_config"]["target_layer_ids"])
        self.fc = torch.nn.Linear(n_taps * c["hidden_size"], c["hidden_size"], bias=False)
        self.hidden_norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.layers = torch.nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        hd = c["head_dim"]
        self.register_buffer("inv", 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd)), persistent=False)

    def forward(self, block, pos, feats, ctx_pos, mask):
        ctx = self.hidden_norm(self.fc(feats))
        h = block
        for layer in self.layers:
            h = layer(h, pos, ctx, ctx_pos, mask, self.inv)
        return self.norm(h)


def drafter_config(tcfg: dict, layers: int, gamma: int, taps: list[int], mask_id: int, role: str,
                   draft_vocab: int) -> dict:
    """The z-lab config.json layout, as d2sd_mlx.drafter.DrafterConfig.to_dict writes it."""
    hd = tcfg.get("head_dim") or tcfg["hidden_size"] // tcfg["num_attention_heads"]
    return {
        "architectures": ["DFlashDraftModel"], "model_type": "qwen3", "hidden_size": tcfg["hidden_size"],
        "num_hidden_layers": layers, "num_attention_heads": tcfg["num_attention_heads"],
        "num_key_value_heads": tcfg["num_key_value_heads"], "head_dim": hd,
        "intermediate_size": tcfg["intermediate_size"], "vocab_size": tcfg["vocab_size"],
        "rms_norm_eps": tcfg["rms_norm_eps"], "rope_theta": float(tcfg.get("rope_theta", 10000.0)),
        "rope_scaling": None, "max_position_embeddings": tcfg.get("max_position_embeddings", 8192),
        "block_size": gamma, "num_target_layers": tcfg["num_hidden_layers"],
        "dflash_config": {"mask_token_id": mask_id, "target_layer_ids": list(taps)},
        "training_mode": role, "draft_vocab_size": draft_vocab,
    }


# --------------------------------------------------------------------------------------------
# training blocks (d2sd_mlx/train/blocks.py, vectorised over a batch on the device)
# --------------------------------------------------------------------------------------------
def make_batch(seq_idx, data, args, objective, gen, remap):
    dev = data["tokens"].device
    lens = data["lens"][seq_idx].clamp(max=args.max_ctx)
    B, Tm = len(seq_idx), int(lens.max())
    ar = torch.arange(Tm, device=dev)
    flat = (data["offsets"][seq_idx][:, None] + torch.minimum(ar[None], lens[:, None] - 1))  # [B, Tm]
    toks = data["tokens"][flat]
    lm = data["loss_mask"][flat] & (ar[None] < lens[:, None])
    feats = data["feats"][flat]  # [B, Tm, F] fp16
    # anchors a with a+1 supervised
    valid = torch.zeros(B, Tm, dtype=torch.bool, device=dev)
    valid[:, :-1] = lm[:, 1:]
    A = args.anchors
    score = torch.rand(B, Tm, generator=gen, device=dev)
    score = torch.where(valid, score, torch.full_like(score, -1.0))
    sc, anchors = score.topk(min(A, Tm), dim=1)
    a_ok = sc >= 0
    A = anchors.shape[1]
    g = args.block_size
    k = torch.arange(g, device=dev)
    pos = anchors[:, :, None] + k  # [B, A, g]
    inside = pos < lens[:, None, None]
    src = torch.minimum(pos, lens[:, None, None] - 1)
    labels = torch.gather(toks, 1, src.view(B, -1)).view(B, A, g)
    sup = inside & torch.gather(lm, 1, src.view(B, -1)).view(B, A, g) & a_ok[:, :, None]
    if objective == "dflash":
        prefix = torch.zeros(B, A, dtype=torch.long, device=dev)
    else:
        ls = torch.arange(args.min_prefix, g - 1, device=dev)
        p = args.beta ** ls.double()
        prefix = ls[torch.multinomial((p / p.sum()).float(), B * A, replacement=True, generator=gen)].view(B, A)
    clean = k[None, None] <= prefix[:, :, None]
    block = torch.where(clean & inside, labels, torch.full_like(labels, args.mask_token_id))
    block[:, :, 0] = torch.gather(toks, 1, anchors)
    w = torch.exp(-(k[None, None] - prefix[:, :, None] - 1).double() / args.tau).float()
    w = torch.where(~clean & sup, w, torch.zeros_like(w))
    rl = remap[labels]
    w = torch.where(rl >= 0, w, torch.zeros_like(w))
    N = A * g
    q_block = torch.arange(A, device=dev).repeat_interleave(g)
    ctx_vis = ar[None, None, :] < anchors.repeat_interleave(g, 1)[:, :, None]  # [B, N, Tm]
    own = (q_block[:, None] == q_block[None, :])[None].expand(B, N, N)
    mask = torch.cat([ctx_vis, own], -1)[:, None]
    return dict(block=block.view(B, N), pos=pos.view(B, N), feats=feats, ctx_pos=ar[None].expand(B, Tm),
                mask=mask, labels=rl.clamp(min=0).view(-1), w=w.view(-1))


@torch.no_grad()
def validate(drafter, data, val_idx, head_rows, remap, scale, args, objective, emb):
    """Weighted loss and accuracy on the held-out answers (the same anchors and prefixes every time)."""
    dev = emb.device
    gen = torch.Generator(device=dev)
    gen.manual_seed(1234)
    was = drafter.training
    drafter.eval()
    tl = tw = ta = 0.0
    for s in range(0, len(val_idx), args.batch_seqs):
        b = make_batch(val_idx[s : s + args.batch_seqs], data, args, objective, gen, remap)
        sel = b["w"] > 0
        if not bool(sel.any()):
            continue
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda" or args.cpu_bf16):
            h = drafter(emb[b["block"]], b["pos"], b["feats"].float() / scale, b["ctx_pos"], b["mask"])
            logits = (h.reshape(-1, h.shape[-1])[sel] @ head_rows.T.to(h.dtype)).float()
        ws, lab = b["w"][sel], b["labels"][sel]
        tl += float((F.cross_entropy(logits, lab, reduction="none") * ws).sum())
        ta += float(((logits.argmax(-1) == lab).float() * ws).sum())
        tw += float(ws.sum())
    drafter.train(was)
    return tl / max(tw, 1e-9), ta / max(tw, 1e-9)


def train(drafter, data, head_rows, remap, scale, args, objective, budget_s, out_name, out_dir, vocab, emb, steps_hint):
    dev = emb.device
    opt = torch.optim.AdamW(drafter.parameters(), lr=args.lr, weight_decay=0.0, betas=(0.9, 0.95))
    gen = torch.Generator(device=dev)
    gen.manual_seed(args.seed + (0 if objective == "dflash" else 1))
    n = data["n_train"]
    val_idx = torch.arange(n, len(data["lens"]), device=dev)
    best = float("inf")

    def checkpoint():
        """Save the drafter; with a validation split only when its held-out loss is the best so far."""
        nonlocal best
        if len(val_idx) == 0:
            save_drafter(drafter, scale, out_dir, out_name, vocab)
            return
        vl, va = validate(drafter, data, val_idx, head_rows, remap, scale, args, objective, emb)
        kept = vl < best
        if kept:
            best = vl
            save_drafter(drafter, scale, out_dir, out_name, vocab)
        log(f"{objective}: step {step} held-out loss {vl:.4f} acc {va:.4f}" + (" (best: saved)" if kept else f" (best {best:.4f})"))
    step, ema = 0, None
    if len(val_idx):  # the starting point's held-out loss is the bar (an --init drafter's, so no step makes it worse)
        checkpoint()
    t_start = last_save = time.time()
    total = steps_hint
    warm = max(1, int(0.03 * total))
    perm = torch.randperm(n, generator=gen, device=dev)
    cursor = 0
    while True:
        el = time.time() - t_start
        if el > budget_s:
            break
        # re-estimate total steps from measured speed after 20 steps (lr schedule follows time)
        if step == 20:
            total = max(step + 1, int(budget_s / (el / step)))
            warm = max(1, int(0.03 * total))
            log(f"{objective}: {el / step * 1000:.0f} ms/step → about {total} steps")
        frac = min(1.0, el / budget_s) if step >= 20 else 0.0
        lr = args.lr * min(1.0, (step + 1) / warm) * (0.5 * (1 + math.cos(math.pi * frac)) if step >= warm else 1.0)
        lr = max(lr, args.lr * 0.02)
        for gp in opt.param_groups:
            gp["lr"] = lr
        if cursor + args.batch_seqs > n:
            perm = torch.randperm(n, generator=gen, device=dev)
            cursor = 0
        idx = perm[cursor : cursor + args.batch_seqs]
        cursor += args.batch_seqs
        b = make_batch(idx, data, args, objective, gen, remap)
        sel = b["w"] > 0
        if not bool(sel.any()):
            continue
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda" or args.cpu_bf16):
            x = emb[b["block"]]
            h = drafter(x, b["pos"], b["feats"].float() / scale, b["ctx_pos"], b["mask"])
            hs = h.reshape(-1, h.shape[-1])[sel]
            logits = (hs @ head_rows.T.to(hs.dtype)).float()
        ws = b["w"][sel]
        lab = b["labels"][sel]
        ce = F.cross_entropy(logits, lab, reduction="none")
        loss = (ce * ws).sum() / ws.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(drafter.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 50 == 0 or step == 1:
            acc = float(((logits.argmax(-1) == lab).float() * ws).sum() / ws.sum())
            lv = float(loss.detach())
            ema = lv if ema is None else 0.9 * ema + 0.1 * lv
            log(f"{objective}: step {step} loss {lv:.3f} (ema {ema:.3f}) acc {acc:.3f} lr {lr:.2e}")
        if time.time() - last_save > args.save_every:
            checkpoint()
            last_save = time.time()
    checkpoint()
    log(f"{objective}: {step} steps in {time.time() - t_start:.0f}s")
    return step


def token_dtype(vocab_size: int):
    """The id dtype of stored answers: uint16 where it fits, int32 past 65,536 (Qwen's 151k ids)."""
    return np.uint16 if vocab_size <= 1 << 16 else np.int32


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            h.update(chunk)
    return h.hexdigest()


def load_answers(sources: str, n_prompts: int, stage: Path, target_sha: str | None = None,
                 seed: int = 0) -> list[tuple[int, np.ndarray]]:
    """(prompt index, answer ids) pairs from comma-separated sources: an answers.npz (this script's,
    `lens` aligned with the prompts, -1 = none) or a folder of more_answers.py shards (checked against
    the staged prompt set and, given its sha256, the target). `SRC@N` takes a seeded random N of that
    source's answers (to weigh sources). A bad file is named before any compute."""
    pairs = []
    for src in [s for s in sources.split(",") if s]:
        src, cap = split_cap(src)
        path = Path(src)
        mine = []
        files = sorted(path.glob("shard-*[0-9].npz")) if path.is_dir() else [path]
        if path.is_dir():
            meta = path / "meta.json"
            want = (stage / "prompts.sha256").read_text().strip()
            info = json.loads(meta.read_text()) if meta.is_file() else {}
            got = info.get("prompts_sha256")
            if got != want:
                raise SystemExit(f"{meta}: made for prompt set {got}, not the staged {want}")
            if target_sha and info.get("target_sha256") not in (None, target_sha):
                raise SystemExit(f"{meta}: made by target {info['target_sha256']}, not {target_sha} (another model's answers)")
            if not files:
                raise SystemExit(f"{path}: no shard-*.npz answers")
        for f in files:
            try:
                a = np.load(f)
                lens, toks = a["lens"].astype(np.int64), a["tokens"]
                index = a["prompt_index"].astype(np.int64) if "prompt_index" in a else np.arange(len(lens))
            except Exception as e:  # truncated, not an npz, missing arrays
                raise SystemExit(f"{f}: not a readable answers file ({e})") from None
            if len(index) != len(lens):
                raise SystemExit(f"{f}: {len(index)} prompt indices for {len(lens)} answers")
            if int(np.maximum(lens, 0).sum()) != len(toks):
                raise SystemExit(f"{f}: lens add up to {int(np.maximum(lens, 0).sum())} tokens, it holds {len(toks)}")
            off = np.concatenate([[0], np.cumsum(np.maximum(lens, 0))])
            for j, i in enumerate(index):
                if lens[j] >= 0 and i < n_prompts:
                    mine.append((int(i), toks[off[j] : off[j + 1]].astype(np.int64)))
        if cap is not None and cap < len(mine):
            mine = [mine[j] for j in sorted(np.random.default_rng(seed).choice(len(mine), size=cap, replace=False))]
        pairs += mine
    return pairs


def split_cap(src: str) -> tuple[str, int | None]:
    """'runs/a@3000' -> ('runs/a', 3000); a source without '@N' -> (src, None)."""
    path, at, n = src.rpartition("@")
    if not at:
        return src, None
    if not n.isdigit() or int(n) == 0 or not path:
        raise SystemExit(f"--answers: {src!r}: expected SRC or SRC@N (N >= 1 answers of SRC)")
    return path, int(n)


def choose_answers(pairs, val_pairs, sample: int | None, val: int, seed: int):
    """The (prompt, answer) pairs a run uses, training ones first, and how many held-out ones end the list.

    Answers of one token are dropped. With `val_pairs`, `val` of them are held out and every training
    answer to a held-out prompt is left out (the source's other answers may train); otherwise `val` are
    split off the (sampled) training answers."""
    keep = [p for p in pairs if len(p[1]) > 1]
    held: list = []
    if val and val_pairs is not None:
        cand = [p for p in val_pairs if len(p[1]) > 1]
        held = [cand[j] for j in sorted(np.random.default_rng(seed + 1).permutation(len(cand))[:val])]
        held_prompts = {i for i, _ in held}
        keep = [p for p in keep if p[0] not in held_prompts]
    if sample and sample < len(keep):  # a seeded random subset (features of all may not fit in memory)
        keep = [keep[j] for j in sorted(np.random.default_rng(seed).choice(len(keep), size=sample, replace=False))]
    if val and val_pairs is None:
        out = set(np.random.default_rng(seed + 1).choice(len(keep), size=min(val, len(keep) // 2), replace=False).tolist())
        held = [keep[j] for j in sorted(out)]
        keep = [p for j, p in enumerate(keep) if j not in out]
    return keep + held, len(held)


def load_init(drafter, folder: Path, name: str, cfg: dict, scale, vocab) -> bool:
    """Continue from an earlier run's NAME-*.safetensors in `folder` (save_drafter's form); False if it has
    none. Its report.json config and draft vocabulary must be this run's: same recipe, same answers."""
    parts = sorted(folder.glob(f"{name}-*.safetensors"))
    if not parts:
        return False
    report = folder / "report.json"
    old = json.loads(report.read_text()).get("configs", {}).get(name) if report.is_file() else None
    if old != cfg:
        diff = sorted(k for k in set(cfg) | set(old or {}) if (old or {}).get(k) != cfg.get(k))
        raise SystemExit(f"{report}: the {name} config differs from this run's in {diff or 'everything'} "
                         "(pass the same --layers/--vp-layers/--block-size/--taps/--draft-vocab)")
    sd = {}
    for p in parts:
        sd.update(load_torch_file(str(p)))
    got = sd.pop("draft_vocab", None)
    if got is None or not np.array_equal(got.numpy(), vocab):
        raise SystemExit(f"{parts[0]}: its draft vocabulary differs from this run's (trained on other answers?)")
    sd = {k: v.float() for k, v in sd.items()}
    sd["fc.weight"] = sd["fc.weight"] * scale.float().cpu()[None, :]  # saved folded onto raw features
    dev = next(drafter.parameters()).device
    drafter.load_state_dict({k: v.to(dev) for k, v in sd.items()}, strict=True)
    return True


def save_drafter(drafter, scale, out_dir: Path, name: str, vocab=None, cap: int = 15_000_000) -> None:
    """bf16 weights in checkpoint form (fc folded back onto raw features), packed into files of at
    most `cap` bytes (a device's return limit) as NAME-0.safetensors, NAME-1…; the draft vocabulary
    (int32) rides in the first file."""
    sd = {k: v.detach().float().cpu() for k, v in drafter.state_dict().items()}
    sd["fc.weight"] = sd["fc.weight"] / scale.float().cpu()[None, :]
    files, cur, size = [], {}, 0
    for k in sorted(sd):
        t = sd[k].to(torch.bfloat16).contiguous()
        if cur and size + t.numel() * 2 > cap:
            files.append(cur)
            cur, size = {}, 0
        cur[k] = t
        size += t.numel() * 2
    files.append(cur)
    if vocab is not None:
        files[0]["draft_vocab"] = torch.from_numpy(vocab.astype(np.int32))
    for old in out_dir.glob(f"{name}-*.safetensors"):
        old.unlink()
    for i, part in enumerate(files):
        tmp = out_dir / f"{name}-{i}.tmp"
        save_file(part, str(tmp))
        tmp.replace(out_dir / f"{name}-{i}.safetensors")


# --------------------------------------------------------------------------------------------
def main(argv=None):
    global LOG
    ap = argparse.ArgumentParser(description="self-distil + train DFlash and VP drafters on a GPU")
    ap.add_argument("--stage", required=True)
    ap.add_argument("--target", required=True, help="target.safetensors (from gpu_stage.py)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--budget", type=float, default=480, help="total seconds for all stages")
    ap.add_argument("--gen-share", type=float, default=0.30)
    ap.add_argument("--vp-share", type=float, default=0.40, help="share of the training time for VP")
    ap.add_argument("--max-new", type=int, default=256)
    ap.add_argument("--gen-batch", type=int, default=1536)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--val", type=int, default=0, help="hold out this many answers; the drafters are saved only when "
                    "their loss on them is the best so far (checked every --save-every seconds and at the end)")
    ap.add_argument("--val-answers", default=None, help="take the --val answers from here (e.g. answers the --init "
                    "drafters never saw) instead of from --answers; answers to their prompts are left out of training")
    ap.add_argument("--save-every", type=float, default=90.0, help="seconds between checkpoints")
    ap.add_argument("--sample", type=int, default=None, help="train on a seeded random sample of this many answers")
    ap.add_argument("--taps", default="1,10,18,27")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--vp-layers", type=int, default=3)
    ap.add_argument("--block-size", type=int, default=8)
    ap.add_argument("--mask-token-id", type=int, default=16)
    ap.add_argument("--draft-vocab", type=int, default=8192)
    ap.add_argument("--anchors", type=int, default=64)
    ap.add_argument("--batch-seqs", type=int, default=64)
    ap.add_argument("--max-ctx", type=int, default=512)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--tau", type=float, default=7.0)
    ap.add_argument("--beta", type=float, default=0.9)
    ap.add_argument("--min-prefix", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--feat-tokens", type=int, default=65536, help="tokens per batch of the feature pass")
    ap.add_argument("--log", default=None, help="log file (default /tmp/gpu_distill.log)")
    ap.add_argument("--skip-ref", action="store_true", help="skip the reference check against MLX greedy")
    ap.add_argument("--answers", default=None, help="train on these answers instead of generating: comma-separated "
                    "answers.npz files and more_answers.py folders, each optionally SRC@N (a seeded N of its answers)")
    ap.add_argument("--init", default=None, help="an earlier run's --out folder: continue training its drafters "
                    "(same layers, taps and --draft-vocab; its draft vocabulary is kept, so new answers may be added)")
    ap.add_argument("--cpu-bf16", action="store_true", help="train in bf16 autocast on a CPU too (fast where the "
                    "CPU has AMX or AVX512-BF16; a GPU always does)")
    ap.add_argument("--feat-bf16", action="store_true", help="compute the tap features with bf16 matmuls "
                    "(default fp32, or TF32 on a GPU)")
    args = ap.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    LOG = open(args.log or "/tmp/gpu_distill.log", "a")
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    deadline_all = T0 + args.budget
    report = {"args": vars(args), "device": torch.cuda.get_device_name() if dev.type == "cuda" else "cpu",
              "torch": torch.__version__}
    stage = Path(args.stage)
    tcfg = json.loads((stage / "target_config.json").read_text())
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    w = load_target_weights(args.target)
    target = Target(w, tcfg, dev)
    del w
    log(f"target loaded on {report['device']}")

    pz = np.load(stage / "prompts.npz")
    offs = pz["offsets"]
    ids = pz["ids"]  # an NpzFile re-reads the array on every access: read it once
    prompts = [ids[offs[i] : offs[i + 1]] for i in range(len(offs) - 1)][: args.limit]
    eos = tcfg.get("eos_token_id", 2)
    eos = eos[0] if isinstance(eos, list) else eos

    # 1. answers
    target_sha = file_sha256(args.target)  # answer folders record theirs
    if args.answers:
        pairs = load_answers(args.answers, len(prompts), stage, target_sha, args.seed)
        log(f"answers: {len(pairs):,} from {args.answers}")
    else:
        ref = json.loads((stage / "ref.json").read_text()) if (stage / "ref.json").exists() and not args.skip_ref else []
        if ref:
            got = generate(target, [prompts[r["index"]] for r in ref], max(len(r["tokens"]) for r in ref), -1, 64, 1e18)
            match = [int(np.sum(np.cumprod(np.array(g[: len(r["tokens"])]) == np.array(r["tokens"])))) for g, r in zip(got, ref)]
            report["ref_match_prefix"] = match
            log(f"reference check: matching prefix lengths {match} of {[len(r['tokens']) for r in ref]}")
        t_gen = time.time()
        answers = generate(target, prompts, args.max_new, eos, args.gen_batch, T0 + args.budget * args.gen_share)
        n_ans = sum(a is not None for a in answers)
        ntok = sum(len(a) for a in answers if a is not None)
        report["generation"] = {"prompts": n_ans, "answer_tokens": ntok, "seconds": time.time() - t_gen,
                                "tok_s": ntok / (time.time() - t_gen)}
        log(f"generation: {n_ans} answers, {ntok} tokens, {ntok / (time.time() - t_gen):.0f} tok/s")
        lens = np.array([len(a) if a is not None else -1 for a in answers])
        tok_dtype = token_dtype(tcfg["vocab_size"])
        flat = np.concatenate([np.array(a, tok_dtype) for a in answers if a is not None] or [np.zeros(0, tok_dtype)])
        np.savez_compressed(out / "answers.npz", tokens=flat, lens=lens)
        pairs = [(i, np.array(a, np.int64)) for i, a in enumerate(answers) if a is not None]
    vpairs = load_answers(args.val_answers, len(prompts), stage, target_sha) if args.val and args.val_answers else None
    chosen, n_val = choose_answers(pairs, vpairs, args.sample, args.val, args.seed)
    log(f"training on {len(chosen) - n_val:,} answers" + (f", {n_val} held out" if n_val else "")
        + (f" (from {args.val_answers})" if vpairs is not None else ""))
    seqs = [np.concatenate([prompts[i], a]) for i, a in chosen]
    masks = [np.concatenate([np.zeros(len(prompts[i]), bool), np.ones(len(a), bool)]) for i, a in chosen]
    if not seqs:
        raise SystemExit("no answers to train on (generation budget too small?)")
    seqs = [s[: args.max_ctx] for s in seqs]
    masks = [m[: args.max_ctx] for m in masks]

    # 2. features
    torch.backends.cuda.matmul.allow_tf32 = True
    taps = [int(t) for t in args.taps.split(",")]
    t_feat = time.time()
    feats, offsets, lens_t = tap_features(target, seqs, taps, args.feat_tokens, args.feat_bf16)
    log(f"features: {feats.shape[0] / (time.time() - t_feat):.0f} tok/s")
    log(f"features: {feats.shape[0]} tokens x {feats.shape[1]} ({feats.numel() * 2 / 1e9:.1f} GB)")
    data = dict(tokens=torch.from_numpy(np.concatenate(seqs)).to(dev), loss_mask=torch.from_numpy(np.concatenate(masks)).to(dev),
                feats=feats, offsets=offsets, lens=lens_t, n_train=len(seqs) - n_val)
    # robust per-channel scale (d2sd_mlx.train.loop.feature_scale)
    sample = torch.cat([feats[offsets[i] : offsets[i] + min(512, int(lens_t[i]))].float() for i in range(min(64, len(seqs)))])
    scale = sample.abs().median(0).values.clamp(min=1e-3)

    # draft vocabulary: the N most frequent answer tokens
    V = tcfg["vocab_size"]
    n_fit = len(seqs) - n_val  # the vocabulary comes from the training answers only
    counts = np.bincount(np.concatenate([s[m] for s, m in zip(seqs[:n_fit], masks[:n_fit])]), minlength=V)
    vocab = np.sort(np.argsort(-counts, kind="stable")[: args.draft_vocab])
    if args.init:  # continuing: the drafters' output rows are fixed, so keep their vocabulary
        first = sorted(Path(args.init).glob("dflash-*.safetensors"))
        if not first:
            raise SystemExit(f"{args.init}: no dflash-*.safetensors to continue from")
        vocab = load_torch_file(str(first[0])).get("draft_vocab")
        if vocab is None or len(vocab) != args.draft_vocab:
            raise SystemExit(f"{first[0]}: no draft_vocab of {args.draft_vocab} ids (pass its --draft-vocab)")
        vocab = vocab.numpy().astype(np.int64)
    cover = counts[vocab].sum() / counts.sum()
    log(f"draft vocabulary: {len(vocab)} tokens cover {cover:.2%} of answer tokens")
    report["draft_vocab"] = {"size": len(vocab), "coverage": float(cover)}
    remap = torch.full((V,), -1, dtype=torch.long, device=dev)
    remap[torch.from_numpy(vocab).to(dev)] = torch.arange(len(vocab), device=dev)
    head_rows = target.head_w[torch.from_numpy(vocab).to(dev)].contiguous()
    emb = target.emb
    report["data"] = {"sequences": len(seqs), "held_out": n_val, "tokens": int(sum(len(s) for s in seqs)),
                      "answer_tokens": int(sum(m.sum() for m in masks))}

    # 3. drafters
    left = deadline_all - time.time() - 15
    t_vp = left * args.vp_share
    t_df = left - t_vp
    torch.manual_seed(args.seed)
    dcfg = drafter_config(tcfg, args.layers, args.block_size, taps, args.mask_token_id, "dflash", len(vocab))
    drafter = Drafter(dcfg).to(dev)
    with torch.no_grad():
        drafter.norm.weight.copy_(target.norm)
    init = Path(args.init) if args.init else None
    if init is not None:
        if not load_init(drafter, init, "dflash", dcfg, scale, vocab):
            raise SystemExit(f"{init}: no dflash-*.safetensors to continue from")
        log(f"dflash: continuing from {init}")
        report["init"] = str(init)
    report["configs"] = {"dflash": dcfg}
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    steps_df = train(drafter, data, head_rows, remap, scale, args, "dflash", t_df, "dflash", out, vocab, emb, 5000)
    report["dflash"] = {"steps": steps_df, "seconds": t_df, "layers": args.layers}
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")

    vcfg = drafter_config(tcfg, args.vp_layers, args.block_size, taps, args.mask_token_id, "vp_drafter", len(vocab))
    vp = Drafter(vcfg).to(dev)
    if init is not None and load_init(vp, init, "vp", vcfg, scale, vocab):
        log(f"vp: continuing from {init}")
    else:
        src = drafter.state_dict()
        missing = vp.load_state_dict({k: v for k, v in src.items() if not k.startswith("layers.") or int(k.split(".")[1]) < args.vp_layers}, strict=False)
        log(f"vp: warm start from the DFlash drafter's first {args.vp_layers} layers ({missing})")
    report["configs"]["vp"] = vcfg
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    t_vp = deadline_all - time.time() - 10
    steps_vp = train(vp, data, head_rows, remap, scale, args, "vp", t_vp, "vp", out, vocab, emb, 3000)
    report["vp"] = {"steps": steps_vp, "seconds": t_vp, "layers": args.vp_layers}
    report["total_seconds"] = time.time() - T0
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    log("done")


if __name__ == "__main__":
    sys.exit(main())
