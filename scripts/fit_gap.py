"""How well trained drafters fit answers they were trained on, against answers they never saw.

For each gpu_distill.py output folder, the DFlash and VP drafters' weighted loss and accuracy (the
training objective, fixed anchors) on up to --n answers from each set:
- seen: answers the drafters were trained on (e.g. runs/gpu1/answers.npz);
- unseen: answers to other prompts from the same prompt generator (e.g. more_answers.py's folder);
- dev: a `python -m d2sd_mlx.train data` folder of answers to the handwritten dev prompts.
Features are computed here in fp32 (the dev folder's were stored by MLX). A large gap between seen
and unseen means the drafters memorised their answers: more answers help more than more steps.

    python scripts/fit_gap.py --stage .stage_full --target .stage_full/target.safetensors \\
        --seen runs/gpu1/answers.npz --unseen runs/answers2 --dev runs/devdata64 runs/gpu1
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gpu_distill as G  # noqa: E402


def answer_set(pairs, prompts, n, max_answer, seed):
    """Up to n (prompt + first max_answer answer tokens) sequences with their loss masks."""
    pick = np.random.default_rng(seed).permutation(len(pairs))[:n]
    seqs, masks = [], []
    for k in sorted(pick):
        i, a = pairs[k]
        a = a[:max_answer]
        seqs.append(np.concatenate([prompts[i].astype(np.int64), a]))
        masks.append(np.concatenate([np.zeros(len(prompts[i]), bool), np.ones(len(a), bool)]))
    return seqs, masks


def dev_set(folder: Path, n):
    """The first n sequences of a `d2sd_mlx.train data` folder, with their stored features."""
    from d2sd_mlx.train.data import load_dataset

    _, seqs = load_dataset(folder)
    seqs = seqs[:n]
    feats = torch.from_numpy(np.concatenate([np.asarray(q.feats).astype(np.float16) for q in seqs]))
    return [q.tokens.astype(np.int64) for q in seqs], [q.loss_mask.astype(bool) for q in seqs], feats


def as_data(seqs, masks, feats):
    lens = torch.tensor([len(s) for s in seqs])
    return dict(tokens=torch.from_numpy(np.concatenate(seqs)), loss_mask=torch.from_numpy(np.concatenate(masks)),
                feats=feats, offsets=torch.cat([torch.zeros(1, dtype=torch.long), lens.cumsum(0)]), lens=lens)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="gpu_distill.py output folders")
    ap.add_argument("--stage", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--seen", default=None, help="answers the drafters were trained on (answers.npz or folder)")
    ap.add_argument("--unseen", default=None, help="answers they were not trained on (answers.npz or folder)")
    ap.add_argument("--dev", default=None, help="a `d2sd_mlx.train data` folder")
    ap.add_argument("--taps", default="1,10,18,27", help="the drafters' target layers")
    ap.add_argument("--n", type=int, default=80)
    ap.add_argument("--max-answer", type=int, default=64, help="answer tokens per sequence (the dev data holds 64)")
    args = ap.parse_args(argv)
    torch.set_grad_enabled(False)
    stage = Path(args.stage)
    tcfg = json.loads((stage / "target_config.json").read_text())
    target = G.Target(G.load_target_weights(args.target), tcfg, torch.device("cpu"))
    pz = np.load(stage / "prompts.npz")
    offs, ids = pz["offsets"], pz["ids"]
    prompts = [ids[offs[i] : offs[i + 1]] for i in range(len(offs) - 1)]
    sets = {}
    for name, src in (("seen", args.seen), ("unseen", args.unseen)):
        if src:
            seqs, masks = answer_set(G.load_answers(src, len(prompts), stage), prompts, args.n, args.max_answer, 0)
            feats, _, _ = G.tap_features(target, seqs, [int(t) for t in args.taps.split(",")], 8192)
            sets[name] = as_data(seqs, masks, feats)
    if args.dev:
        sets["dev"] = as_data(*dev_set(Path(args.dev), args.n))
    print("| run | drafter | " + " | ".join(f"{s} loss | {s} acc" for s in sets) + " |")
    print("| --- | --- | " + " | ".join("--- | ---" for _ in sets) + " |")
    for run in args.runs:
        report = json.loads((Path(run) / "report.json").read_text())
        for name in ("dflash", "vp"):
            cfg = report.get("configs", {}).get(name)
            parts = sorted(Path(run).glob(f"{name}-*.safetensors"))
            if cfg is None or not parts:
                continue
            vocab = G.load_torch_file(str(parts[0]))["draft_vocab"].numpy().astype(np.int64)
            drafter = G.Drafter(cfg)
            n_feat = len(cfg["dflash_config"]["target_layer_ids"]) * cfg["hidden_size"]
            G.load_init(drafter, Path(run), name, cfg, torch.ones(n_feat), vocab)
            remap = torch.full((tcfg["vocab_size"],), -1, dtype=torch.long)
            remap[torch.from_numpy(vocab)] = torch.arange(len(vocab))
            head_rows = target.head_w[torch.from_numpy(vocab)]
            opts = SimpleNamespace(max_ctx=512, anchors=48, block_size=cfg["block_size"], min_prefix=1, beta=0.9, tau=7.0,
                                   mask_token_id=cfg["dflash_config"]["mask_token_id"], batch_seqs=16, cpu_bf16=False)
            cells = []
            for data in sets.values():
                data["n_train"] = 0
                loss, acc = G.validate(drafter, data, torch.arange(len(data["lens"])), head_rows, remap,
                                       torch.ones(1), opts, name, target.emb)
                cells.append(f"{loss:.3f} | {acc:.3f}")
            print(f"| {run} | {name} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
