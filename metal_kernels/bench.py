"""Time tree_attention against stock SDPA with a dense boolean mask.

    python -m metal_kernels.bench [--quick] [--n 80 --c 2048] [--hq 32 --hkv 8] [--dtype bfloat16] [--bw 400]

Grid N in {16, 32, 64, 80} x C in {512, 2k, 8k, 32k} (--quick: N in {16, 80} x C in {512, 2k}), head_dim 128,
GQA 4. On Metal it times the kernel (default 32/8 heads, bf16), elsewhere the reference (16/4 heads, fp32).
Both ops get the same data: a K/V buffer of C + N rows whose first C rows are the context; tree_attention
reads views of it, SDPA reads it whole with a precomputed [N, C + N] mask. "MB" is the bytes-moved floor
(q, K/V of context and tree, mask and output, each read or written once); --bw GB/s adds the floor time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import mlx.core as mx
import numpy as np

from . import ancestors_from_parents, pack_mask, tree_attention, use_kernel

GRID = ((16, 32, 64, 80), (512, 2048, 8192, 32768))
QUICK = ((16, 80), (512, 2048))
DTYPES = {"float32": mx.float32, "float16": mx.float16, "bfloat16": mx.bfloat16}


def random_tree(n, rng):
    """Visibility of a random tree whose nodes hang off one of the previous 8 nodes (spine-and-branches like)."""
    return ancestors_from_parents([-1] + [int(rng.integers(max(0, i - 8), i)) for i in range(1, n)])


def floor_bytes(B, Hq, Hkv, N, C, D, itemsize):
    words = (N + 31) // 32
    return 2 * B * Hq * N * D * itemsize + 2 * B * Hkv * (C + N) * D * itemsize + N * words * 4


def best_time(fn, min_time, max_reps, min_reps=3):
    """Best wall time of fn() (evaluated) after one warm-up call, over at least min_reps runs and until
    min_time has passed (at most max_reps)."""
    mx.eval(fn())
    times = []
    start = time.perf_counter()
    while len(times) < max_reps and (len(times) < min_reps or time.perf_counter() - start < min_time):
        t0 = time.perf_counter()
        mx.eval(fn())
        times.append(time.perf_counter() - t0)
    return min(times), len(times)


def run_cell(B, Hq, Hkv, N, C, D, dtype, rng, args):
    visible = random_tree(N, rng)
    ancestors = pack_mask(visible)
    dense = mx.array(np.concatenate([np.ones((N, C), bool), visible], axis=1))
    q = mx.random.normal((B, Hq, N, D)).astype(dtype)
    k = mx.random.normal((B, Hkv, C + N, D)).astype(dtype)
    v = mx.random.normal((B, Hkv, C + N, D)).astype(dtype)
    mx.eval(q, k, v, dense, ancestors)
    scale = D ** -0.5
    k_ctx, v_ctx, k_tree, v_tree = k[:, :, :C], v[:, :, :C], k[:, :, C:], v[:, :, C:]
    ours = lambda: tree_attention(q, k_ctx, v_ctx, k_tree, v_tree, ancestors, scale, check=False)  # noqa: E731
    sdpa = lambda: mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, mask=dense)  # noqa: E731
    err = mx.abs(ours().astype(mx.float32) - sdpa().astype(mx.float32)).max().item()
    t_ours, n_ours = best_time(ours, args.min_time, args.reps, min(3, args.reps))
    t_sdpa, n_sdpa = best_time(sdpa, args.min_time, args.reps, min(3, args.reps))
    return t_ours, t_sdpa, floor_bytes(B, Hq, Hkv, N, C, D, q.itemsize), err, min(n_ours, n_sdpa)


def main(argv=None):
    metal = use_kernel(128)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller grid: N in {16, 80}, C in {512, 2048}")
    ap.add_argument("--n", type=int, nargs="+", help="tree sizes to run instead of the grid's")
    ap.add_argument("--c", type=int, nargs="+", help="context lengths to run instead of the grid's")
    ap.add_argument("--hq", type=int, default=32 if metal else 16)
    ap.add_argument("--hkv", type=int, default=8 if metal else 4)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="bfloat16" if metal else "float32")
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds of repetitions per op and cell")
    ap.add_argument("--reps", type=int, default=20, help="at most this many timed repetitions")
    ap.add_argument("--bw", type=float, default=None, help="memory bandwidth in GB/s for a floor-time column")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    ns, cs = QUICK if args.quick else GRID
    ns, cs = args.n or ns, args.c or cs
    dtype = DTYPES[args.dtype]
    rng = np.random.default_rng(args.seed)
    mx.random.seed(args.seed)
    from d2sd_mlx.blas import loaded

    blas = f" ({loaded()})" if loaded() else ""
    print(f"tree_attention [{'metal kernel' if metal else 'reference'}] vs dense-mask SDPA on "
          f"{mx.default_device()}{blas}: B=1 Hq={args.hq} Hkv={args.hkv} D={args.dim} {args.dtype}; "
          f"best of up to {args.reps} runs", flush=True)
    head = ["N", "C", "tree_attention ms", "sdpa ms", "ratio", "MB floor", "ours GB/s", "sdpa GB/s"]
    if args.bw:
        head.append(f"floor ms @{args.bw:g}GB/s")
    head.append("max |diff|")
    rows = []
    cells = [(n, c) for c in cs for n in ns]
    for i, (n, c) in enumerate(cells, 1):
        print(f"[{i}/{len(cells)}] N={n} C={c} ...", end=" ", file=sys.stderr, flush=True)
        t_ours, t_sdpa, nbytes, err, reps = run_cell(1, args.hq, args.hkv, n, c, args.dim, dtype, rng, args)
        print(f"{t_ours * 1e3:.2f} ms vs {t_sdpa * 1e3:.2f} ms ({reps} reps)", file=sys.stderr, flush=True)
        row = [str(n), str(c), f"{t_ours * 1e3:.2f}", f"{t_sdpa * 1e3:.2f}", f"{t_ours / t_sdpa:.2f}",
               f"{nbytes / 1e6:.1f}", f"{nbytes / t_ours / 1e9:.2f}", f"{nbytes / t_sdpa / 1e9:.2f}"]
        if args.bw:
            row.append(f"{nbytes / (args.bw * 1e9) * 1e3:.3f}")
        row.append(f"{err:.1e}")
        rows.append(row)
    widths = [max(len(r[j]) for r in rows + [head]) for j in range(len(head))]
    line = lambda r: "| " + " | ".join(x.rjust(w) for x, w in zip(r, widths)) + " |"  # noqa: E731
    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))


if __name__ == "__main__":
    main()
