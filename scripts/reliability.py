"""Reliability of the budget's node values: predicted vs accepted (a diagnostic, not part of the product).

    python scripts/reliability.py [--model M] [--mode d2sd] [--limit 8] [--trees full|auto]

Decodes some dev prompts and tabulates, per confidence bin, how often the verified nodes were
accepted (d2sd_mlx/calibration.py's tables): with `--trees full` every candidate is verified (free
costs), so the tables are not biased by the budget's own selection.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from d2sd_mlx.budget import Budget, Learned  # noqa: E402
from d2sd_mlx.costmodel import CostModel, load_or_calibrate  # noqa: E402
from d2sd_mlx.decode import DecodeOptions, decode  # noqa: E402
from d2sd_mlx.errors import D2SDError  # noqa: E402
from d2sd_mlx.loading import load  # noqa: E402
from d2sd_mlx.api import encode_prompt  # noqa: E402
from d2sd_mlx.prompts import DEV_PROMPTS, read_prompts  # noqa: E402

import mlx.core as mx  # noqa: E402  (after d2sd_mlx: it loads OpenBLAS on Linux first)

FREE = {"step_s": 1.0, "verify": {"n": [2, 16], "s": [1e-9, 1e-9]}, "dflash_s": 1e-9,
        "vp": {"k": [1, 4], "s": [1e-9, 1e-9]}}  # a cost model under which every node pays


def reliability(bundle, prompts: list, mode: str = "d2sd", max_tokens: int = 64, temp: float = 0.0,
                branches: int = 4, full: bool = True) -> str:
    """Decode `prompts` and report how well the node values predicted what the walk accepted.

    full=True verifies every candidate (free costs: the whole spine and K = `branches` full branches
    at the best anchors), so the tables are not biased by the selection; full=False uses the real
    budget (calibrated costs) and records only the nodes it chose to verify.
    """
    gamma = bundle.drafter.config.block_size
    second = bundle.vp_drafter if mode == "d2sd" else bundle.drafter if mode == "dflash2" else None
    k_cap = min(branches, gamma - 1) if second is not None else 0
    if full:
        cost, learned, learn = CostModel(FREE, gamma), Learned(), False
    else:
        cost = load_or_calibrate(bundle.target, bundle.drafter, second, gamma).model
        learned, learn = Learned(), True
    opts = DecodeOptions(gamma, branches, None, temp)
    tokens = cycles = 0
    for text in prompts:
        ids = encode_prompt(bundle, text)
        budget = Budget(cost, gamma, k_cap, greedy=temp == 0, learned=learned, learn_costs=learn)
        steps = decode(bundle.target, bundle.drafter, second, mx.array(ids, dtype=mx.int32), opts, budget)
        n = 0
        for step in steps:
            n += len(step.tokens)
            cycles += step.cycle is not None
            if n >= max_tokens:
                break
        steps.close()
        tokens += n
    head = (f"{len(prompts)} prompts, {tokens} tokens, {cycles} cycles, mode {mode}, T={temp:g}, "
            f"{'every candidate verified (K=' + str(k_cap) + ')' if full else 'trees chosen by the budget'}\n")
    if not full:
        head += f"\ncost model (ms): {json.dumps(cost.summary())}\n"
    return head + "\n" + Budget(cost, gamma, 0, greedy=temp == 0, learned=learned).report()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python scripts/reliability.py",
                                description="Reliability of the budget's node values: predicted vs accepted.")
    p.add_argument("--model", help="target or bundle folder (default: the embedded default bundle)")
    p.add_argument("--drafter")
    p.add_argument("--vp-drafter")
    p.add_argument("--mode", default="d2sd", choices=("dflash", "dflash2", "d2sd"))
    p.add_argument("--prompts", default=None, help="JSONL with a prompt field (default: the dev set)")
    p.add_argument("--limit", type=int, default=8)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--temp", type=float, default=0.0)
    p.add_argument("--branches", type=int, default=4)
    p.add_argument("--trees", choices=("full", "auto"), default="full",
                   help="full: verify every candidate (unbiased tables); auto: only what the budget picks")
    a = p.parse_args(argv)
    try:
        path = a.prompts or str(DEV_PROMPTS)
        rows = read_prompts(path)
        rows = rows[:: max(1, len(rows) // a.limit)][: a.limit]
        bundle = load(a.model, a.drafter, a.vp_drafter)
        print(reliability(bundle, [r["prompt"] for r in rows], a.mode, a.max_tokens, a.temp, a.branches, a.trees == "full"))
    except D2SDError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
