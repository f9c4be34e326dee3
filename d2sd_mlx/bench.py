"""`python -m d2sd_mlx.bench`: every mode on a dev prompt set, in one process, as a table.

For each prompt the modes run back to back (so machine noise hits them alike); every output is
checked against `ar` token for token (at T>0 too: sampling is position-keyed, see sampling.py). Reports α, decode tokens/s and the ratio to `ar`, per
mode and per category, as Markdown and JSON.

A mode may name its budget: `d2sd-auto` / `d2sd-fixed` (likewise for dflash and dflash2; a bare
mode uses its default, auto for d2sd). `mlx-lm` is mlx-lm's own decode (`generate_step`) on the
same prompts, the yardstick for `ar` (which must not carry overhead: ≥ 0.95× of it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import mlx.core as mx
from tqdm import tqdm

from .api import encode_prompt, stream_generate
from .errors import D2SDError
from .loading import load
from .prompts import DEV_PROMPTS, read_prompts
from .types import BUDGETS, MODES

MLX_LM = "mlx-lm"


def parse_mode(name: str) -> tuple[str, str | None]:
    """'d2sd-auto' → ('d2sd', 'auto'); 'dflash' → ('dflash', None); 'mlx-lm' → ('mlx-lm', None)."""
    if name == MLX_LM:
        return name, None
    mode, _, budget = name.partition("-")
    if mode not in MODES or (budget and (budget not in BUDGETS or mode == "ar")):
        raise D2SDError(f"--modes: unknown mode {name!r} (choose from {', '.join(MODES)}, {MLX_LM}, "
                        f"or MODE-{'/'.join(BUDGETS)} for the speculative modes)")
    return mode, budget or None


def run_one(bundle, ids, mode, temp, max_tokens, seed, **kw):
    mode, budget = parse_mode(mode)
    if mode == MLX_LM:
        return run_mlx_lm(bundle, ids, temp, max_tokens, seed, kw.get("top_p", 0.0), kw.get("top_k", 0))
    tokens, last = [], None
    for last in stream_generate(bundle, ids, mode=mode, max_tokens=max_tokens, temp=temp, seed=seed, budget=budget, **kw):
        tokens += last.tokens
    s = last.stats
    return {"tokens": tokens, "n": s.generation_tokens, "decode_s": s.generation_s, "lengths": s.accepted_lengths,
            "nodes": s.nodes_verified, "cycles": s.cycles, "draft_s": s.draft_s, "verify_s": s.verify_s,
            "k_counts": dict(s.k_counts), "plain_steps": s.plain_steps}


def run_mlx_lm(bundle, ids, temp, max_tokens, seed, top_p=0.0, top_k=0):
    """mlx-lm's own decode loop on the same prompt, timed like ours (first token to last, EOS included)."""
    from mlx_lm.generate import generate_step
    from mlx_lm.sample_utils import make_sampler

    if seed is not None:
        mx.random.seed(seed)
    tok = bundle.tokenizer
    eos = set(getattr(tok, "eos_token_ids", ()) or ())
    tokens, t_first, t_last = [], None, None
    sampler = make_sampler(temp=temp, top_p=top_p, top_k=top_k)
    for y, _ in generate_step(mx.array(ids, dtype=mx.int32), bundle.target.model, max_tokens=max_tokens, sampler=sampler):
        t_last = time.perf_counter()
        t_first = t_first or t_last
        tokens.append(int(y))
        if tokens[-1] in eos:
            break
    return {"tokens": tokens, "n": len(tokens), "decode_s": t_last - t_first, "lengths": [], "nodes": 0, "cycles": 0,
            "draft_s": 0.0, "verify_s": 0.0, "k_counts": {}, "plain_steps": 0}


def summarize(rows: list[dict]) -> dict:
    n = sum(r["n"] for r in rows)
    # decode time excludes the first token (it comes from the prefill in every mode)
    t = sum(r["decode_s"] for r in rows)
    lengths = [x for r in rows for x in r["lengths"]]
    cycles = sum(r["cycles"] for r in rows)
    ks = defaultdict(int)
    for r in rows:
        for k, c in r.get("k_counts", {}).items():
            ks[int(k)] += c
    drafted = sum(ks.values())
    return {
        "tokens": n,
        "tok_s": (n - len(rows)) / t if t > 0 else 0.0,
        "alpha": sum(lengths) / len(lengths) if lengths else 1.0,
        "nodes_per_cycle": sum(r["nodes"] for r in rows) / cycles if cycles else 1.0,
        "k_per_cycle": sum(k * c for k, c in ks.items()) / drafted if drafted else 0.0,
        "plain_share": sum(r.get("plain_steps", 0) for r in rows) / cycles if cycles else 0.0,
    }


def bench(bundle, prompts, modes, temps, max_tokens, seed=0, progress=True, **kw) -> dict:
    results = defaultdict(list)  # (mode, temp, category) -> rows
    mismatches = []
    bar = tqdm(total=len(prompts) * len(modes) * len(temps), desc="bench", disable=not progress)
    for p in prompts:
        ids = encode_prompt(bundle, p["prompt"])
        for temp in temps:
            ref = None
            for mode in modes:
                r = run_one(bundle, ids, mode, temp, max_tokens, seed, **kw)
                results[(mode, temp, p.get("category", "all"))].append(r)
                # position-keyed sampling: at any T every mode emits ar's tokens (mlx-lm samples its own way)
                if mode == "ar":
                    ref = r["tokens"]
                elif ref is not None and (temp == 0 or mode != MLX_LM) and r["tokens"] != ref:
                    mismatches.append({"id": p.get("id"), "mode": mode, "temp": temp})
                bar.set_postfix_str(mode, refresh=False)
                bar.update(1)
    bar.close()
    table = []
    cats = sorted({c for (_, _, c) in results} - {"all"})
    cats = cats if len(cats) > 1 else []
    ar_vs_mlx_lm = {}
    for temp in temps:
        for cat in cats + ["all"]:
            base = None
            for mode in modes:
                rows = [r for (m, t, c), rs in results.items() if m == mode and t == temp and (cat == "all" or c == cat) for r in rs]
                if not rows:
                    continue
                s = summarize(rows)
                if mode == "ar":
                    base = s["tok_s"]
                s.update(mode=mode, temp=temp, category=cat, vs_ar=s["tok_s"] / base if base else None)
                table.append(s)
                if mode == MLX_LM and cat == "all" and base and s["tok_s"]:
                    ar_vs_mlx_lm[f"{temp:g}"] = base / s["tok_s"]
    return {"table": table, "mismatches": mismatches, "prompts": len(prompts), "max_tokens": max_tokens,
            "ar_vs_mlx_lm": ar_vs_mlx_lm, "budget_decision_ms": decision_ms()}


def decision_ms(gamma: int = 16, k_cap: int = 4, cycles: int = 60) -> float:
    """Median milliseconds of the budget's per-cycle decision (branch starts + what to keep) on synthetic
    confidences, for the 16×5 case (γ = 16, K = 4): it should stay well under a millisecond. Reported
    by the bench rather than asserted in the tests, where a loaded machine could fail it."""
    import numpy as np

    from .budget import WARMUP, Budget, Learned
    from .costmodel import CostModel
    from .policy import Candidates

    ns = [2, gamma, 3 * gamma]
    cal = {"step_s": 0.06, "verify": {"n": ns, "s": [0.059 + 0.0001 * n for n in ns]}, "dflash_s": 0.008,
           "vp": {"k": [1, 4], "s": [0.001 + 0.00002 * k * gamma for k in (1, 4)]}}
    budget = Budget(CostModel(cal, gamma), gamma, k_cap, learned=Learned(drafted=WARMUP))
    rng = np.random.default_rng(0)
    times = []
    for _ in range(cycles):
        conf = rng.uniform(0.3, 1.0, gamma - 1)
        spine = [1] + rng.integers(0, 50, gamma - 1).tolist()
        t0 = time.perf_counter()
        starts = budget.branch_starts(conf)
        t_plan = time.perf_counter() - t0
        rows = [spine] + [spine[: i + 1] + rng.integers(0, 50, gamma - 1 - i).tolist() for i, _ in starts]
        cands = Candidates(rows, ["dflash"] + [f"vp{i}" for i, _ in starts], [["dflash"] * (len(r) - 1) for r in rows],
                           conf, [rng.uniform(0.3, 1.0, gamma - 1 - i) for i, _ in starts])
        t0 = time.perf_counter()
        budget.keep(cands)
        times.append(t_plan + time.perf_counter() - t0)
    return float(np.median(times[10:]) * 1e3)


def alpha_ratios(table: list[dict]) -> list[str]:
    """Per temperature: α(d2sd)/α(dflash), and whether dflash2 falls between (same budget suffix)."""
    out = []
    for temp in sorted({s["temp"] for s in table}):
        alpha = {s["mode"]: s["alpha"] for s in table if s["temp"] == temp and s["category"] == "all"}
        for name, a in alpha.items():
            mode, budget = parse_mode(name)
            if mode != "d2sd":
                continue
            suffix = f"-{budget}" if budget else ""
            base = alpha.get(f"dflash{suffix}") or alpha.get("dflash")
            mid = alpha.get(f"dflash2{suffix}") or alpha.get("dflash2")
            if not base:
                continue
            line = f"T={temp:g}: α({name}) / α(dflash{suffix if f'dflash{suffix}' in alpha else ''}) = {a / base:.3f}"
            if mid:
                line += f"; dflash2 between: {'yes' if base <= mid <= a else 'no'} ({base:.3f} ≤ {mid:.3f} ≤ {a:.3f})"
            out.append(line)
    return out


def to_markdown(res: dict) -> str:
    lines = ["| T | category | mode | α | nodes/cycle | K/cycle | plain steps | tokens/s | × ar |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for s in res["table"]:
        ratio = f"{s['vs_ar']:.2f}" if s["vs_ar"] else "–"
        lines.append(f"| {s['temp']:g} | {s['category']} | {s['mode']} | {s['alpha']:.2f} | {s['nodes_per_cycle']:.1f} | "
                     f"{s['k_per_cycle']:.2f} | {s['plain_share']:.0%} | {s['tok_s']:.1f} | {ratio} |")
    mm = res["mismatches"]
    lines.append("")
    lines += alpha_ratios(res["table"])
    for temp, ratio in res.get("ar_vs_mlx_lm", {}).items():
        lines.append(f"T={temp}: `ar` runs at {ratio:.3f}× mlx-lm's own decode ({'ok' if ratio >= 0.95 else 'BELOW 0.95'})")
    lines.append(f"Outputs identical to `ar` on every prompt (every T): {'yes' if not mm else 'NO: ' + json.dumps(mm)}")
    if "budget_decision_ms" in res:
        ms = res["budget_decision_ms"]
        lines.append(f"Budget decision per cycle (γ=16, K=4, synthetic): {ms:.3f} ms median "
                     f"({'ok' if ms < 1.0 else 'OVER 1 ms'})")
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m d2sd_mlx.bench", description=__doc__.splitlines()[0])
    p.add_argument("--model", help="mlx-lm model folder or bundle folder (default: the embedded SmolLM2-135M-Instruct bundle)")
    p.add_argument("--drafter", help="DFlash drafter folder (default: the bundle's)")
    p.add_argument("--vp-drafter", help="VP drafter folder (default: the bundle's)")
    p.add_argument("--prompts", default=str(DEV_PROMPTS),
                   help="JSONL with prompt and category fields (default: the shipped dev prompts)")
    p.add_argument("--limit", type=int, default=None,
                   help="use the first N prompts, spread evenly over the categories (default: all)")
    p.add_argument("--modes", default=f"ar,{MLX_LM},dflash,d2sd-fixed,d2sd-auto",
                   help=f"comma-separated: {', '.join(MODES)}, {MLX_LM}, or MODE-auto / MODE-fixed; "
                        "ar is always added as the baseline (default: %(default)s)")
    p.add_argument("--temps", default="0,1", help="comma-separated sampling temperatures (default: %(default)s)")
    p.add_argument("--max-tokens", type=int, default=128, help="tokens generated per prompt (default: %(default)s)")
    p.add_argument("--branches", type=int, default=4, help="K: VP branches per cycle (default: %(default)s)")
    p.add_argument("--max-nodes", type=int, default=None, help="cap on tree nodes verified per cycle (default: none)")
    p.add_argument("--seed", type=int, default=0, help="random seed for the T > 0 runs (default: %(default)s)")
    p.add_argument("--out", default="bench", help="writes OUT.md and OUT.json (default: %(default)s)")
    return p


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    try:
        modes = [m for m in a.modes.split(",") if m]
        for m in modes:
            parse_mode(m)
        if "ar" not in modes:
            modes = ["ar"] + modes
        temps = [float(t) for t in a.temps.split(",")]
        prompts = read_prompts(a.prompts)
        if a.limit:
            by = defaultdict(list)
            for r in prompts:
                by[r.get("category", "all")].append(r)
            per = max(1, a.limit // len(by))
            prompts = [r for rs in by.values() for r in rs[:per]]
        bundle = load(a.model, a.drafter, a.vp_drafter)
        res = bench(bundle, prompts, modes, temps, a.max_tokens, a.seed, branches=a.branches, max_nodes=a.max_nodes)
    except D2SDError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    md = to_markdown(res)
    Path(a.out + ".md").write_text(md)
    Path(a.out + ".json").write_text(json.dumps(res, indent=2) + "\n")
    print(md)
    return 0 if not res["mismatches"] else 1


if __name__ == "__main__":
    sys.exit(main())
