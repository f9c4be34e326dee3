"""Numbers shown to the user, computed from the engine's Stats: status line, speculation summary,
and plain-language diagnostics. Pure functions, so they are tested without a UI.

Definitions (see the D²SD notes): α = mean tokens committed per cycle, bonus included;
acceptance rate = accepted draft tokens / draft tokens offered = Σ(accepted−1) / (cycles·(γ−1));
speedup η = α·L_target / (T_draft + T_verify), with L_target the plain-decoding time per token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .engine import EngineInfo

MIN_CYCLES_FOR_VERDICT = 8


@dataclass(frozen=True)
class Speedup:
    value: float
    measured: bool  # True: against a measured plain-decoding rate; False: an upper bound


def status_line(stats, info: EngineInfo | None, state: str = "") -> str:
    """One line: tok/s, TTFT, tokens, context used/max, peak memory, α."""
    if stats is None:
        ctx = f"ctx 0/{info.max_context}" if info else "ctx -"
        return " · ".join(p for p in (state, "0.0 tok/s", "TTFT -", "0 tokens", ctx, "peak -") if p)
    used = stats.prompt_tokens + stats.generation_tokens
    parts = [
        state,
        f"{stats.generation_tps:.1f} tok/s",
        f"TTFT {stats.ttft_s:.2f} s" + (f" ({stats.cached_tokens} cached)" if stats.cached_tokens else ""),
        f"{stats.generation_tokens} tokens",
        f"ctx {used}/{info.max_context if info else '?'}",
        f"peak {stats.peak_memory_gb:.2f} GB",
    ]
    if stats.mode != "ar" and stats.cycles:
        parts.append(f"{stats.mode} α {stats.alpha:.2f}")
    return " · ".join(p for p in parts if p)


def spec_badge(info: EngineInfo | None, mode: str) -> str:
    if info is None:
        return "loading…"
    if info.spec == "failed":
        return "spec FAILED"
    if info.spec == "off":
        return "spec OFF"
    return "spec OFF (ar)" if mode == "ar" else f"spec ON · {mode}"


def acceptance_rate(stats, block_size: int | None) -> float | None:
    if not stats or not stats.cycles or not block_size or block_size < 2:
        return None
    drafted = sum(max(a - 1, 0) for a in stats.accepted_lengths)
    return drafted / (stats.cycles * (block_size - 1))


DRAFTERS = {"vp": "VP", "dflash": "DFlash"}


def _branch(winner: str) -> tuple[str, int, int] | None:
    """A branch row's name → (drafter, draft tokens kept, alternative rank): "vp3" → ("vp", 3, 1),
    "dflash0/2" → ("dflash", 0, 2) (dflash2's branches are DFlash's); None for the DFlash row and "none"."""
    m = re.fullmatch(r"(vp|dflash)(\d+)(?:/(\d+))?", winner)
    return (m[1], int(m[2]), int(m[3] or 1)) if m else None


def winner_label(winner: str) -> str:
    if winner == "dflash":
        return "DFlash row"
    b = _branch(winner)
    if b is not None:
        drafter, i, j = b
        return f"{DRAFTERS[drafter]} branch {i}" + ("" if j == 1 else f" (alt {j})")
    return "bonus only"


def winner_shares(stats) -> list[tuple[str, float]]:
    """(label, share) per candidate that won a cycle, DFlash row first, then the branches."""
    total = sum(stats.winners.values()) if stats else 0
    if not total:
        return []

    def order(w: str):
        b = _branch(w)
        return (0, 0, 0) if w == "dflash" else (1, b[1], b[2]) if b else (2, 0, 0)

    return [(winner_label(w), n / total) for w, n in sorted(stats.winners.items(), key=lambda kv: order(kv[0]))]


def speedup(stats, ar_tps: float | None) -> Speedup | None:
    """η against a measured plain-decoding rate, or an upper bound assuming a verify costs one step."""
    if not stats or stats.mode == "ar" or not stats.cycles:
        return None
    if ar_tps:
        return Speedup(stats.generation_tps / ar_tps, True) if stats.generation_tps else None
    spent = stats.draft_s + stats.verify_s
    if spent <= 0:
        return None
    return Speedup(stats.alpha * (stats.verify_s / stats.cycles) / (spent / stats.cycles), False)


def spec_summary(stats, info: EngineInfo | None, block_size: int | None, ar_tps: float | None) -> list[str]:
    """Lines of the speculation panel."""
    if stats is None or stats.mode == "ar" or not stats.cycles:
        return ["No speculative reply yet."] if stats is None or stats.mode != "ar" else ["Plain decoding: no drafts."]
    lines = [f"α          {stats.alpha:.2f} tokens/cycle", f"cycles     {stats.cycles}"]
    rate = acceptance_rate(stats, block_size)
    lines.append(f"accepted   {rate:.0%} of drafts (γ={block_size})" if rate is not None else "accepted   - (γ unknown)")
    lines.append("winner")
    lines += [f"  {label:<12}{share:>5.0%}" for label, share in winner_shares(stats)]
    spent = stats.draft_s + stats.verify_s
    if spent > 0:
        lines.append(f"draft      {stats.draft_s:.2f} s ({stats.draft_s / spent:.0%})")
        lines.append(f"verify     {stats.verify_s:.2f} s ({stats.verify_s / spent:.0%})")
    eta = speedup(stats, ar_tps)
    if eta is not None:
        basis = f"vs {ar_tps:.1f} tok/s plain" if eta.measured else "upper bound"
        lines.append(f"speedup    {'' if eta.measured else '≤'}{eta.value:.2f}× ({basis})")
    return lines


def diagnostics(info: EngineInfo | None, mode: str, mode_note: str, stats, ar_tps: float | None) -> list[str]:
    """Plain-language notes on why speculation is off, failed, or not paying off."""
    out = []
    if info is not None:
        if info.spec == "failed":
            out.append(f"Speculation FAILED: {info.spec_reason}. Replies use plain decoding.")
        elif info.spec == "off":
            out.append(f"Speculation is OFF: {info.spec_reason}. Load one with /draft PATH.")
        elif mode == "ar":
            out.append("Speculation is switched off for this chat (/spec on to turn it back on).")
    if mode_note and (info is None or info.spec == "on"):
        out.append(mode_note)  # (when speculation is off or failed, the line above already says so)
    eta = speedup(stats, ar_tps)
    if eta is not None and stats.cycles >= MIN_CYCLES_FOR_VERDICT and eta.value < 1.0:
        share = stats.draft_s / (stats.draft_s + stats.verify_s)
        if eta.measured:
            what = f"η {eta.value:.2f}× against {ar_tps:.1f} tok/s plain decoding"
        else:
            what = f"even at best η ≤ {eta.value:.2f}×"
        out.append(
            f"Speculation is slower than plain decoding here ({what}): only {stats.alpha:.2f} tokens are "
            f"accepted per cycle and drafting takes {share:.0%} of each cycle. Try a smaller block "
            "(/set block_size 4), fewer branches (/set branches 2), or /spec off."
        )
    return out
