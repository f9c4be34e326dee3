"""`python -m d2sd_mlx.bench`: every mode on a dev prompt set, in one process, as a table.

For each prompt the modes run back to back (so machine noise hits them alike); T=0 outputs are
checked against `ar` token for token. Reports α, decode tokens/s and the ratio to `ar`, per
mode and per category, as Markdown and JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from .api import stream_generate
from .errors import D2SDError
from .generate import prompt_ids
from .loading import load
from .train.data import read_prompts
from .train.progress import Progress
from .types import MODES

DEV_PROMPTS = Path(__file__).parent / "data" / "dev_prompts.jsonl"


def run_one(bundle, ids, mode, temp, max_tokens, seed, **kw):
    tokens, last = [], None
    for last in stream_generate(bundle, ids, mode=mode, max_tokens=max_tokens, temp=temp, seed=seed, **kw):
        tokens += last.tokens
    s = last.stats
    return {"tokens": tokens, "n": s.generation_tokens, "decode_s": s.generation_s, "lengths": s.accepted_lengths,
            "nodes": s.nodes_verified, "cycles": s.cycles, "draft_s": s.draft_s, "verify_s": s.verify_s}


def summarize(rows: list[dict]) -> dict:
    n = sum(r["n"] for r in rows)
    # decode time excludes the first token (it comes from the prefill in every mode)
    t = sum(r["decode_s"] for r in rows)
    lengths = [x for r in rows for x in r["lengths"]]
    cycles = sum(r["cycles"] for r in rows)
    return {
        "tokens": n,
        "tok_s": (n - len(rows)) / t if t > 0 else 0.0,
        "alpha": sum(lengths) / len(lengths) if lengths else 1.0,
        "nodes_per_cycle": sum(r["nodes"] for r in rows) / cycles if cycles else 1.0,
    }


def bench(bundle, prompts, modes, temps, max_tokens, seed=0, progress=True, **kw) -> dict:
    results = defaultdict(list)  # (mode, temp, category) -> rows
    mismatches = []
    bar = Progress(len(prompts) * len(modes) * len(temps), "bench") if progress else None
    for p in prompts:
        ids = prompt_ids(bundle, p["prompt"])
        for temp in temps:
            ref = None
            for mode in modes:
                r = run_one(bundle, ids, mode, temp, max_tokens, seed, **kw)
                results[(mode, temp, p.get("category", "all"))].append(r)
                if temp == 0:
                    if mode == "ar":
                        ref = r["tokens"]
                    elif ref is not None and r["tokens"] != ref:
                        mismatches.append({"id": p.get("id"), "mode": mode})
                if bar:
                    bar.update(1, mode=mode)
    if bar:
        bar.close()
    table = []
    cats = sorted({c for (_, _, c) in results} - {"all"})
    cats = cats if len(cats) > 1 else []
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
    return {"table": table, "t0_mismatches": mismatches, "prompts": len(prompts), "max_tokens": max_tokens}


def to_markdown(res: dict) -> str:
    lines = ["| T | category | mode | α | nodes/cycle | tokens/s | × ar |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for s in res["table"]:
        ratio = f"{s['vs_ar']:.2f}" if s["vs_ar"] else "–"
        lines.append(f"| {s['temp']:g} | {s['category']} | {s['mode']} | {s['alpha']:.2f} | {s['nodes_per_cycle']:.1f} | {s['tok_s']:.1f} | {ratio} |")
    mm = res["t0_mismatches"]
    lines.append("")
    lines.append(f"T=0 outputs identical to `ar` on every prompt: {'yes' if not mm else 'NO: ' + json.dumps(mm)}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m d2sd_mlx.bench", description=__doc__.splitlines()[0])
    p.add_argument("--model")
    p.add_argument("--drafter")
    p.add_argument("--vp-drafter")
    p.add_argument("--prompts", default=str(DEV_PROMPTS), help="JSONL with prompt and category fields")
    p.add_argument("--limit", type=int, default=None, help="use the first N prompts (spread over categories)")
    p.add_argument("--modes", default="ar,dflash,dflash2,d2sd")
    p.add_argument("--temps", default="0,1")
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--branches", type=int, default=4)
    p.add_argument("--max-nodes", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="bench", help="writes OUT.md and OUT.json")
    a = p.parse_args(argv)
    try:
        modes = [m for m in a.modes.split(",") if m]
        bad = [m for m in modes if m not in MODES]
        if bad:
            raise D2SDError(f"--modes: unknown mode(s) {bad} (choose from {', '.join(MODES)})")
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
    return 0 if not res["t0_mismatches"] else 1


if __name__ == "__main__":
    sys.exit(main())
