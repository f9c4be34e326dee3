"""The training loop: AdamW with warmup + cosine decay, clipping, checkpoints, resume, progress, dev α."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np
from mlx.utils import tree_flatten, tree_unflatten
from tqdm import tqdm

from ..atomic import atomic_dir, atomic_file, write_json
from ..drafter import DFlashDrafter, DrafterConfig, load_drafter, save_drafter
from ..errors import D2SDError
from .blocks import block_mask, make_blocks


@dataclass
class TrainConfig:
    objective: str = "dflash"  # "dflash" or "vp"
    steps: int = 1000
    batch_seqs: int = 4  # sequences per step
    anchors: int = 16  # blocks per sequence
    block_size: int = 16
    lr: float = 3e-4
    warmup: float = 0.04  # fraction of steps
    weight_decay: float = 0.0
    clip: float = 1.0
    tau: float = 7.0
    beta: float = 0.9
    min_prefix: int = 1  # VP: smallest visible prefix length l (the paper: 1)
    seed: int = 0
    save_every: int = 100
    eval_every: int = 0
    max_ctx: int = 512  # longest sequence used (longer ones are cut)
    train_vocab: int = 0  # >0: softmax over the N most frequent response tokens only (0 = full vocabulary)
    extra: dict = field(default_factory=dict)


def lr_at(step: int, cfg: TrainConfig) -> float:
    warm = max(1, int(cfg.warmup * cfg.steps))
    if step < warm:
        return cfg.lr * (step + 1) / warm
    t = (step - warm) / max(1, cfg.steps - warm)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


def make_batch(seqs, idx, cfg: TrainConfig, mask_id: int, rng, remap: np.ndarray | None = None, scale=None):
    """Pad B sequences' blocks and contexts to common sizes; returns mx arrays for one step."""
    parts = []
    for i in idx:
        s = seqs[i]
        T = min(len(s.tokens), cfg.max_ctx)
        b = make_blocks(s.tokens[:T], s.loss_mask[:T], cfg.anchors, cfg.block_size, mask_id, rng, cfg.objective, cfg.beta, cfg.tau, cfg.min_prefix)
        if b is not None:
            parts.append((s, T, b))
    if not parts:
        return None
    Tm = max(T for _, T, _ in parts)
    Nm = max(len(b.tokens) for _, _, b in parts)
    B = len(parts)
    tokens = np.zeros((B, Nm), np.int32)
    pos = np.zeros((B, Nm), np.int32)
    labels = np.zeros((B, Nm), np.int32)
    weights = np.zeros((B, Nm), np.float32)
    mask = np.zeros((B, 1, Nm, Tm + Nm), bool)
    feats = []
    for j, (s, T, b) in enumerate(parts):
        n = len(b.tokens)
        tokens[j, :n], pos[j, :n], labels[j, :n], weights[j, :n] = b.tokens, b.positions, b.labels, b.weights
        m = block_mask(b.anchors, T, cfg.block_size)
        mask[j, 0, :n, :T] = m[:, :T]
        mask[j, 0, :n, Tm : Tm + n] = m[:, T:]
        mask[j, 0, n:, Tm + n :] = True  # padding rows see each other (ignored by the loss)
        f = s.feats[:T]
        feats.append(mx.pad(f, [(0, Tm - T), (0, 0)]) if T < Tm else f)
    ctx_pos = mx.broadcast_to(mx.arange(Tm)[None], (B, Tm))
    if remap is not None:
        labels = remap[labels]
        weights = np.where(labels >= 0, weights, 0.0).astype(np.float32)
        labels = np.maximum(labels, 0)
    sel = np.nonzero(weights.reshape(-1) > 0)[0]
    if len(sel) == 0:
        return None
    return dict(sel=mx.array(sel),
        tokens=mx.array(tokens), positions=mx.array(pos), labels=mx.array(labels), weights=mx.array(weights),
        mask=mx.array(mask), feats=mx.stack(feats).astype(mx.float32) / (1.0 if scale is None else scale), ctx_positions=ctx_pos,
    )


def loss_fn(drafter: DFlashDrafter, target, batch, head=None):
    """Weighted mean cross-entropy over supervised block positions (Σ w·CE / Σ w).

    `head` = (W [V', H], labels already remapped to rows of W) restricts the softmax to a
    frequent-token vocabulary; None uses the target's full head.
    """
    emb = mx.stop_gradient(target.embed(batch["tokens"]))
    h = drafter.forward_train(emb, batch["positions"], batch["feats"], batch["ctx_positions"], batch["mask"])
    w = batch["weights"].reshape(-1)
    sel = batch["sel"]
    hs = h.reshape(-1, h.shape[-1])[sel]
    logits = (hs @ head.T if head is not None else target.head(hs)).astype(mx.float32)
    labels = batch["labels"].reshape(-1)[sel]
    ce = nn.losses.cross_entropy(logits, labels, reduction="none")
    ws = w[sel]
    return (ce * ws).sum() / ws.sum(), ((mx.argmax(logits, -1) == labels) * ws).sum() / ws.sum()


def new_drafter(meta: dict, layers: int, block_size: int, role: str, mask_id: int, target, seed: int) -> DFlashDrafter:
    t = target.model.args
    head_dim = getattr(t, "head_dim", None) or t.hidden_size // t.num_attention_heads
    cfg = DrafterConfig(
        hidden_size=t.hidden_size, num_hidden_layers=layers, num_attention_heads=t.num_attention_heads,
        num_key_value_heads=t.num_key_value_heads, intermediate_size=t.intermediate_size, vocab_size=target.vocab_rows,
        block_size=block_size, target_layer_ids=list(meta["taps"]), mask_token_id=mask_id,
        num_target_layers=target.num_layers, head_dim=head_dim, rms_norm_eps=t.rms_norm_eps,
        rope_theta=float(getattr(t, "rope_theta", 10000.0)), max_position_embeddings=target.max_context, role=role,
    )
    mx.random.seed(seed)
    d = DFlashDrafter(cfg)
    # Start the output in the target's final-norm profile: the shared head then sees hidden states
    # on the scale it was trained for (a small norm caps the logits and stalls learning).
    norm = target.inner.norm.weight
    if norm.shape == d.norm.weight.shape:
        d.norm.weight = mx.array(norm).astype(d.norm.weight.dtype)
    return d


def feature_scale(seqs, n: int = 64) -> mx.array:
    """Per-channel median |x| of the tap features (a robust scale, floored at 1e-3).

    Target residual streams carry a few "massive activation" channels (SmolLM2: RMS ~2000 against
    a median of ~10). Fed raw, they dominate fc's output after hidden_norm, every position looks
    alike and the drafter learns a unigram; Adam's per-weight steps undo any rescaled init at once.
    So training runs fc on features divided by this scale, and checkpoints fold the scale back
    into fc's columns: the saved drafter is the plain DFlash architecture on raw features.
    """
    f = np.concatenate([np.array(s.feats[:512].astype(mx.float32)) for s in seqs[:n]], axis=0)
    return mx.maximum(mx.array(np.median(np.abs(f), axis=0)), 1e-3)


class Folded:
    """Context manager: fc in checkpoint form (raw features) inside, training form outside."""

    def __init__(self, drafter: DFlashDrafter, scale: mx.array):
        self.drafter, self.scale = drafter, scale

    def __enter__(self):
        self.train_w = self.drafter.fc.weight
        self.drafter.fc.weight = self.train_w / self.scale[None, :]
        return self.drafter

    def __exit__(self, *exc):
        self.drafter.fc.weight = self.train_w


def unfold(drafter: DFlashDrafter, scale: mx.array) -> None:
    """A checkpoint-form drafter (raw features) → training form."""
    drafter.fc.weight = drafter.fc.weight * scale[None, :]


def train(target, seqs, meta: dict, out: Path, cfg: TrainConfig, drafter: DFlashDrafter, evaluate=None,
          fresh: bool = True) -> Path:
    """Train `drafter` in place; checkpoints go to out/latest (resumable).

    fresh: the drafter is newly initialised (its fc is taken as is in training form); False means
    it holds trained weights (a warm start) whose fc reads raw features.
    """
    out.mkdir(parents=True, exist_ok=True)
    scale_file = out / "feature_scale.safetensors"
    scale = mx.load(str(scale_file))["scale"] if scale_file.exists() else feature_scale(seqs)
    mx.save_safetensors(str(scale_file), {"scale": scale})
    state_file = out / "train_state.json"
    opt = optim.AdamW(learning_rate=cfg.lr, weight_decay=cfg.weight_decay)
    step = 0
    if state_file.exists():
        state = json.loads(state_file.read_text())
        prev = state.get("config", {})
        for key in ("objective", "block_size", "batch_seqs", "anchors", "steps", "train_vocab"):
            if prev.get(key) != getattr(cfg, key):
                raise D2SDError(f"{out}: cannot resume: checkpoint has {key}={prev.get(key)!r}, this run asks for {getattr(cfg, key)!r}")
        latest = out / "latest"
        loaded = load_drafter(latest)
        if loaded.config.draft_vocab_size and not drafter.config.draft_vocab_size:
            drafter.set_draft_vocab(loaded.draft_vocab)
        if loaded.config.to_dict() != drafter.config.to_dict():
            raise D2SDError(f"{latest}: cannot resume: its drafter config differs from this run's")
        drafter.update(loaded.parameters())
        opt_state = mx.load(str(out / "optimizer.safetensors"))
        opt.init(drafter.trainable_parameters())
        opt.state = tree_unflatten(list(opt_state.items()))
        step = state["step"]
        fresh = False
        print(f"resuming {out} at step {step}")
    if not fresh:
        unfold(drafter, scale)
    mask_id = drafter.config.mask_token_id
    order_rng = np.random.default_rng(cfg.seed)
    order = np.concatenate([order_rng.permutation(len(seqs)) for _ in range(cfg.steps * cfg.batch_seqs // len(seqs) + 2)])

    head, remap = None, None
    if cfg.train_vocab and not drafter.config.draft_vocab_size:
        counts = np.bincount(np.concatenate([s.tokens[s.loss_mask > 0] for s in seqs]), minlength=target.vocab_rows)
        keep = np.sort(np.argsort(-counts, kind="stable")[: cfg.train_vocab])
        drafter.set_draft_vocab(keep)  # the same vocabulary in training and in decoding
        print(f"draft vocabulary: {len(keep)} tokens covering {counts[keep].sum() / counts.sum():.2%} of response tokens")
    if drafter.config.draft_vocab_size:
        keep = np.array(drafter.draft_vocab)
        remap = np.full(target.vocab_rows, -1, np.int64)
        remap[keep] = np.arange(len(keep))
        head = target.head_rows(mx.array(keep))
        mx.eval(head)
    value_and_grad = nn.value_and_grad(drafter, lambda m, b: loss_fn(m, target, b, head))
    bar = tqdm(total=cfg.steps, initial=step, desc=cfg.objective, unit="step")
    log = open(out / "log.jsonl", "a")
    ema = None
    while step < cfg.steps:
        t0 = time.perf_counter()
        idx = order[step * cfg.batch_seqs : (step + 1) * cfg.batch_seqs]
        rng = np.random.default_rng([cfg.seed, step])  # per-step stream: a resumed run draws the same blocks
        batch = make_batch(seqs, idx, cfg, mask_id, rng, remap, scale)
        if batch is None:
            step += 1
            continue
        opt.learning_rate = lr_at(step, cfg)
        (loss, acc), grads = value_and_grad(drafter, batch)
        grads, norm = optim.clip_grad_norm(grads, cfg.clip)
        opt.update(drafter, grads)
        mx.eval(drafter.parameters(), opt.state, loss, acc)
        step += 1
        loss, acc = float(loss), float(acc)
        ema = loss if ema is None else 0.95 * ema + 0.05 * loss
        ntok = int(np.count_nonzero(np.array(batch["weights"])))
        dt = time.perf_counter() - t0
        rec = {"step": step, "loss": loss, "acc": acc, "lr": opt.learning_rate.item() if hasattr(opt.learning_rate, "item") else opt.learning_rate, "tok_s": ntok / dt}
        if cfg.eval_every and evaluate is not None and (step % cfg.eval_every == 0 or step == cfg.steps):
            with Folded(drafter, scale) as d:
                rec["dev_alpha"] = evaluate(d)
        log.write(json.dumps(rec) + "\n")
        log.flush()
        bar.set_postfix(loss=ema, acc=acc, tok_s=ntok / dt, **({"α": rec["dev_alpha"]} if "dev_alpha" in rec else {}),
                        refresh=False)
        bar.update(1)
        if step % cfg.save_every == 0 or step == cfg.steps:
            with Folded(drafter, scale) as d:
                checkpoint(d, opt, out, step, cfg)
    bar.close()
    drafter.fc.weight = drafter.fc.weight / scale[None, :]  # hand back the checkpoint form
    return out / "latest"


def checkpoint(drafter, opt, out: Path, step: int, cfg: TrainConfig) -> None:
    """Write latest/ (drafter folder), the optimizer state and train_state.json, atomically enough to resume."""
    with atomic_dir(out / "latest", force=True) as tmp:
        save_drafter(drafter, tmp)
    with atomic_file(out / "optimizer.safetensors") as tmp:
        mx.save_safetensors(str(tmp), dict(tree_flatten(opt.state)))
    write_json(out / "train_state.json", {"step": step, "config": asdict(cfg)})
