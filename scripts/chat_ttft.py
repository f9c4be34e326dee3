"""Time to first token over a scripted multi-turn chat, with and without the prompt cache.

Each turn sends the whole conversation (as the app and the server's clients do); with a `PromptCache`
only what follows the part shared with the previous turn is prefilled. Both runs use the same mode
and T=0, so the replies must be identical: the script checks it.

    python scripts/chat_ttft.py --turns 6 --max-tokens 96 [--mode d2sd]
"""

from __future__ import annotations

import argparse
import time

import d2sd_mlx
from d2sd_mlx import PromptCache, stream_generate

QUESTIONS = [
    "Write a short story about a lighthouse keeper who finds a message in a bottle.",
    "Continue the story: what did the message say, and what did the keeper do next?",
    "Now retell the whole story as a poem of four stanzas.",
    "Summarise the story in three bullet points.",
    "Give the lighthouse keeper a name and describe their daily routine.",
    "Write a short letter the keeper sends back, in reply to the message.",
    "What is the moral of the story? Answer in two sentences.",
    "Suggest a title for the story and explain your choice.",
]


def chat(bundle, turns: int, max_tokens: int, mode: str, cache: PromptCache | None):
    messages, rows = [], []
    for q in QUESTIONS[:turns]:
        messages.append({"role": "user", "content": q})
        t0 = time.perf_counter()
        text, stats = "", None
        for r in stream_generate(bundle, messages, mode=mode, max_tokens=max_tokens, prompt_cache=cache):
            text += r.text
            stats = r.stats
        rows.append((stats.prompt_tokens, stats.cached_tokens, stats.ttft_s, time.perf_counter() - t0))
        messages.append({"role": "assistant", "content": text})
    return rows, [m["content"] for m in messages if m["role"] == "assistant"]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--turns", type=int, default=6)
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--mode", default=None)
    args = ap.parse_args(argv)
    bundle = d2sd_mlx.load()
    mode = args.mode or bundle.default_mode
    list(stream_generate(bundle, "Hi", mode=mode, max_tokens=2))  # warm-up (and the budget's calibration)
    off, replies_off = chat(bundle, args.turns, args.max_tokens, mode, None)
    on, replies_on = chat(bundle, args.turns, args.max_tokens, mode, PromptCache())
    print(f"mode {mode}, {args.max_tokens} tokens per reply, T=0\n")
    print("| turn | prompt tokens | cached | TTFT without cache (s) | TTFT with cache (s) | turn time without / with (s) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for i, ((p, _, t_off, w_off), (_, c, t_on, w_on)) in enumerate(zip(off, on), 1):
        print(f"| {i} | {p} | {c} | {t_off:.2f} | {t_on:.2f} | {w_off:.1f} / {w_on:.1f} |")
    same = replies_off == replies_on
    print(f"\nreplies identical with and without the cache: {'yes' if same else 'NO'}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
