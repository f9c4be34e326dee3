"""`python -m d2sd_mlx.generate`: mlx_lm.generate-style CLI for D²SD decoding."""

from __future__ import annotations

import argparse
import json
import sys

from .api import check_options, encode_prompt, stream_generate
from .distributed import LeaderError, world
from .errors import D2SDError
from .loading import Bundle, load
from .types import BUDGETS, MODES



def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m d2sd_mlx.generate", description="Lossless D²SD speculative decoding with MLX.")
    p.add_argument("--model", help="mlx-lm model folder or bundle folder (default: embedded SmolLM2-135M-Instruct bundle)")
    p.add_argument("--drafter", help="DFlash drafter folder (default: the bundle's, if --model is a bundle)")
    p.add_argument("--vp-drafter", help="VP drafter folder (default: the bundle's, if --model is a bundle)")
    p.add_argument("--mode", choices=MODES, help="decoding mode (default: the best the loaded drafters allow)")
    p.add_argument("--prompt", "-p", default=None, help="prompt text, a user message in the chat template; '-' reads stdin (default: stdin when piped, else 'Hello!')")
    p.add_argument("--max-tokens", "-m", type=int, default=256,
                   help="most tokens to generate; generation also stops at EOS or a full context (default: %(default)s)")
    p.add_argument("--temp", type=float, default=0.0,
                   help="sampling temperature; 0 is greedy, and the output then equals --mode ar's (default: %(default)s)")
    p.add_argument("--top-p", type=float, default=0.0, help="nucleus sampling threshold in (0, 1]; 0 = off (default: %(default)s)")
    p.add_argument("--top-k", type=int, default=0, help="sample from the k likeliest tokens; 0 = off (default: %(default)s)")
    p.add_argument("--seed", type=int, default=None, help="random seed for sampling (default: none, a fresh draw)")
    p.add_argument("--block-size", type=int, default=None,
                   help="γ: tokens per draft row, anchor included, at most the drafter's trained γ (default: the drafter's)")
    p.add_argument("--branches", type=int, default=4,
                   help="K: VP branches per cycle (the cap on K with --budget auto) (default: %(default)s)")
    p.add_argument("--max-nodes", type=int, default=None, help="cap on tree nodes verified per cycle (default: no cap)")
    p.add_argument("--budget", choices=BUDGETS, default=None,
                   help="auto: pick the tree per cycle for tokens/s on this machine (default in d2sd mode); "
                        "fixed: the paper's fixed tree (default in dflash/dflash2)")
    p.add_argument("--system-prompt", default=None, help="system message put before the prompt (default: none)")
    p.add_argument("--ignore-chat-template", action="store_true", help="feed the prompt raw, without the chat template")
    p.add_argument("--stats", choices=("text", "json"), default=None, help="print stats at the end (default: none)")
    p.add_argument("--verbose", action="store_true", help="print tokens/s and α to stderr")
    p.add_argument("--pipeline", action="store_true",
                   help="under mlx.launch: split the target's layers over the ranks (default there: tensor "
                        "parallel); rank 0 alone prints")
    return p


def prompt_ids(bundle: Bundle, prompt: str, system: str | None = None, raw: bool = False) -> list[int]:
    """Apply the chat template when the tokenizer has one (like mlx_lm.generate)."""
    return encode_prompt(bundle, prompt, system=system, raw=raw)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    prompt = args.prompt
    try:  # options first: a typo is reported at once, not after a model load of several seconds
        check_options(max_tokens=args.max_tokens, block_size=args.block_size, branches=args.branches,
                      max_nodes=args.max_nodes, temp=args.temp, top_p=args.top_p, top_k=args.top_k)
    except D2SDError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    group = world()
    rank = group.rank() if group is not None else 0
    leader = rank == 0  # split over ranks (mlx.launch): rank 0 alone reads the prompt and prints
    try:
        bundle = load(args.model, args.drafter, args.vp_drafter, pipeline=args.pipeline, group=group)
        if not leader:
            prompt = ""
        elif prompt is None or prompt == "-":
            prompt = sys.stdin.read() if (prompt == "-" or not sys.stdin.isatty()) else "Hello!"
        ids = prompt_ids(bundle, prompt, args.system_prompt, args.ignore_chat_template) if leader else [0]
        last = None
        for r in stream_generate(
            bundle, ids, mode=args.mode, max_tokens=args.max_tokens, temp=args.temp, top_p=args.top_p,
            top_k=args.top_k, seed=args.seed, block_size=args.block_size, branches=args.branches,
            max_nodes=args.max_nodes, budget=args.budget,
        ):
            print(r.text, end="", flush=True)
            last = r
    except LeaderError:  # rank 0 failed and reported it; the other ranks stop quietly
        return 2
    except D2SDError as e:
        print(f"error: {e}" if leader else f"error: rank {rank}: {e}", file=sys.stderr)
        return 2
    if not leader:
        return 0
    print()
    if last is not None:
        s = last.stats
        if args.stats == "json":
            print(json.dumps(s.to_dict()))
        elif args.stats == "text" or args.verbose:
            print(
                f"[{s.mode}{' ' + s.budget if s.budget else ''}] prompt {s.prompt_tokens} tok, {s.prompt_tps:.1f} tok/s | "
                f"generated {s.generation_tokens} tok, {s.generation_tps:.1f} tok/s | α {s.alpha:.2f} over {s.cycles} cycles"
                + (f", {s.nodes_verified / s.cycles:.1f} nodes/cycle" if s.cycles else "")
                + (f", {s.plain_steps} plain steps" if s.plain_steps else "")
                + f" | peak {s.peak_memory_gb:.2f} GB",
                file=sys.stderr if args.verbose and args.stats is None else sys.stdout,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
