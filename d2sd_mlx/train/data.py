"""Self-distilled training data: the target answers our prompts; we keep its tokens and tap features.

A dataset folder holds `meta.json` and shards `shard-00000.safetensors`, … each with the
concatenated `tokens` (int32), `loss_mask` (uint8, 1 on response tokens), `offsets` (int32,
sequence starts, one more than sequences) and `feats` (float16 [tokens, n_taps*H], the outputs
of the tap layers). Shards are written atomically, so an interrupted build resumes where it stopped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx
import numpy as np
from tqdm import tqdm

from ..atomic import atomic_file, write_json
from ..chat_template import prompt_ids
from ..errors import D2SDError
from ..prompts import as_prompt, read_prompts


def tap_features(target, seqs: list[list[int]], taps: list[int]) -> list[np.ndarray]:
    """Outputs of the tap layers at every position of every sequence (fp16): `Target.forward` over the
    whole sequence from an empty cache, the same pass that feeds the drafters when decoding."""
    out = []
    for seq in seqs:
        f = target.forward(mx.array(seq, dtype=mx.int32), target.make_cache(), taps=taps).feats.astype(mx.float16)
        out.append(np.array(f))
    return out


def build_dataset(target_path: str, prompts_file: str, out: str | Path, taps: list[int], max_new_tokens: int = 128,
                  chunk: int = 64, limit: int | None = None, batch_size: int = 32, reverse: bool = False) -> Path:
    """Generate responses with the target (greedy, batched) and store tokens + tap features.

    `reverse` walks the shards from the end, so a second process can share the work of a first.
    """
    from mlx_lm.generate import batch_generate

    from ..loading import load_target

    prompts = read_prompts(prompts_file)[:limit]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    target = load_target(target_path)
    bad = [t for t in taps if not 0 <= t < target.num_layers]
    if bad:
        raise D2SDError(f"--taps {bad} out of range for a target with {target.num_layers} layers")
    meta = {
        "target": str(Path(target_path).resolve()), "taps": list(taps), "hidden_size": target.hidden_size,
        "vocab_size": target.vocab_rows, "num_target_layers": target.num_layers,
        "max_new_tokens": max_new_tokens, "prompts_file": str(prompts_file), "chunk": chunk, "n_prompts": len(prompts),
    }
    meta_file = out / "meta.json"
    if meta_file.exists():
        old = json.loads(meta_file.read_text())
        for key in ("taps", "hidden_size", "vocab_size", "max_new_tokens", "chunk"):
            if old.get(key) != meta[key]:
                raise D2SDError(f"{out}: existing dataset has {key}={old.get(key)!r}, this run asks for {meta[key]!r}; use a new folder")
    write_json(meta_file, meta)

    tok = target.tokenizer
    eos = tok.eos_token_id
    n_chunks = (len(prompts) + chunk - 1) // chunk
    done = sum((out / f"shard-{c:05d}.safetensors").exists() for c in range(n_chunks))
    bar = tqdm(total=n_chunks, initial=done, desc="data", unit="shard")
    for c in (reversed(range(n_chunks)) if reverse else range(n_chunks)):
        shard = out / f"shard-{c:05d}.safetensors"
        if shard.exists():
            continue
        rows = prompts[c * chunk : (c + 1) * chunk]
        ids = [prompt_ids(tok, as_prompt(r)) for r in rows]
        res = batch_generate(target.model, tok, ids, max_tokens=max_new_tokens, return_token_ids=True,
                             completion_batch_size=batch_size)
        seqs, masks = [], []
        for p, r in zip(ids, res.token_ids):
            r = list(r) + ([eos] if len(r) < max_new_tokens and eos is not None else [])
            seqs.append(p + r)
            masks.append([0] * len(p) + [1] * len(r))
        feats = tap_features(target, seqs, taps)
        arrays = {
            "tokens": mx.array(np.concatenate(seqs).astype(np.int32)),
            "loss_mask": mx.array(np.concatenate(masks).astype(np.uint8)),
            "offsets": mx.array(np.cumsum([0] + [len(s) for s in seqs]).astype(np.int32)),
            "feats": mx.array(np.concatenate(feats)),
        }
        with atomic_file(shard) as tmp:
            mx.save_safetensors(str(tmp), arrays)
        bar.set_postfix(tokens=int(arrays["tokens"].shape[0]), refresh=False)
        bar.update(1)
    bar.close()
    return out


@dataclass
class Sequence:
    tokens: np.ndarray
    loss_mask: np.ndarray
    feats: mx.array  # [T, F] float16


def load_dataset(folder: str | Path) -> tuple[dict, list[Sequence]]:
    folder = Path(folder)
    meta_file = folder / "meta.json"
    if not meta_file.is_file():
        raise D2SDError(f"{folder}: not a dataset folder (no meta.json; build one with `python -m d2sd_mlx.train data`)")
    meta = json.loads(meta_file.read_text())
    seqs = []
    for shard in sorted(folder.glob("shard-*.safetensors")):
        if ".tmp" in shard.name:
            continue
        try:
            a = mx.load(str(shard))
        except Exception as e:
            raise D2SDError(f"{shard}: cannot read ({e})") from e
        toks, mask, offs = np.array(a["tokens"]), np.array(a["loss_mask"]), np.array(a["offsets"])
        for s, e in zip(offs[:-1], offs[1:]):
            seqs.append(Sequence(toks[s:e], mask[s:e], a["feats"][int(s) : int(e)]))
    if not seqs:
        raise D2SDError(f"{folder}: no shards")
    if not any(s.loss_mask[1:].any() for s in seqs):
        raise D2SDError(f"{folder}: the dataset has no response tokens to learn from")
    return meta, seqs
