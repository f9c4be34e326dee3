"""tree_attention: the reference against dense-mask SDPA, the kernel (on Metal, or its source emulated on the
CPU) against the reference, split emulation, LSE, the VP block-diagonal mask, dispatch and bad input.

Tolerances (max abs error against an fp32 oracle computed from the same, already rounded, inputs):
  fp32 outputs: atol 2e-5 + rtol 2e-5; bf16 outputs: atol 1e-2 + rtol 1e-2 (one bf16 rounding of O(1) values).
"""

from __future__ import annotations


import numpy as np
import pytest

import mlx.core as mx

import metal_kernels
from metal_kernels import (ancestors_from_parents, block_diagonal, pack_mask, tree_attention,
                           tree_attention_reference, unpack_mask)
from metal_kernels.tree_attention_metal import tree_attention_metal
from script_loader import load_script

emulate = load_script("metal_emulate")  # the kernels' source compiled for the CPU (a test tool)

TOL = {mx.float32: (2e-5, 2e-5), mx.bfloat16: (1e-2, 1e-2)}
NO_METAL = "no Metal backend: mx.metal.is_available() is False"

# (N, C, G, Hkv, D, dtype): the edges of the grid N 1..80, C 0..4096, GQA 1/4/8, head_dim 64/128, fp32/bf16 ...
EDGE_CASES = [
    (1, 0, 1, 1, 64, mx.float32),
    (80, 4096, 8, 1, 128, mx.float32),
    (33, 1000, 4, 2, 64, mx.float32),
    (64, 0, 4, 1, 128, mx.float32),
    (65, 17, 1, 2, 128, mx.float32),
    (80, 2048, 4, 1, 128, mx.bfloat16),
    (7, 0, 8, 1, 64, mx.bfloat16),
    (48, 513, 1, 2, 64, mx.bfloat16),
]


def _sampled_cases(count, seed=1234):
    """... plus a sparse seeded sample of the rest of it."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        cases.append((int(rng.integers(1, 81)), int(rng.choice([0, int(rng.integers(1, 4097))])),
                      int(rng.choice([1, 4, 8])), int(rng.choice([1, 2])), int(rng.choice([64, 128])),
                      [mx.float32, mx.bfloat16][int(rng.integers(0, 2))]))
    return cases


CASES = EDGE_CASES + _sampled_cases(6)


def _ids(case):
    n, c, g, hkv, d, dtype = case
    return f"N{n}-C{c}-G{g}-kv{hkv}-D{d}-{str(dtype).split('.')[-1]}"


def random_tree(n, rng):
    """Random forest in topological order (about one node in ten starts a new root)."""
    parents = [-1] + [int(rng.integers(0, i)) if rng.random() > 0.1 else -1 for i in range(1, n)]
    return ancestors_from_parents(parents)


def make_inputs(n, c, g, hkv, d, dtype, seed=0, visible=None, ctx_none=False):
    rng = np.random.default_rng(seed)
    visible = random_tree(n, rng) if visible is None else visible
    hq = g * hkv
    rand = lambda *shape: mx.array(rng.standard_normal(shape).astype(np.float32)).astype(dtype)  # noqa: E731
    q, k_tree, v_tree = rand(1, hq, n, d), rand(1, hkv, n, d), rand(1, hkv, n, d)
    k_ctx, v_ctx = (None, None) if ctx_none else (rand(1, hkv, c, d), rand(1, hkv, c, d))
    return q, k_ctx, v_ctx, k_tree, v_tree, visible


def dense_oracle(q, k_ctx, v_ctx, k_tree, v_tree, visible, scale):
    """fp32 SDPA over [context; tree] with a dense [N, C + N] boolean mask, and the LSE from the same scores."""
    f32 = lambda a: a.astype(mx.float32)  # noqa: E731
    n = q.shape[2]
    c = 0 if k_ctx is None else k_ctx.shape[2]
    k = f32(k_tree) if c == 0 else mx.concatenate([f32(k_ctx), f32(k_tree)], axis=2)
    v = f32(v_tree) if c == 0 else mx.concatenate([f32(v_ctx), f32(v_tree)], axis=2)
    mask = mx.array(np.concatenate([np.ones((n, c), bool), visible], axis=1))
    out = mx.fast.scaled_dot_product_attention(f32(q), k, v, scale=scale, mask=mask)
    g = q.shape[1] // k.shape[1]
    s = (f32(q) @ mx.repeat(k, g, axis=1).swapaxes(-1, -2)) * scale
    lse = mx.logsumexp(mx.where(mask, s, -mx.inf), axis=-1)
    return out, lse


def assert_close(actual, expected, dtype):
    atol, rtol = TOL[dtype]
    a, e = np.array(actual.astype(mx.float32)), np.array(expected.astype(mx.float32))
    np.testing.assert_allclose(a, e, atol=atol, rtol=rtol)


# ---------------------------------------------------------------- reference vs dense-mask SDPA


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_reference_matches_dense_sdpa(case):
    n, c, g, hkv, d, dtype = case
    q, k_ctx, v_ctx, k_tree, v_tree, visible = make_inputs(*case, seed=n + c, ctx_none=(c == 0 and n % 2 == 1))
    scale = d ** -0.5
    out, lse = tree_attention_reference(q, k_ctx, v_ctx, k_tree, v_tree, pack_mask(visible), scale,
                                        return_lse=True)
    want, want_lse = dense_oracle(q, k_ctx, v_ctx, k_tree, v_tree, visible, scale)
    assert out.dtype == dtype and out.shape == q.shape
    assert lse.dtype == mx.float32 and lse.shape == q.shape[:3]
    assert_close(out, want, dtype)
    np.testing.assert_allclose(np.array(lse), np.array(want_lse), atol=2e-5, rtol=2e-5)


def test_dispatch_on_cpu_is_reference_and_accepts_views():
    q, k_ctx, v_ctx, k_tree, v_tree, visible = make_inputs(12, 40, 4, 2, 64, mx.float32, seed=3)
    anc = pack_mask(visible)
    want = tree_attention_reference(q, k_ctx, v_ctx, k_tree, v_tree, anc, 0.125)
    # a transposed q and context K/V sliced out of a bigger cache, as the decode loop passes them
    q_view = mx.array(np.array(q).transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)
    cache_k = mx.concatenate([k_ctx, mx.zeros_like(k_ctx)], axis=2)
    cache_v = mx.concatenate([v_ctx, mx.zeros_like(v_ctx)], axis=2)
    got = tree_attention(q_view, cache_k[:, :, :40], cache_v[:, :, :40], k_tree, v_tree, anc, 0.125)
    assert_close(got, want, mx.float32)


def test_vp_block_diagonal_mask():
    """The VP drafter's batched pass: each row sees the shared context and its own block bidirectionally."""
    visible = block_diagonal([5, 5, 6])
    assert visible[0, 4] and visible[4, 0] and not visible[4, 5] and visible[15, 10]
    case = (16, 300, 4, 2, 64, mx.float32)
    q, k_ctx, v_ctx, k_tree, v_tree, _ = make_inputs(*case, seed=5, visible=visible)
    got = tree_attention(q, k_ctx, v_ctx, k_tree, v_tree, pack_mask(visible), 0.125)
    want, _ = dense_oracle(q, k_ctx, v_ctx, k_tree, v_tree, visible, 0.125)
    assert_close(got, want, mx.float32)


def test_row_with_no_visible_key_gives_zero_and_minus_inf():
    visible = np.eye(3, dtype=bool)
    visible[1, 1] = False  # only reachable with the self-bit check off
    q, _, _, k_tree, v_tree, _ = make_inputs(3, 0, 1, 1, 64, mx.float32, visible=visible)
    out, lse = tree_attention(q, None, None, k_tree, v_tree, pack_mask(visible, check=False), 0.125,
                              return_lse=True, check=False)
    assert np.all(np.array(out)[0, 0, 1] == 0) and np.isneginf(np.array(lse)[0, 0, 1])
    assert np.isfinite(np.array(out)).all()


# ---------------------------------------------------------------- the kernel's structure, on the CPU


@pytest.mark.parametrize("c", [0, 5, 100, 257])
@pytest.mark.parametrize("splits,tile", [(1, None), (3, 16), (8, 16), (5, 8)])
def test_reference_split_emulation_matches_fast_path(c, splits, tile):
    """Splits (some empty), per-tile online rescaling and the merge give the unsplit result."""
    q, k_ctx, v_ctx, k_tree, v_tree, visible = make_inputs(21, c, 2, 2, 64, mx.float32, seed=c + splits)
    anc = pack_mask(visible)
    fast, fast_lse = tree_attention_reference(q, k_ctx, v_ctx, k_tree, v_tree, anc, 0.125, return_lse=True)
    split, split_lse = tree_attention_reference(q, k_ctx, v_ctx, k_tree, v_tree, anc, 0.125, return_lse=True,
                                                splits=splits, tile=tile)
    assert_close(split, fast, mx.float32)
    np.testing.assert_allclose(np.array(split_lse), np.array(fast_lse), atol=2e-5, rtol=2e-5)


needs_gxx = pytest.mark.skipif(not emulate.available(), reason="no C++ compiler to emulate the Metal kernels")


@needs_gxx
@pytest.mark.parametrize("n,c,g,hkv,splits", [
    (20, 100, 2, 2, None),   # default split plan
    (20, 100, 2, 2, 8),      # chunk 16: the last split is empty
    (70, 0, 2, 1, None),     # 3 mask words, 140 rows = 3 row blocks, no context
    (5, 37, 8, 1, 3),        # 40 rows: padding rows in the block
])
def test_emulated_kernel_matches_reference(n, c, g, hkv, splits):
    q, k_ctx, v_ctx, k_tree, v_tree, visible = make_inputs(n, c, g, hkv, 64, mx.float32, seed=n + c)
    anc = pack_mask(visible)
    out, lse = emulate.emulate(q, k_ctx if c else None, v_ctx if c else None, k_tree, v_tree, anc, 0.125,
                               splits=splits)
    want, want_lse = tree_attention_reference(q, k_ctx, v_ctx, k_tree, v_tree, anc, 0.125, return_lse=True)
    assert_close(out, want, mx.float32)
    np.testing.assert_allclose(np.array(lse), np.array(want_lse), atol=2e-5, rtol=2e-5)


@needs_gxx
def test_emulated_kernel_reads_strided_views():
    rng = np.random.default_rng(7)
    n, c, d = 9, 50, 64
    visible = random_tree(n, rng)
    cache_k = rng.standard_normal((1, 2, 80, d)).astype(np.float32)  # a cache with room past C
    cache_v = rng.standard_normal((1, 2, 80, d)).astype(np.float32)
    q_t = rng.standard_normal((1, n, 4, d)).astype(np.float32)       # [B, N, Hq, D] seen as [B, Hq, N, D]
    k_tree = rng.standard_normal((1, 2, n, d)).astype(np.float32)
    v_tree = rng.standard_normal((1, 2, n, d)).astype(np.float32)
    anc = pack_mask(visible)
    wide = np.zeros((n, 3), dtype=np.uint32)  # the mask as a column slice of a wider buffer
    wide[:, 1:2] = np.array(anc)
    out, _ = emulate.emulate(q_t.transpose(0, 2, 1, 3), cache_k[:, :, :c], cache_v[:, :, :c], k_tree, v_tree,
                             wide[:, 1:2], 0.125, splits=2)
    want = tree_attention_reference(mx.array(q_t.transpose(0, 2, 1, 3)), mx.array(cache_k[:, :, :c]),
                                    mx.array(cache_v[:, :, :c]), mx.array(k_tree), mx.array(v_tree), anc, 0.125)
    assert_close(out, want, mx.float32)


@needs_gxx
def test_emulated_kernel_bf16_head_dim_128():
    case = (19, 70, 4, 1, 128, mx.bfloat16)
    q, k_ctx, v_ctx, k_tree, v_tree, visible = make_inputs(*case, seed=11)
    anc = pack_mask(visible)
    out, _ = emulate.emulate(q, k_ctx, v_ctx, k_tree, v_tree, anc, 128 ** -0.5, dtype=mx.bfloat16, splits=2)
    want = tree_attention_reference(q, k_ctx, v_ctx, k_tree, v_tree, anc, 128 ** -0.5)
    assert out.dtype == mx.bfloat16
    assert_close(out, want, mx.bfloat16)


# ---------------------------------------------------------------- the kernel itself (Metal only)


def _metal():
    return mx.metal.is_available()


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_kernel_matches_reference(case):
    if not _metal():
        pytest.skip(NO_METAL)
    n, c, g, hkv, d, dtype = case
    q, k_ctx, v_ctx, k_tree, v_tree, visible = make_inputs(*case, seed=n + c)
    anc = pack_mask(visible)
    with mx.stream(mx.gpu):
        out, lse = tree_attention_metal(q, k_ctx if c else None, v_ctx if c else None, k_tree, v_tree, anc,
                                        d ** -0.5, return_lse=True)
        mx.eval(out, lse)
    want, want_lse = tree_attention_reference(q, k_ctx, v_ctx, k_tree, v_tree, anc, d ** -0.5, return_lse=True)
    atol, rtol = TOL[dtype]
    np.testing.assert_allclose(np.array(out.astype(mx.float32)), np.array(want.astype(mx.float32)),
                               atol=max(atol, 1e-4), rtol=max(rtol, 1e-4))
    np.testing.assert_allclose(np.array(lse), np.array(want_lse), atol=1e-4, rtol=1e-4)


def test_kernel_split_counts_and_views():
    if not _metal():
        pytest.skip(NO_METAL)
    q, k_ctx, v_ctx, k_tree, v_tree, visible = make_inputs(40, 1000, 4, 2, 128, mx.float32, seed=9)
    anc = pack_mask(visible)
    want = tree_attention_reference(q, k_ctx, v_ctx, k_tree, v_tree, anc, 0.1)
    cache_k = mx.concatenate([k_ctx, mx.zeros_like(k_ctx)], axis=2)
    q_view = mx.array(np.array(q).transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)
    for splits in (1, 3, 64):
        with mx.stream(mx.gpu):
            got = tree_attention_metal(q_view, cache_k[:, :, :1000], v_ctx, k_tree, v_tree, anc, 0.1, splits=splits)
            mx.eval(got)
        np.testing.assert_allclose(np.array(got), np.array(want), atol=1e-4, rtol=1e-4)


# ---------------------------------------------------------------- masks, dispatch and bad input


def test_pack_mask_round_trip_and_self_bit():
    rng = np.random.default_rng(2)
    visible = random_tree(70, rng)
    packed = pack_mask(visible)
    assert packed.dtype == mx.uint32 and packed.shape == (70, 3)
    assert np.array_equal(np.array(unpack_mask(packed, 70)), visible)
    visible[69, 69] = False
    with pytest.raises(ValueError, match="visible"):
        pack_mask(visible)


def test_env_var_forces_reference(monkeypatch):
    monkeypatch.setenv(metal_kernels.ENV, "reference")
    assert not metal_kernels.use_kernel(128)
    monkeypatch.setenv(metal_kernels.ENV, "bogus")
    with pytest.raises(ValueError, match=metal_kernels.ENV):
        metal_kernels.use_kernel(128)
    monkeypatch.delenv(metal_kernels.ENV)
    assert metal_kernels.use_kernel(128) == (_metal() and mx.default_device() == mx.gpu)


def _bad(name):
    """Valid arguments (N=40, C=8, Hq=4, Hkv=2, D=64) with one of them broken."""
    q, k_ctx, v_ctx, k_tree, v_tree, visible = make_inputs(40, 8, 2, 2, 64, mx.float32, seed=1)
    args = dict(q=q, k_ctx=k_ctx, v_ctx=v_ctx, k_tree=k_tree, v_tree=v_tree, ancestors=pack_mask(visible))
    if name == "q-ndim":
        args["q"] = q[0]
    elif name == "q-dtype":
        args["q"] = q.astype(mx.int32)
    elif name == "k_tree-heads":
        args["k_tree"] = mx.concatenate([k_tree, k_tree[:, :1]], axis=1)
    elif name == "v_tree-dtype":
        args["v_tree"] = v_tree.astype(mx.float16)
    elif name == "k_ctx-dim":
        args["k_ctx"] = k_ctx[..., :32]
    elif name == "v_ctx-none":
        args["v_ctx"] = None
    elif name == "ancestors-dtype":
        args["ancestors"] = args["ancestors"].astype(mx.int32)
    elif name == "ancestors-width":
        args["ancestors"] = args["ancestors"][:, :1]  # 32 nodes at most, N = 40
    elif name == "ancestors-rows":
        args["ancestors"] = args["ancestors"][:39]
    elif name == "ancestors-self":
        words = np.array(args["ancestors"])
        words[35, 1] &= ~np.uint32(1 << 3)  # node 35 does not see itself
        args["ancestors"] = mx.array(words)
    return args


@pytest.mark.parametrize("name", ["q-ndim", "q-dtype", "k_tree-heads", "v_tree-dtype", "k_ctx-dim", "v_ctx-none",
                                  "ancestors-dtype", "ancestors-width", "ancestors-rows", "ancestors-self"])
def test_bad_input_raises_value_error_naming_the_argument(name):
    args = _bad(name)
    arg = name.split("-")[0]
    # the default check=None reads the mask on the reference path only; on the Metal path it is asked for
    check = True if name == "ancestors-self" and metal_kernels.use_kernel(64) else None
    with pytest.raises(ValueError, match=f"^{arg}:"):
        tree_attention(**args, scale=0.125, check=check)
    with pytest.raises(ValueError, match=f"^{arg}:"):
        tree_attention_reference(**args, scale=0.125)
