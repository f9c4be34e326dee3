"""More self-distilled answers, on any machine, in resumable shards (the data stage of a CPU round).

Round 1 trained its drafters for about 4 epochs on 20,480 greedy answers, and they fit those answers
far better than new ones (held-out loss 3.2 against 1.9 on training answers): the next round needs
more answers, not more steps. This script adds them, using gpu_distill.py's batched torch decoder:

- greedy (exact fp32, as round 1): one answer to each staged prompt that `--skip` does not answer yet;
- `--temp T --samples N`: N answers per prompt sampled from the target's own distribution (greedy
  gives one answer per prompt; sampling gives as many as wanted, and the drafters' labels stay the
  target's tokens); `--bf16` decodes with bf16 weights, 2.4x faster on a CPU with AMX;
- `--continue-from SRC`: greedy continuations of another folder's (sampled) answers, each cut at a
  seeded point: new greedy labels in contexts the prompt set alone cannot give (every staged prompt
  already has its one greedy answer). The stored answer is the kept prefix plus the continuation.

Each shard of `--shard-size` prompts is written to OUT/shard-NNNNN.npz (prompt_index, lens, tokens)
when it is done, with OUT/meta.json recording the prompt set, target and settings; a rerun with the
same arguments skips finished shards, so the work can be spread over several sittings.
`gpu_distill.py --answers runs/gpu1/answers.npz,OUT` trains on the old and new answers together.

    python scripts/more_answers.py --stage .stage_full --target .stage_full/target.safetensors \\
        --out runs/answers2 --skip runs/gpu1/answers.npz
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gpu_distill as G  # noqa: E402


def plan(n_prompts: int, skip: np.ndarray | None, samples: int, limit: int | None) -> np.ndarray:
    """The prompt index of every answer to make, in order (each prompt `samples` times in a row)."""
    idx = np.arange(n_prompts)
    if skip is not None:
        answered = np.zeros(n_prompts, bool)
        m = min(len(skip), n_prompts)
        answered[:m] = skip[:m] >= 0
        idx = idx[~answered]
    if limit is not None:
        idx = idx[:limit]
    return np.repeat(idx, samples)


def cut_points(pairs, seed: int, min_prefix: int = 8) -> list[tuple[int, np.ndarray]]:
    """(prompt index, kept prefix) for each source answer long enough to cut, in a seeded order; each is
    cut at a seeded point in [min_prefix, len - 4] so continuations start anywhere in an answer."""
    rng = np.random.default_rng(seed)
    out = []
    for j in rng.permutation(len(pairs)):
        i, ans = pairs[j]
        if len(ans) >= min_prefix + 4:
            out.append((int(i), ans[: int(rng.integers(min_prefix, len(ans) - 3))]))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stage", required=True, help="gpu_stage.py's folder (prompts.npz, target_config.json)")
    ap.add_argument("--target", required=True, help="target.safetensors (from gpu_stage.py)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--skip", default=None, help="an answers.npz whose answered prompts get no new greedy answer")
    ap.add_argument("--temp", type=float, default=0.0, help="0: greedy; > 0: sample at this temperature")
    ap.add_argument("--samples", type=int, default=1, help="answers per prompt (sampling only)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-new", type=int, default=256)
    ap.add_argument("--limit", type=int, default=None, help="at most this many prompts")
    ap.add_argument("--shard-size", type=int, default=256, help="answers per shard")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--budget", type=float, default=float("inf"), help="stop starting shards after this many seconds")
    ap.add_argument("--continue-from", default=None, metavar="SRC",
                    help="greedy continuations of SRC's answers (a more_answers.py folder), each cut at a seeded point")
    ap.add_argument("--bf16", action="store_true", help="decode with bf16 weights (about 2.4x faster on a CPU with "
                    "AMX; greedy answers then drift from fp32 ones at near-ties, so keep it for sampled answers)")
    args = ap.parse_args(argv)
    if args.continue_from and (args.samples > 1 or args.skip):
        raise SystemExit("--continue-from makes one continuation per SRC answer: --samples and --skip do not apply")
    if args.samples > 1 and args.temp <= 0:
        raise SystemExit("--samples > 1 needs --temp > 0 (greedy answers to one prompt are all the same)")
    t0 = time.time()
    stage, out = Path(args.stage), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    G.LOG = open(out / "log.txt", "a")

    target_sha = G.file_sha256(args.target)
    src = None  # a continuation run's cuts are a seeded order of its source's answers: a source that grows
    if args.continue_from:  # would reorder them under a resumed run, so its answer count is a setting
        n_prompts = len(np.load(stage / "prompts.npz")["offsets"]) - 1
        src = G.load_answers(args.continue_from, n_prompts, stage, target_sha)
    meta = {"prompts_sha256": (stage / "prompts.sha256").read_text().strip(), "target_sha256": target_sha,
            "temp": args.temp, "samples": args.samples, "seed": args.seed, "max_new": args.max_new,
            "skip": args.skip, "limit": args.limit, "shard_size": args.shard_size,
            **({"continue_from": args.continue_from, "continue_from_answers": len(src)} if src is not None else {}),
            "decoding": f"{'bf16' if args.bf16 else 'fp32'} torch, batched with a KV cache (gpu_distill.generate)"}
    mpath = out / "meta.json"
    if mpath.exists():
        old = json.loads(mpath.read_text())
        diff = sorted(k for k in meta if old.get(k) != meta[k])
        if diff:
            raise SystemExit(f"{mpath}: this folder holds answers made with other {diff}; use another --out")
    else:
        mpath.write_text(json.dumps(meta, indent=2) + "\n")

    tcfg = json.loads((stage / "target_config.json").read_text())
    pz = np.load(stage / "prompts.npz")
    offs, ids = pz["offsets"], pz["ids"]
    skip = np.load(args.skip)["lens"] if args.skip else None
    if src is not None:  # (prompt index, kept prefix) per answer to make
        cuts = cut_points(src, args.seed)[: args.limit]
        todo = np.array([i for i, _ in cuts], np.int64)
    else:
        cuts = None
        todo = plan(len(offs) - 1, skip, args.samples, args.limit)
    shards = [np.arange(s, min(s + args.shard_size, len(todo))) for s in range(0, len(todo), args.shard_size)]
    done = sum((out / f"shard-{k:05d}.npz").exists() for k in range(len(shards)))
    G.log(f"{len(todo):,} answers to make in {len(shards)} shards; {done} done already")

    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    target = G.Target(G.load_target_weights(args.target), tcfg, dev)
    if args.bf16:
        target.to_dtype(torch.bfloat16)
    eos = tcfg.get("eos_token_id", 2)
    eos = eos[0] if isinstance(eos, list) else eos
    tok_dtype = G.token_dtype(tcfg["vocab_size"])
    made = 0
    for k, rows in enumerate(shards):
        pidx = todo[rows]
        path = out / f"shard-{k:05d}.npz"
        if path.exists():
            continue
        if time.time() - t0 > args.budget:
            G.log(f"budget reached; {k} of {len(shards)} shards looked at")
            break
        gen = torch.Generator(device=dev)
        gen.manual_seed(args.seed * 1_000_003 + k)  # per shard, so a resumed run draws what a whole run would
        prompts = [ids[offs[i] : offs[i + 1]] for i in pidx]
        kept = [cuts[r][1] for r in rows] if cuts else [np.zeros(0, np.int64)] * len(rows)
        prompts = [np.concatenate([p, c.astype(p.dtype)]) for p, c in zip(prompts, kept)]
        t = time.time()
        answers = G.generate(target, prompts, args.max_new, eos, args.batch, float("inf"), args.temp, gen)
        answers = [c.tolist() + a for c, a in zip(kept, answers)]
        lens = np.array([len(a) for a in answers], np.int32)
        tmp = out / f"shard-{k:05d}.tmp.npz"
        np.savez(tmp, prompt_index=pidx.astype(np.int32), lens=lens, prefix_lens=np.array([len(c) for c in kept], np.int32),
                 tokens=np.concatenate([np.array(a, tok_dtype) for a in answers]))
        tmp.replace(path)
        new = int(lens.sum()) - sum(len(c) for c in kept)  # decoded here (a continuation's prefix was given)
        made += new
        G.log(f"shard {k + 1}/{len(shards)}: {len(pidx)} answers, {new:,} new tokens, "
              f"{new / (time.time() - t):.0f} tok/s; {made:,} tokens this run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
