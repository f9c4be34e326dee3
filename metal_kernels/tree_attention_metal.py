"""Metal kernel for tree-masked cascade attention (`mx.fast.metal_kernel`), and its launcher.

Two passes, mirrored step by step by reference.py (`tree_attention_reference(..., splits=S, tile=BK)` runs the
same splits, tiles, online rescaling and merge with MLX ops, and is what the CPU tests check):

Pass 1, `partials`: grid (row blocks, S + 1 splits, B * Hkv); one threadgroup of NSG simdgroups per
  (KV head, split, block of NSG * 8 rows).
  - Rows: the G query heads of KV head h are stacked into G * N rows, row g * N + i = (query head h*G + g,
    node i); each simdgroup owns 8 rows, so a threadgroup holds NSG * 8 = 64 rows. When G * N > 64 the
    row blocks of one (head, split) are adjacent in the grid (x varies fastest), so the K/V chunk they share
    comes from DRAM once and from cache for the others. (All G * N rows in one threadgroup would need up to
    640 rows of fp32 accumulators on chip; NSG is a template parameter, 16 fits in 30 KiB at D = 128 if
    measurements favour it.) Rows past G * N are padding (q = 0, no visible key).
  - Keys: splits 0..S-1 cover the context, split s = [s * chunk, min(C, (s + 1) * chunk)) with chunk a
    multiple of BK (`reference.split_chunk`), so a split can be empty; split S is the tree tail [0, N), where
    the bitmask applies. No context key is ever masked.
  - Per tile of BK keys: the threadgroup stages K (transposed) and V as fp32 in threadgroup memory (keys past
    the split end are zeros); each simdgroup computes its 8 x BK scores with 8x8 simdgroup matrices from q
    pre-scaled by scale * log2(e) (= reference `_scores` on `qs`), then lanes (4 per row, BK / 4 keys each)
    apply validity/bitmask, and do the online update (= reference `online_state`):
        m' = max(m, tile max); alpha = 2^(m - m'); p = valid ? 2^(s - m') : 0; l = alpha l + sum p
    and the simdgroup does O = diag(alpha) O + P V with simdgroup matrices (the diag product is skipped when
    no row's max moved). Empty and fully masked rows keep m = NEG (-1e30, finite, so no inf arithmetic is
    needed in any math mode), l = 0, O = 0: exactly the reference's empty state.
  - Writes the fp32 partial state (O unnormalised, m, l) of each row for this split. Partials are never
    rounded to the model dtype (the Hydragen caveat).
Pass 2, `merge`: one simdgroup per (row, KV head): M = max_s m_s, w_s = 2^(m_s - M), L = sum w_s l_s,
  out = sum w_s O_s / L in the input dtype, lse = (M + log2 L) ln 2 (= reference `merge_states` + `finish`);
  a row with L = 0 (no visible key at all) gives 0 and -inf.

Inputs of pass 1 may be strided views (a slice of a KV cache, a transposed q, a sliced mask): the kernel reads
through `*_strides` and nothing is copied. fp32/fp16/bf16 inputs; head_dim in SUPPORTED_HEAD_DIMS (threadgroup memory:
D * (BK + 4) + BK * D + NSG * (8 * BK + 64) floats = 24 KiB at D = 128).
"""

from __future__ import annotations

import math

import mlx.core as mx

from .reference import KEY_TILE, LOG2E, split_chunk

BK = KEY_TILE  # keys per tile
NSG = 8  # simdgroups per threadgroup (8 rows each)
ROWS_PER_BLOCK = NSG * 8
SUPPORTED_HEAD_DIMS = (64, 80, 96, 128)
TARGET_THREADGROUPS = 256  # split the context until about this many threadgroups run
MAX_SPLITS = 32

PARTIALS_INPUTS = ["q", "k_ctx", "v_ctx", "k_tree", "v_tree", "mask", "params", "scale2"]
PARTIALS_OUTPUTS = ["o_part", "m_part", "l_part"]
MERGE_INPUTS = ["o_part", "m_part", "l_part", "params"]
MERGE_OUTPUTS = ["out", "lse"]

HEADER = "#include <metal_simdgroup>\n#include <metal_simdgroup_matrix>\n"

# Body of pass 1. Template: T (input dtype), D (head dim), BK (keys per tile), NSG (simdgroups).
# params: N, C, G, W (mask words per row, unused by the kernels), chunk, S (context splits), Hkv, RP (padded rows).
PARTIALS_SOURCE = """
    constexpr int DF = D / 8;          // 8-wide fragments along the head dim
    constexpr int KF = BK / 8;         // 8-wide fragments along the key tile
    constexpr int KPL = BK / 4;        // keys per lane in the softmax step (4 lanes per row)
    constexpr int KSTR = BK + 4;       // row stride of the transposed K tile
    constexpr int TPT = NSG * 32;      // threads per threadgroup
    constexpr float kNegBig = -1.0e30f;  // max of a row that has seen no key

    threadgroup float Kt[D * KSTR];        // K tile, transposed: Kt[d * KSTR + key]
    threadgroup float Vs[BK * D];          // V tile: Vs[key * D + d]
    threadgroup float Ss[NSG * 8 * BK];    // per simdgroup: scores, then probabilities [8][BK]
    threadgroup float As[NSG * 64];        // per simdgroup: diag(alpha) [8][8]

    const int tid = int(thread_index_in_threadgroup);
    const int sg = int(simdgroup_index_in_threadgroup);
    const int lane = int(thread_index_in_simdgroup);
    const int rb = int(threadgroup_position_in_grid.x);
    const int split = int(threadgroup_position_in_grid.y);
    const int bh = int(threadgroup_position_in_grid.z);

    const int N = params[0];
    const int C = params[1];
    const int G = params[2];
    const int chunk = params[4];
    const int S = params[5];
    const int Hkv = params[6];
    const int RP = params[7];
    const int GN = G * N;
    const int b = bh / Hkv;
    const int h = bh % Hkv;
    const int row0 = rb * NSG * 8 + sg * 8;   // first of this simdgroup's 8 rows
    const int ss0 = sg * 8 * BK;              // this simdgroup's slice of Ss
    const int as0 = sg * 64;                  // this simdgroup's slice of As

    // 1. The simdgroup's 8 query rows in log2 units, as DF fragments (staged through Ss).
    simdgroup_float8x8 Qf[DF];
    for (int f = 0; f < DF; ++f) {
        for (int e = lane; e < 64; e += 32) {
            const int r = e / 8;
            const int c = e % 8;
            const int row = row0 + r;
            float x = 0.0f;
            if (row < GN) {
                const int g = row / N;
                const int i = row % N;
                x = static_cast<float>(q[b * q_strides[0] + (h * G + g) * q_strides[1]
                                         + i * q_strides[2] + (f * 8 + c) * q_strides[3]]) * scale2;
            }
            Ss[ss0 + r * 8 + c] = x;
        }
        simdgroup_barrier(mem_flags::mem_threadgroup);
        simdgroup_load(Qf[f], Ss + ss0, 8);
        simdgroup_barrier(mem_flags::mem_threadgroup);
    }

    // 2. This split's keys: a context chunk, or the whole tree (split S) under the bitmask.
    const bool tree = split == S;
    const int kbeg = tree ? 0 : split * chunk;
    const int kend = tree ? N : min(C, kbeg + chunk);

    simdgroup_float8x8 Of[DF];
    for (int f = 0; f < DF; ++f) {
        Of[f] = make_filled_simdgroup_matrix<float, 8, 8>(0.0f);
    }
    float m_run = kNegBig;   // running max of row r (same value in its 4 lanes)
    float l_run = 0.0f;  // running sum of row r

    const int r = lane / 4;             // the row this lane works on in the softmax step
    const int kq = (lane % 4) * KPL;    // its first key column in the tile
    const int row = row0 + r;
    const bool row_ok = row < GN;
    const int node = row_ok ? row % N : 0;

    for (int k0 = kbeg; k0 < kend; k0 += BK) {
        // 3. Stage the K (transposed) and V tiles as fp32; keys past kend are zero.
        for (int e = tid; e < BK * D; e += TPT) {
            const int kk = e / D;
            const int d = e % D;
            const int key = k0 + kk;
            float kx = 0.0f;
            float vx = 0.0f;
            if (key < kend) {
                if (tree) {
                    kx = static_cast<float>(k_tree[b * k_tree_strides[0] + h * k_tree_strides[1]
                                                   + key * k_tree_strides[2] + d * k_tree_strides[3]]);
                    vx = static_cast<float>(v_tree[b * v_tree_strides[0] + h * v_tree_strides[1]
                                                   + key * v_tree_strides[2] + d * v_tree_strides[3]]);
                } else {
                    kx = static_cast<float>(k_ctx[b * k_ctx_strides[0] + h * k_ctx_strides[1]
                                                  + key * k_ctx_strides[2] + d * k_ctx_strides[3]]);
                    vx = static_cast<float>(v_ctx[b * v_ctx_strides[0] + h * v_ctx_strides[1]
                                                  + key * v_ctx_strides[2] + d * v_ctx_strides[3]]);
                }
            }
            Kt[d * KSTR + kk] = kx;
            Vs[kk * D + d] = vx;
        }
        threadgroup_barrier(mem_flags::mem_threadgroup);

        // 4. Scores of the 8 rows against the BK keys: S = Q K^T.
        for (int c = 0; c < KF; ++c) {
            simdgroup_float8x8 acc = make_filled_simdgroup_matrix<float, 8, 8>(0.0f);
            for (int f = 0; f < DF; ++f) {
                simdgroup_float8x8 kt;
                simdgroup_load(kt, Kt + f * 8 * KSTR + c * 8, KSTR);
                simdgroup_multiply_accumulate(acc, Qf[f], kt, acc);
            }
            simdgroup_store(acc, Ss + ss0 + c * 8, BK);
        }
        simdgroup_barrier(mem_flags::mem_threadgroup);

        // 5. Online softmax, 4 lanes per row, KPL keys per lane. The KPL keys of a lane lie in one mask word
        //    (tree tiles start at multiples of BK and kq is a multiple of 4).
        uint bits = 0xffffffffu;
        if (tree) {
            const int word = (k0 + kq) / 32;
            bits = (row_ok && k0 + kq < kend) ? mask[node * mask_strides[0] + word * mask_strides[1]] : 0u;
        }
        float s[KPL];
        bool ok[KPL];
        float tmax = kNegBig;
        for (int j = 0; j < KPL; ++j) {
            const int key = k0 + kq + j;
            ok[j] = row_ok && key < kend && ((bits >> uint(key % 32)) & 1u) != 0u;
            s[j] = ok[j] ? Ss[ss0 + r * BK + kq + j] : kNegBig;
            tmax = max(tmax, s[j]);
        }
        tmax = max(tmax, simd_shuffle_xor(tmax, ushort(1)));
        tmax = max(tmax, simd_shuffle_xor(tmax, ushort(2)));
        const float m_new = max(m_run, tmax);
        const float alpha = exp2(m_run - m_new);
        float psum = 0.0f;
        for (int j = 0; j < KPL; ++j) {
            const float p = ok[j] ? exp2(s[j] - m_new) : 0.0f;
            Ss[ss0 + r * BK + kq + j] = p;
            psum += p;
        }
        psum += simd_shuffle_xor(psum, ushort(1));
        psum += simd_shuffle_xor(psum, ushort(2));
        l_run = l_run * alpha + psum;
        m_run = m_new;
        const int c0 = 2 * (lane % 4);   // the two columns of diag(alpha) row r this lane writes
        As[as0 + r * 8 + c0] = (c0 == r) ? alpha : 0.0f;
        As[as0 + r * 8 + c0 + 1] = (c0 + 1 == r) ? alpha : 0.0f;
        const bool rescale = simd_any(alpha != 1.0f);
        simdgroup_barrier(mem_flags::mem_threadgroup);

        // 6. O = diag(alpha) O + P V.
        if (rescale) {
            simdgroup_float8x8 A;
            simdgroup_load(A, As + as0, 8);
            for (int f = 0; f < DF; ++f) {
                simdgroup_float8x8 t;
                simdgroup_multiply(t, A, Of[f]);
                Of[f] = t;
            }
        }
        simdgroup_float8x8 P[KF];
        for (int c = 0; c < KF; ++c) {
            simdgroup_load(P[c], Ss + ss0 + c * 8, BK);
        }
        for (int f = 0; f < DF; ++f) {
            for (int c = 0; c < KF; ++c) {
                simdgroup_float8x8 v;
                simdgroup_load(v, Vs + c * 8 * D + f * 8, D);
                simdgroup_multiply_accumulate(Of[f], P[c], v, Of[f]);
            }
        }
        threadgroup_barrier(mem_flags::mem_threadgroup);
    }

    // 7. This split's partial state of the 8 rows.
    const long pbase = (long(bh) * (S + 1) + split) * RP + row0;
    for (int f = 0; f < DF; ++f) {
        simdgroup_store(Of[f], o_part + pbase * D + f * 8, D);
    }
    if (lane % 4 == 0) {
        m_part[pbase + r] = m_run;
        l_part[pbase + r] = l_run;
    }
"""

# Body of pass 2. Template: T, D. Grid (32, G*N, B*Hkv), threadgroup (32, 1, 1).
MERGE_SOURCE = """
    constexpr int DPL = (D + 31) / 32;   // head-dim elements per lane
    constexpr float kNegBig = -1.0e30f;

    const int lane = int(thread_position_in_grid.x);
    const int row = int(thread_position_in_grid.y);
    const int bh = int(thread_position_in_grid.z);
    const int N = params[0];
    const int G = params[2];
    const int S = params[5];
    const int RP = params[7];
    const int GN = G * N;
    const long base = long(bh) * (S + 1) * RP + row;

    float M = kNegBig;
    for (int s = 0; s <= S; ++s) {
        M = max(M, m_part[base + long(s) * RP]);
    }
    float L = 0.0f;
    float acc[DPL];
    for (int j = 0; j < DPL; ++j) {
        acc[j] = 0.0f;
    }
    for (int s = 0; s <= S; ++s) {
        const long ps = base + long(s) * RP;
        const float w = exp2(m_part[ps] - M);
        L += w * l_part[ps];
        for (int j = 0; j < DPL; ++j) {
            const int d = lane + 32 * j;
            if (d < D) {
                acc[j] += w * o_part[ps * D + d];
            }
        }
    }
    const float inv = L > 0.0f ? 1.0f / L : 0.0f;
    const long obase = (long(bh) * GN + row) * D;
    for (int j = 0; j < DPL; ++j) {
        const int d = lane + 32 * j;
        if (d < D) {
            out[obase + d] = static_cast<T>(acc[j] * inv);
        }
    }
    if (lane == 0) {
        lse[long(bh) * GN + row] = L > 0.0f ? (M + log2(L)) * 0.6931471805599453f : -INFINITY;
    }
"""

_kernels = {}


def _kernel(name):
    """Build each kernel once (construction works without Metal; only calling needs it)."""
    if name not in _kernels:
        if name == "partials":
            _kernels[name] = mx.fast.metal_kernel(
                name="d2sd_tree_attention_partials", input_names=PARTIALS_INPUTS,
                output_names=PARTIALS_OUTPUTS, source=PARTIALS_SOURCE, header=HEADER,
                ensure_row_contiguous=False)
        else:
            _kernels[name] = mx.fast.metal_kernel(
                name="d2sd_tree_attention_merge", input_names=MERGE_INPUTS,
                output_names=MERGE_OUTPUTS, source=MERGE_SOURCE, header=HEADER)
    return _kernels[name]


def default_splits(c: int, row_blocks: int, heads: int) -> int:
    """Context splits: enough threadgroups to fill the GPU (about TARGET_THREADGROUPS), at least 256 keys
    per split, at most MAX_SPLITS (partials cost (S + 1) * rows * D * 4 bytes per KV head). 0 when c == 0."""
    if c == 0:
        return 0
    wanted = math.ceil(TARGET_THREADGROUPS / max(1, row_blocks * heads))
    return max(1, min(wanted, math.ceil(c / 256), MAX_SPLITS))


def plan(B, Hq, Hkv, N, C, D, W, splits=None):
    """Launch geometry shared by the launcher and the CPU emulation of the kernels (scripts/metal_emulate.py)."""
    G = Hq // Hkv
    row_blocks = math.ceil(G * N / ROWS_PER_BLOCK)
    S = default_splits(C, row_blocks, B * Hkv) if splits is None else (splits if C else 0)
    chunk = split_chunk(C, S, BK)
    RP = row_blocks * ROWS_PER_BLOCK
    return {
        "params": [N, C, G, W, chunk, S, Hkv, RP],
        "splits": S,
        "partials_grid": (row_blocks * NSG * 32, S + 1, B * Hkv),
        "partials_threadgroup": (NSG * 32, 1, 1),
        "partials_shapes": [(B * Hkv, S + 1, RP, D), (B * Hkv, S + 1, RP), (B * Hkv, S + 1, RP)],
        "merge_grid": (32, G * N, B * Hkv),
        "merge_threadgroup": (32, 1, 1),
    }


def tree_attention_metal(q, k_ctx, v_ctx, k_tree, v_tree, ancestors, scale, return_lse=False, splits=None):
    """Run the two kernels on already-checked arguments (see reference.tree_attention_reference)."""
    B, Hq, N, D = q.shape
    Hkv = k_tree.shape[1]
    C = 0 if k_ctx is None else k_ctx.shape[2]
    if C == 0:
        k_ctx, v_ctx = k_tree, v_tree  # placeholders: no context split reads them
    p = plan(B, Hq, Hkv, N, C, D, ancestors.shape[1], splits)
    params = mx.array(p["params"], dtype=mx.int32)
    scale2 = mx.array(scale * LOG2E, dtype=mx.float32)
    template = [("T", q.dtype), ("D", D), ("BK", BK), ("NSG", NSG)]
    o_part, m_part, l_part = _kernel("partials")(
        inputs=[q, k_ctx, v_ctx, k_tree, v_tree, ancestors, params, scale2], template=template,
        grid=p["partials_grid"], threadgroup=p["partials_threadgroup"],
        output_shapes=p["partials_shapes"], output_dtypes=[mx.float32] * 3)
    out, lse = _kernel("merge")(
        inputs=[o_part, m_part, l_part, params], template=[("T", q.dtype), ("D", D)],
        grid=p["merge_grid"], threadgroup=p["merge_threadgroup"],
        output_shapes=[(B, Hq, N, D), (B, Hq, N)], output_dtypes=[q.dtype, mx.float32])
    return (out, lse) if return_lse else out
