"""One rank of a distributed test launch (tests/test_distributed.py starts one process per rank).

python dist_ranks.py SCENARIO OUT [ARG]
  modes: the modes on tiny targets split both ways (pipeline, then tensor parallel, in one launch);
         each rank writes {layout: tokens and accepted lengths} to OUT (rank 0) or rank<r>.json, and
         then the CLI's `main` runs with `--model ARG --pipeline` (rank 0's stdout is its output).
         The test runs `run_all(None, False)` in one process and compares;
  die:   rank 1 exits in the middle of a generation; rank 0 writes the error it got, and when;
  hang:  rank 1 stops answering in the middle of a generation (rank 0's watchdog must end it).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import d2sd_mlx  # noqa: E402,F401  (OpenBLAS before mlx.core)
import mlx.core as mx  # noqa: E402
from d2sd_mlx import Bundle, D2SDError, stream_generate  # noqa: E402
from d2sd_mlx import distributed  # noqa: E402
from d2sd_mlx.drafter import ROLE_VP  # noqa: E402
from d2sd_mlx.tiny import make_drafter, make_target, target_config  # noqa: E402
from oracle import OracleDrafter, greedy_reference  # noqa: E402

MODES = ("ar", "dflash", "dflash2", "d2sd")
PROMPT = [5, 17, 42, 8, 3, 9]
N = 16
GAMMA = 6
TAPS = [2, 0]
CASES = [("qwen3", 1, None), ("llama", 2, True)]  # (kind, seed, tied head): varied greedy text on both


def build(kind: str, seed: int, tie, group=None, pipeline: bool = False):
    """The tiny target (split over `group` if given) and mlx-lm's greedy text of the whole model."""
    cfg = target_config(kind, vocab=97, layers=3, heads=4, kv_heads=2, tie=tie)
    # a target split tensor-parallel is wrapped without the CPU layout (split applies it to its share)
    target = make_target(cfg, seed=seed, scale=3.0 if kind == "qwen3" else 1.0, cpu_layout=group is None)
    greedy = greedy_reference(target, PROMPT, N + 2 * GAMMA)
    if group is not None:
        target = distributed.split(target, group, pipeline)
    return cfg, target, greedy


def drafters(kind: str, cfg, target, greedy, seed: int):
    if kind == "random":  # taps on both pipeline ranks, out of layer order: the features must arrive in tap order
        return (make_drafter(cfg, block_size=GAMMA, seed=seed + 10, taps=TAPS),
                make_drafter(cfg, block_size=GAMMA, role=ROLE_VP, seed=seed + 20, taps=TAPS))
    seq = PROMPT + greedy
    return OracleDrafter(target, seq, GAMMA, 0.7, seed), OracleDrafter(target, seq, GAMMA, 0.7, seed + 99)


def log_features(drafter, log: list) -> None:
    """Record a fingerprint (sum, a column-weighted sum, count) of the target features each draft pass gets."""
    real = drafter.draft

    def draft(target, tokens, positions, ctx, cache, visible, select):
        if ctx is not None:
            f = ctx.astype(mx.float32)
            ramp = mx.arange(f.shape[-1], dtype=mx.float32) / f.shape[-1]
            log.append([float(mx.sum(f)), float(mx.sum(f * ramp)), int(f.size)])
        return real(target, tokens, positions, ctx, cache, visible, select)

    drafter.draft = draft


def generation(bundle, mode: str, budget: str = "fixed") -> dict:
    tokens, accepted, responses, feats = [], [], 0, []
    for d in {id(x): x for x in (bundle.drafter, bundle.vp_drafter) if x is not None}.values():
        if not isinstance(d, OracleDrafter):
            log_features(d, feats)
    for r in stream_generate(bundle, PROMPT, mode=mode, max_tokens=N, budget=budget):
        tokens += r.tokens
        accepted = list(r.stats.accepted_lengths)
        responses += 1
    return {"tokens": tokens, "accepted": accepted, "responses": responses, "feats": feats}


def run_all(group, pipeline: bool) -> dict:
    """The modes on both cases (`ar` once, the speculative modes with random and noisy-oracle drafters on
    qwen3, with the oracle on llama); the same calls on every rank (rank 0 alone gets responses)."""
    out = {}
    for kind, seed, tie in CASES:
        cfg, target, greedy = build(kind, seed, tie, group, pipeline)
        out[f"{kind}/greedy"] = greedy[:N]
        for dk in ("random", "oracle") if kind == "qwen3" else ("oracle",):
            for mode in MODES if dk == "oracle" else MODES[1:]:
                bundle = Bundle(target, *drafters(dk, cfg, target, greedy, seed))
                out[f"{kind}/{dk}/{mode}"] = generation(bundle, mode)
        bundle = Bundle(target, *drafters("random", cfg, target, greedy, seed))
        if kind == "qwen3":  # the budget's calibration and choices go through the split target too
            out[f"{kind}/random/d2sd-auto"] = {"tokens": generation(bundle, "d2sd", "auto")["tokens"]}
        try:  # rank 0 fails its checks: every rank must hear of it and stay in step
            generation(bundle, "d2sd", "no-such-budget")
            out[f"{kind}/error"] = None
        except D2SDError as e:
            out[f"{kind}/error"] = f"{type(e).__name__}: {e}"
    return out


def fail_after(target, passes: int, how: str, mark: Path) -> None:
    """Make this rank die (or hang) at its `passes`-th target pass, noting the time in `mark`."""
    real = target._pass
    count = [0]

    def _pass(*a, **k):
        count[0] += 1
        if count[0] == passes:
            mark.write_text(str(time.time()))
            if how == "die":
                os._exit(17)
            time.sleep(600)
        return real(*a, **k)

    target._pass = _pass


CLI_ARGS = ["--mode", "d2sd", "--temp", "0", "--max-tokens", "20", "--budget", "fixed", "--stats", "json",
            "--prompt", "What is the capital of France?"]


def main() -> None:
    scenario, out = sys.argv[1], Path(sys.argv[2])
    group = distributed.world()
    rank = group.rank()
    if scenario == "modes":
        result = {layout: run_all(group, layout == "pipeline") for layout in ("pipeline", "tensor")}
        (out if rank == 0 else out.parent / f"rank{rank}.json").write_text(json.dumps(result))
        from d2sd_mlx.generate import main as cli

        sys.exit(cli(["--model", sys.argv[3], "--pipeline", *CLI_ARGS]))
    pipeline = True
    kind, seed, tie = CASES[0]
    cfg, target, greedy = build(kind, seed, tie, group, pipeline)
    if rank == 1:
        fail_after(target, 6, scenario, out.parent / "failed_at")
    bundle = Bundle(target, *drafters("random", cfg, target, greedy, seed))
    try:
        generation(bundle, "d2sd")
        result = {"error": None}
    except D2SDError as e:
        result = {"error": f"{type(e).__name__}: {e}", "t": time.time()}
    if rank == 0:
        out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
