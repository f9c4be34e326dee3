"""Python API: `generate` and `stream_generate`."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from typing import Iterator

import mlx.core as mx

from . import budget as budgeted
from .chat_template import prompt_ids
from .decode import DecodeOptions, decode
from .errors import D2SDError
from .loading import Bundle, load
from .policy import FixedPolicy
from .prompt_cache import PromptCache
from .prompt_cache import supported as prompt_cache_supported
from .sampling import new_seed
from .types import BUDGETS, MODES, Response, Stats


def trained_block_size(bundle: Bundle, mode: str) -> int:
    """The largest γ the drafters of `mode` were trained for (the smaller of the two in d2sd mode)."""
    drafters = [bundle.drafter] + ([bundle.vp_drafter] if mode == "d2sd" else [])
    return min(d.config.block_size for d in drafters if d is not None)


def _check(bundle: Bundle, ids: list[int], mode: str, max_tokens: int, block_size: int, branches: int,
           max_nodes: int | None, temp: float, top_p: float, top_k: int, budget: str = "fixed") -> None:
    if mode not in MODES:
        raise D2SDError(f"unknown mode {mode!r} (choose from {', '.join(MODES)})")
    if budget not in BUDGETS:
        raise D2SDError(f"unknown budget {budget!r} (choose from {', '.join(BUDGETS)})")
    if mode != "ar" and bundle.drafter is None:
        raise D2SDError(f"mode {mode!r} needs a DFlash drafter (--drafter); none is loaded")
    if mode == "d2sd" and bundle.vp_drafter is None:
        raise D2SDError("mode 'd2sd' needs a VP drafter (--vp-drafter); use --mode dflash2 to reuse the DFlash drafter")
    if not ids:
        raise D2SDError("the prompt is empty")
    check_options(max_tokens=max_tokens, block_size=block_size, branches=branches, max_nodes=max_nodes,
                  temp=temp, top_p=top_p, top_k=top_k)
    if len(ids) >= bundle.max_context:
        raise D2SDError(f"the prompt has {len(ids)} tokens; the model's context is {bundle.max_context}")
    if mode != "ar":
        trained = trained_block_size(bundle, mode)
        if block_size > trained:
            raise D2SDError(
                f"block_size {block_size} is larger than the drafter's trained block size γ = {trained} "
                f"(tokens per draft row, anchor included); pass a block size from 2 to {trained}, or omit it"
            )


def check_options(*, max_tokens: int = 1, block_size: int | None = None, branches: int = 0,
                  max_nodes: int | None = None, temp: float = 0.0, top_p: float = 0.0, top_k: int = 0) -> None:
    """The checks that need no model (the CLI runs them before loading one)."""
    if max_tokens <= 0:
        raise D2SDError(f"max_tokens must be positive, got {max_tokens}")
    if block_size is not None and block_size < 2:
        raise D2SDError(f"block_size must be at least 2, got {block_size}")
    if branches < 0:
        raise D2SDError(f"branches must be >= 0, got {branches}")
    if max_nodes is not None and max_nodes < 1:
        raise D2SDError(f"max_nodes must be >= 1, got {max_nodes}")
    if not temp >= 0:  # also refuses NaN
        raise D2SDError(f"temperature must be >= 0, got {temp}")
    if not 0 <= top_p <= 1:
        raise D2SDError(f"top_p must be in [0, 1], got {top_p}")
    if top_k < 0:
        raise D2SDError(f"top_k must be >= 0, got {top_k}")


def encode_prompt(bundle: Bundle, prompt, *, system: str | None = None, raw: bool = False) -> list[int]:
    """Token ids for `prompt`, as `stream_generate` reads it.

    - a str is a user message: with a chat template (an instruct model) it is wrapped in the
      template with the assistant's turn opened, like `mlx_lm.generate`'s command line does;
      `system` adds a system message. raw=True (or a tokenizer without a template) encodes the
      text as is, for base models and hand-built prompts;
    - a list of {"role", "content"} dicts is a conversation: templated, or a plain transcript
      for a model without a template;
    - a list / mx.array of ints are token ids, used as they are.
    (`chat_template.prompt_ids` does the encoding.)
    """
    if isinstance(prompt, mx.array):
        return [int(t) for t in prompt.reshape(-1).tolist()]
    if isinstance(prompt, str) or (isinstance(prompt, (list, tuple)) and prompt and isinstance(prompt[0], dict)):
        if bundle.tokenizer is None:
            raise D2SDError("this target has no tokenizer: pass the prompt as token ids")
        return prompt_ids(bundle.tokenizer, prompt, system=system, raw=raw)
    return [int(t) for t in prompt]


NOTICE_AFTER_S = 1.5  # a first-use step that takes longer than this says what it is doing


@contextlib.contextmanager
def _slow_notice(what: str, after: float | None = None):
    """Print `what…` on stderr if the body is still running after `after` seconds, and its time at the end."""
    shown = threading.Event()

    def show():
        shown.set()
        print(f"[d2sd] {what}…", file=sys.stderr, flush=True)

    timer = threading.Timer(NOTICE_AFTER_S if after is None else after, show)
    timer.daemon = True
    t0 = time.perf_counter()
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        if shown.is_set():
            print(f"[d2sd] done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)


def stream_generate(bundle: Bundle, prompt, *, mode: str | None = None, max_tokens: int = 256,
                    temp: float = 0.0, top_p: float = 0.0, top_k: int = 0, seed: int | None = None,
                    block_size: int | None = None, branches: int = 4, max_nodes: int | None = None,
                    stop_on_eos: bool = True, budget: str | None = None, raw: bool = False,
                    system: str | None = None, prompt_cache: PromptCache | None = None) -> Iterator[Response]:
    """Yield one Response per cycle: the tokens it committed, their text and sources, running stats.

    prompt: text (a user message, put in the model's chat template unless raw=True; `system` adds a
    system message), a list of {"role", "content"} messages, or token ids (used as given); see
    `encode_prompt`.

    seed: at T>0 the token at each position is drawn with randomness from (seed, position) only, so the
    text depends on (prompt, seed, sampling settings) and not on the mode, budget or tree; without a
    seed one is drawn and reported in `stats.seed`.
    budget: "auto" (the default in d2sd mode) picks the tree per cycle for tokens/s, with `branches`
    as the cap on K; "fixed" (the default in dflash/dflash2) verifies the paper's fixed tree.
    The last response has finish_reason "stop" (end of sequence), "length" (max_tokens) or
    "context" (the model's context window is full: generation never runs past it).
    Stop early by closing the generator (or breaking out of the loop): decoding halts within one cycle.
    prompt_cache: a `PromptCache` shared by the calls of one conversation: each call prefills only what
    follows the longest prefix it shares with the previous call's prompt and output
    (`stats.cached_tokens`), and leaves its caches there for the next. Not with a split target.
    With a target split over ranks (`load` under `mlx.launch`), call it on every rank: rank 0 yields
    the responses, the other ranks run rank 0's target passes and yield nothing.
    """
    session = getattr(bundle.target, "session", None)
    if prompt_cache is not None and not prompt_cache_supported(bundle.target):
        raise D2SDError("prompt_cache is not supported with a target split over ranks")
    if session is not None and not bundle.target.in_session:  # split over ranks: d2sd_mlx/distributed
        args = dict(locals())
        del args["session"]
        yield from session(stream_generate(**args))
        return
    mode = mode or bundle.default_mode
    ids = encode_prompt(bundle, prompt, system=system, raw=raw)
    if block_size is None:
        block_size = bundle.drafter.config.block_size if bundle.drafter is not None else 16
    budget = budget or ("auto" if mode == "d2sd" else "fixed")
    _check(bundle, ids, mode, max_tokens, block_size, branches, max_nodes, temp, top_p, top_k, budget)
    block_size = min(block_size, max(2, bundle.max_context - len(ids)))
    if seed is None:
        seed = new_seed()
    opts = DecodeOptions(block_size, branches, max_nodes, temp, top_p, top_k, seed)
    drafter = bundle.drafter if mode != "ar" else None
    second = bundle.vp_drafter if mode == "d2sd" else bundle.drafter if mode == "dflash2" else None
    k_cap = min(branches, block_size - 1) if second is not None else 0
    if budget == "auto" and mode != "ar":  # the cost model is measured on first use, before the clock starts
        with _slow_notice("Measuring this machine's draft and verify costs for the budget (first use of "
                          f"this model with γ = {block_size}; the result is cached)"):
            policy = budgeted.for_bundle(bundle, mode, block_size, branches, max_nodes, greedy=temp == 0)
    else:
        policy = FixedPolicy(k_cap)
    tok = bundle.tokenizer
    eos = set(getattr(tok, "eos_token_ids", ()) or ()) if stop_on_eos else set()
    detok = tok.detokenizer if tok is not None else None
    if detok is not None:
        detok.reset()

    stats = Stats(mode=mode, budget=budget if mode != "ar" else "", seed=seed, prompt_tokens=len(ids))
    context_left = bundle.max_context - len(ids)  # tokens that fit after the prompt
    mx.reset_peak_memory()
    t_start = time.perf_counter()
    t_first = None
    steps = decode(bundle.target, drafter, second, mx.array(ids, dtype=mx.int32), opts, policy, prompt_cache)
    try:
        for step in steps:
            now = time.perf_counter()
            if t_first is None:
                t_first = now
                stats.prompt_s = stats.ttft_s = now - t_start
                stats.cached_tokens = prompt_cache.reused if prompt_cache is not None else 0
            elif step.cycle is not None:
                stats.add_cycle(step.cycle)
            tokens, sources, finish = step.tokens, step.sources, None
            for i, t in enumerate(tokens):
                if t in eos:
                    tokens, sources, finish = tokens[: i + 1], sources[: i + 1], "stop"
                    break
            room = max_tokens - stats.generation_tokens
            context_room = context_left - stats.generation_tokens
            if len(tokens) >= room and finish is None:
                finish = "length"
            if len(tokens) >= context_room and context_room < room and finish is None:
                finish = "context"  # the model's context is full: stop there, never run past it
            room = min(room, context_room)
            if finish is not None:
                stats.finish_reason = finish
            tokens, sources = tokens[:room], sources[:room]
            stats.generation_tokens += len(tokens)
            stats.generation_s = now - t_first
            stats.peak_memory_gb = mx.get_peak_memory() / 1e9
            text = ""
            if detok is not None:
                for t in tokens:
                    if t not in eos:
                        detok.add_token(t)
                if finish is not None:
                    detok.finalize()
                text = detok.last_segment
            yield Response(text, tokens, sources, stats, finish, step.cycle)
            if finish is not None:
                return
    finally:
        steps.close()


def generate(bundle: Bundle, prompt, **kwargs) -> str:
    """Generate and return the text (see `stream_generate` for the options)."""
    return "".join(r.text for r in stream_generate(bundle, prompt, **kwargs))
