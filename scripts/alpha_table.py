"""Print α per mode for oracle, noisy-oracle (p=0.7) and random drafters on tiny random targets.

    python scripts/alpha_table.py     (from the repository root)
"""

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the project, and the tests' oracle drafters

from d2sd_mlx import Bundle, stream_generate  # noqa: E402
from d2sd_mlx.drafter import ROLE_VP  # noqa: E402
from d2sd_mlx.tiny import make_drafter, make_target, target_config  # noqa: E402
from oracle import OracleDrafter, greedy_reference  # noqa: E402

GAMMA, N, SEEDS = 8, 60, range(4)


def main():
    rows = {}
    for seed in SEEDS:
        for kind in ("llama", "qwen3"):
            cfg = target_config(kind, vocab=97, layers=3)
            target = make_target(cfg, seed=seed, scale=3.0)
            prompt = [3, 1, 4, 1, 5, 9][: 3 + seed]
            ref = greedy_reference(target, prompt, N + 2 * GAMMA)
            seq = prompt + ref
            drafters = {
                "oracle": (OracleDrafter(target, seq, GAMMA), OracleDrafter(target, seq, GAMMA)),
                "noisy oracle p=0.7": (OracleDrafter(target, seq, GAMMA, 0.7, seed), OracleDrafter(target, seq, GAMMA, 0.7, seed + 99)),
                "random": (make_drafter(cfg, block_size=GAMMA, seed=seed + 10), make_drafter(cfg, block_size=GAMMA, role=ROLE_VP, seed=seed + 20)),
            }
            for name, (d, v) in drafters.items():
                for mode in ("ar", "dflash", "dflash2", "d2sd"):
                    toks = []
                    for r in stream_generate(Bundle(target, d, v), prompt, mode=mode, max_tokens=N):
                        toks += r.tokens
                    assert toks == ref[:N], f"{name} {mode} not lossless"
                    rows.setdefault((name, mode), []).append(r.stats.alpha if mode != "ar" else 1.0)
    print(f"γ={GAMMA}, K=4, {N} tokens, {len(SEEDS) * 2} tiny targets (llama+qwen3); every run identical to greedy\n")
    print("| drafter | ar | dflash | dflash2 | d2sd |\n| --- | --- | --- | --- | --- |")
    for name in ("oracle", "noisy oracle p=0.7", "random"):
        print(f"| {name} | " + " | ".join(f"{np.mean(rows[(name, m)]):.2f}" for m in ("ar", "dflash", "dflash2", "d2sd")) + " |")


if __name__ == "__main__":
    main()
