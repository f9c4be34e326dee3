"""Where the second drafter wins or loses: branch tokens and tails at the true rejection point.

Offline T=0, on stored held-out answers (`python -m d2sd_mlx.train data`): for every anchor whose
DFlash row is rejected at draft position i (i accepted draft tokens, i ≤ γ-2), the branch at prefix i
is the one that can add tokens. This splits what the second drafter (the VP drafter in d2sd, the
DFlash drafter itself in dflash2) contributes there into
  - hit@K: one of the K branch tokens is the target's token (at i = 0 both modes branch on DFlash's
    own alternatives; at i ≥ 1 each ranks them after [anchor, t_1..t_i, MASK…]);
  - tail: tokens accepted after a correct branch token (re-drafted by the second drafter);
  - gain: tokens the best of the K branches at i adds over the DFlash row (were the branches placed
    at the true rejection point);
  - placed: how often the fixed tree's K branches (`tree.top_branches`, from DFlash's confidences)
    include one at i, and realized: the tokens the branches actually chosen add,
per rejection position i. Drafter passes only, no target passes.

    python scripts/vp_diagnose.py --data runs/devdata64 --limit 24 --k 4
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import d2sd_mlx  # noqa: F401 (OpenBLAS before MLX)
from d2sd_mlx.drafter import load_drafter
from d2sd_mlx.train.__main__ import _target
from d2sd_mlx.train.data import load_dataset
from d2sd_mlx.train.replay import draft_answer
from d2sd_mlx.tree import top_branches

BUNDLE = Path(d2sd_mlx.__file__).parent / "bundles" / "smollm2-135m-instruct"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--dflash", default=str(BUNDLE / "dflash"))
    ap.add_argument("--vp", default=str(BUNDLE / "vp"))
    ap.add_argument("--limit", type=int, default=24)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--max-new", type=int, default=64)
    args = ap.parse_args(argv)
    from tqdm import tqdm

    _, target = _target(None)
    dflash, vp = load_drafter(args.dflash), load_drafter(args.vp)
    gamma = min(dflash.config.block_size, vp.config.block_size)
    _, seqs = load_dataset(args.data)
    seqs = seqs[:: max(1, len(seqs) // args.limit)][: args.limit]
    stats = {name: {} for name in ("dflash", "vp")}  # name -> i -> list of (hit, tail, gain)
    for s in tqdm(seqs, desc="answers"):
        d = draft_answer(target, dflash, {"dflash": dflash, "vp": vp}, s.tokens, s.loss_mask, s.feats, gamma,
                         args.max_new, args.k)
        if d is None:
            continue
        for r, i in enumerate(d.spine):
            if i > gamma - 2:
                continue  # the whole row was accepted: no branch can add anything
            chosen = top_branches(d.conf[r], d.alt[r, :, : args.k], args.k)
            placed = any(b == i for b, _ in chosen)
            for name in stats:
                got = d.branch[name][r, i, : args.k]  # accepted lengths of the K branches at prefix i
                best = int(got.max())
                hit = best > i
                realized = max([int(d.branch[name][r, b, j - 1]) for b, j in chosen] + [int(i)]) - i
                stats[name].setdefault(int(i), []).append((hit, best - i - 1 if hit else 0, best - i, placed, realized))
    print(f"\n{len(seqs)} answers, γ = {gamma}, K = {args.k}; per rejection position i of the DFlash row:\n")
    print("| i | cycles | hit@K dflash2 | hit@K d2sd | tail dflash2 | tail d2sd | gain dflash2 | gain d2sd "
          "| placed | realized dflash2 | realized d2sd |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    tot = {n: [] for n in stats}
    for i in sorted(stats["dflash"]):
        a, b = np.array(stats["dflash"][i], float), np.array(stats["vp"][i], float)
        tot["dflash"].append(a)
        tot["vp"].append(b)
        ta = a[a[:, 0] > 0, 1].mean() if (a[:, 0] > 0).any() else 0.0
        tb = b[b[:, 0] > 0, 1].mean() if (b[:, 0] > 0).any() else 0.0
        print(f"| {i} | {len(a)} | {a[:, 0].mean():.3f} | {b[:, 0].mean():.3f} | {ta:.2f} | {tb:.2f} | "
              f"{a[:, 2].mean():.3f} | {b[:, 2].mean():.3f} | {a[:, 3].mean():.3f} | {a[:, 4].mean():.3f} | "
              f"{b[:, 4].mean():.3f} |")
    a, b = np.concatenate(tot["dflash"]), np.concatenate(tot["vp"])
    print(f"| all | {len(a)} | {a[:, 0].mean():.3f} | {b[:, 0].mean():.3f} | {a[a[:, 0] > 0, 1].mean():.2f} | "
          f"{b[b[:, 0] > 0, 1].mean():.2f} | {a[:, 2].mean():.3f} | {b[:, 2].mean():.3f} | {a[:, 3].mean():.3f} | "
          f"{a[:, 4].mean():.3f} | {b[:, 4].mean():.3f} |")


if __name__ == "__main__":
    main()
