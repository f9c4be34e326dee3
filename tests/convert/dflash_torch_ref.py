"""A PyTorch reference of the DFlash drafter, written from dflash.md §1 (not from any codebase).

Qwen3-style pre-norm layers (RMSNorm in fp32, GQA attention with per-head q_norm/k_norm, SwiGLU
MLP); the target's tap features (concatenated) are fused by fc + hidden_norm into a context that
is injected in every layer as extra keys/values (k_proj → k_norm → RoPE, v_proj), context first;
queries come from the block only; attention is non-causal (no mask); positions: context at
0..S-1, block at S..S+N-1; RoPE rotate-half; a final norm. No embedding or LM head.
Parameter names follow the z-lab checkpoint layout.
"""

import torch
from torch import nn


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (self.weight * xf).to(x.dtype)


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat([-b, a], dim=-1)


def rope(x, positions, theta):
    """x [B, H, T, D], positions [T] → rotate-half RoPE."""
    d = x.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    ang = positions.double()[:, None] * inv[None, :]
    emb = torch.cat([ang, ang], dim=-1)
    cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
    return x * cos + rotate_half(x) * sin


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, hd = c["hidden_size"], c["head_dim"]
        self.nh, self.nkv, self.hd, self.theta = c["num_attention_heads"], c["num_key_value_heads"], hd, c["rope_theta"]
        self.q_proj = nn.Linear(h, self.nh * hd, bias=False)
        self.k_proj = nn.Linear(h, self.nkv * hd, bias=False)
        self.v_proj = nn.Linear(h, self.nkv * hd, bias=False)
        self.o_proj = nn.Linear(self.nh * hd, h, bias=False)
        self.q_norm = RMSNorm(hd, c["rms_norm_eps"])
        self.k_norm = RMSNorm(hd, c["rms_norm_eps"])

    def heads(self, x, n):
        B, T, _ = x.shape
        return x.view(B, T, n, self.hd).transpose(1, 2)

    def forward(self, x, ctx, pos_ctx, pos_blk):
        q = rope(self.heads_norm(self.q_proj(x), self.nh, self.q_norm), pos_blk, self.theta)
        k_blk = rope(self.heads_norm(self.k_proj(x), self.nkv, self.k_norm), pos_blk, self.theta)
        k_ctx = rope(self.heads_norm(self.k_proj(ctx), self.nkv, self.k_norm), pos_ctx, self.theta)
        v = torch.cat([self.heads(self.v_proj(ctx), self.nkv), self.heads(self.v_proj(x), self.nkv)], dim=2)
        k = torch.cat([k_ctx, k_blk], dim=2)
        rep = self.nh // self.nkv
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        att = torch.softmax((q @ k.transpose(-1, -2)) / self.hd**0.5, dim=-1)  # no mask: non-causal
        o = (att @ v).transpose(1, 2).reshape(x.shape[0], x.shape[1], -1)
        return self.o_proj(o)

    def heads_norm(self, x, n, norm):
        B, T, _ = x.shape
        return norm(x.view(B, T, n, self.hd)).transpose(1, 2)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = nn.Linear(c["hidden_size"], c["intermediate_size"], bias=False)
        self.up_proj = nn.Linear(c["hidden_size"], c["intermediate_size"], bias=False)
        self.down_proj = nn.Linear(c["intermediate_size"], c["hidden_size"], bias=False)

    def forward(self, x):
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = MLP(c)
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])

    def forward(self, x, ctx, pos_ctx, pos_blk):
        h = x + self.self_attn(self.input_layernorm(x), ctx, pos_ctx, pos_blk)
        return h + self.mlp(self.post_attention_layernorm(h))


class DFlashRef(nn.Module):
    def __init__(self, c):
        super().__init__()
        n_taps = len(c["dflash_config"]["target_layer_ids"])
        self.fc = nn.Linear(n_taps * c["hidden_size"], c["hidden_size"], bias=False)
        self.hidden_norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.layers = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])

    def forward(self, block_embeds, ctx_feats):
        """block_embeds [1, N, H]; ctx_feats [1, S, n_taps*H] → final-normed hidden [1, N, H]."""
        S, N = ctx_feats.shape[1], block_embeds.shape[1]
        ctx = self.hidden_norm(self.fc(ctx_feats))
        pos_ctx, pos_blk = torch.arange(S), torch.arange(S, S + N)
        h = block_embeds
        for layer in self.layers:
            h = layer(h, ctx, pos_ctx, pos_blk)
        return self.norm(h)
