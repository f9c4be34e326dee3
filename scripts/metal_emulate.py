"""Run the Metal kernels' source on the CPU: a test tool for machines without Metal
(tests/test_tree_attention.py loads it).

The kernel bodies of tree_attention_metal.py are compiled unchanged with g++ against a small shim of the
Metal built-ins they use, with a signature written the way mx.fast.metal_kernel writes it. Every GPU thread is
an OS thread: barriers are std::barrier, simd shuffles/any go through a per-simdgroup exchange buffer, and a
simdgroup matrix is held whole by every lane (loads read all 64 elements, stores are done by lane 0, so the
kernel's simdgroup barriers around them are needed here as on the GPU). Threadgroups run one after another,
so `threadgroup` arrays become function statics.

This checks the kernels' indexing, splits, masking, online softmax and merge against the reference; it cannot
check Metal-only behaviour (compilation by the Metal compiler, simdgroup-matrix lane layouts, speed).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile

import mlx.core as mx
import numpy as np

from d2sd_mlx.atomic import atomic_file, write_text
from metal_kernels import tree_attention_metal as tam

SHIM = r"""
#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>
using std::max;
using std::min;
typedef unsigned int uint;
typedef unsigned short ushort;
typedef unsigned long ulong;
struct uint3 { uint x, y, z; };
struct bfloat16_t {
    uint16_t bits;
    bfloat16_t() = default;
    bfloat16_t(float f) { uint32_t u; std::memcpy(&u, &f, 4); u += 0x7fffu + ((u >> 16) & 1u); bits = uint16_t(u >> 16); }
    operator float() const { uint32_t u = uint32_t(bits) << 16; float f; std::memcpy(&f, &u, 4); return f; }
};
namespace mem_flags { constexpr int mem_none = 0, mem_device = 1, mem_threadgroup = 2; }
struct LaneCtx { int lane; std::barrier<>* sg_bar; std::barrier<>* tg_bar; double* xchg; };
thread_local LaneCtx tl;
inline void threadgroup_barrier(int) { tl.tg_bar->arrive_and_wait(); }
inline void simdgroup_barrier(int) { tl.sg_bar->arrive_and_wait(); }
template <typename X> X simd_shuffle_xor(X v, ushort m) {
    tl.xchg[tl.lane] = double(v);
    tl.sg_bar->arrive_and_wait();
    X r = X(tl.xchg[tl.lane ^ m]);
    tl.sg_bar->arrive_and_wait();
    return r;
}
inline bool simd_any(bool v) {
    tl.xchg[tl.lane] = v ? 1.0 : 0.0;
    tl.sg_bar->arrive_and_wait();
    bool r = false;
    for (int i = 0; i < 32; ++i) r = r || tl.xchg[i] != 0.0;
    tl.sg_bar->arrive_and_wait();
    return r;
}
struct simdgroup_float8x8 { float e[64]; };
template <typename X, int R, int C> simdgroup_float8x8 make_filled_simdgroup_matrix(X v) {
    simdgroup_float8x8 m; for (auto& x : m.e) x = float(v); return m;
}
inline void simdgroup_load(simdgroup_float8x8& m, const float* src, ulong stride = 8) {
    for (int i = 0; i < 8; ++i) for (int j = 0; j < 8; ++j) m.e[i * 8 + j] = src[i * stride + j];
}
inline void simdgroup_store(const simdgroup_float8x8& m, float* dst, ulong stride = 8) {
    if (tl.lane == 0) for (int i = 0; i < 8; ++i) for (int j = 0; j < 8; ++j) dst[i * stride + j] = m.e[i * 8 + j];
}
inline void simdgroup_multiply(simdgroup_float8x8& d, const simdgroup_float8x8& a, const simdgroup_float8x8& b) {
    simdgroup_float8x8 t;
    for (int i = 0; i < 8; ++i) for (int j = 0; j < 8; ++j) {
        float s = 0.0f; for (int k = 0; k < 8; ++k) s += a.e[i * 8 + k] * b.e[k * 8 + j]; t.e[i * 8 + j] = s;
    }
    d = t;
}
inline void simdgroup_multiply_accumulate(simdgroup_float8x8& d, const simdgroup_float8x8& a,
                                          const simdgroup_float8x8& b, const simdgroup_float8x8& c) {
    simdgroup_float8x8 t;
    simdgroup_multiply(t, a, b);
    for (int i = 0; i < 64; ++i) t.e[i] += c.e[i];
    d = t;
}
#define threadgroup static

template <class F> void launch(uint3 grid, uint3 tg, F body) {
    const uint n = tg.x * tg.y * tg.z;
    for (uint gz = 0; gz < grid.z / tg.z; ++gz)
    for (uint gy = 0; gy < grid.y / tg.y; ++gy)
    for (uint gx = 0; gx < grid.x / tg.x; ++gx) {
        std::barrier<> tg_bar(n);
        std::vector<std::unique_ptr<std::barrier<>>> sg_bars;
        for (uint s = 0; s < (n + 31) / 32; ++s) sg_bars.emplace_back(new std::barrier<>(std::min(32u, n - 32 * s)));
        std::vector<double> xchg(((n + 31) / 32) * 32);
        std::vector<std::thread> threads;
        for (uint t = 0; t < n; ++t) {
            threads.emplace_back([&, t] {
                tl = LaneCtx{int(t % 32), sg_bars[t / 32].get(), &tg_bar, xchg.data() + (t / 32) * 32};
                const uint3 local{t % tg.x, (t / tg.x) % tg.y, t / (tg.x * tg.y)};
                const uint3 tgp{gx, gy, gz};
                const uint3 pos{gx * tg.x + local.x, gy * tg.y + local.y, gz * tg.z + local.z};
                body(tgp, pos, t, t / 32, t % 32);
            });
        }
        for (auto& th : threads) th.join();
    }
}
"""

WRAPPER = r"""
template <typename T, int D, int BK, int NSG>
void partials_kernel(const T* q, const int64_t* q_strides, const T* k_ctx, const int64_t* k_ctx_strides,
                     const T* v_ctx, const int64_t* v_ctx_strides, const T* k_tree, const int64_t* k_tree_strides,
                     const T* v_tree, const int64_t* v_tree_strides, const uint32_t* mask,
                     const int64_t* mask_strides, const int32_t* params,
                     const float& scale2, float* o_part, float* m_part, float* l_part,
                     uint3 threadgroup_position_in_grid, uint thread_index_in_threadgroup,
                     uint simdgroup_index_in_threadgroup, uint thread_index_in_simdgroup) {
@PARTIALS@
}

template <typename T, int D>
void merge_kernel(const float* o_part, const float* m_part, const float* l_part, const int32_t* params,
                  T* out, float* lse, uint3 thread_position_in_grid) {
@MERGE@
}

extern "C" void run_partials(const void* q, const int64_t* qs, const void* kc, const int64_t* kcs,
                             const void* vc, const int64_t* vcs, const void* kt, const int64_t* kts,
                             const void* vt, const int64_t* vts, const uint32_t* mask, const int64_t* ms,
                             const int32_t* params,
                             float scale2, float* o_part, float* m_part, float* l_part, const uint32_t* g,
                             const uint32_t* t) {
    launch(uint3{g[0], g[1], g[2]}, uint3{t[0], t[1], t[2]}, [&](uint3 tgp, uint3, uint tid, uint sg, uint lane) {
        partials_kernel<TYPE, HEAD_DIM, BK_, NSG_>(
            (const TYPE*)q, qs, (const TYPE*)kc, kcs, (const TYPE*)vc, vcs, (const TYPE*)kt, kts, (const TYPE*)vt,
            vts, mask, ms, params, scale2, o_part, m_part, l_part, tgp, tid, sg, lane);
    });
}

extern "C" void run_merge(const float* o_part, const float* m_part, const float* l_part, const int32_t* params,
                          void* out, float* lse, const uint32_t* g, const uint32_t* t) {
    launch(uint3{g[0], g[1], g[2]}, uint3{t[0], t[1], t[2]}, [&](uint3, uint3 pos, uint, uint, uint) {
        merge_kernel<TYPE, HEAD_DIM>(o_part, m_part, l_part, params, (TYPE*)out, lse, pos);
    });
}
"""

_CTYPES = {mx.float32: "float", mx.bfloat16: "bfloat16_t"}
_libs = {}


def available() -> bool:
    """True when a C++20 compiler is there to build the emulation."""
    return shutil.which(os.environ.get("CXX", "g++")) is not None


def _library(dtype, head_dim):
    source = SHIM + WRAPPER.replace("@PARTIALS@", tam.PARTIALS_SOURCE).replace("@MERGE@", tam.MERGE_SOURCE)
    defines = f"-DTYPE={_CTYPES[dtype]} -DHEAD_DIM={head_dim} -DBK_={tam.BK} -DNSG_={tam.NSG}"
    key = hashlib.sha256((source + defines).encode()).hexdigest()[:16]
    if key in _libs:
        return _libs[key]
    folder = os.path.join(tempfile.gettempdir(), "d2sd_metal_emulation")
    os.makedirs(folder, exist_ok=True)
    so = os.path.join(folder, f"tree_attention_{key}.so")
    if not os.path.exists(so):
        cpp = so[:-3] + ".cpp"
        write_text(cpp, source)
        with atomic_file(so) as tmp:
            cmd = [os.environ.get("CXX", "g++"), "-std=c++20", "-O1", "-shared", "-fPIC", "-pthread",
                   *defines.split(), cpp, "-o", str(tmp)]
            subprocess.run(cmd, check=True, capture_output=True, text=True)
    _libs[key] = ctypes.CDLL(so)
    return _libs[key]


def _host(a, dtype):
    """numpy view of an input plus its element strides; numpy views keep their strides (to test strided reads)."""
    if isinstance(a, mx.array):
        a = np.array(a.view(mx.uint16)) if dtype == mx.bfloat16 else np.array(a)
    return a, np.array([s // a.itemsize for s in a.strides], dtype=np.int64)


def _ptr(a):
    return ctypes.c_void_p(a.ctypes.data)


def emulate(q, k_ctx, v_ctx, k_tree, v_tree, ancestors, scale, dtype=mx.float32, splits=None):
    """tree_attention through the kernels' own source on the CPU. Arrays may be mx arrays or numpy views
    (bf16 as mx arrays). Returns (out as mx array of `dtype`, lse fp32)."""
    B, Hq, N, D = q.shape
    Hkv = k_tree.shape[1]
    C = 0 if k_ctx is None else k_ctx.shape[2]
    if C == 0:
        k_ctx, v_ctx = k_tree, v_tree
    lib = _library(dtype, D)
    mask, mask_strides = _host(ancestors, mx.uint32)
    p = tam.plan(B, Hq, Hkv, N, C, D, mask.shape[1], splits)
    params = np.array(p["params"], dtype=np.int32)
    hosts = [_host(a, dtype) for a in (q, k_ctx, v_ctx, k_tree, v_tree)]
    o_part, m_part, l_part = (np.full(s, np.nan, dtype=np.float32) for s in p["partials_shapes"])
    pg, pt, mg, mt = (np.array(p[k], dtype=np.uint32) for k in
                      ("partials_grid", "partials_threadgroup", "merge_grid", "merge_threadgroup"))
    args = [x for a, s in hosts for x in (_ptr(a), _ptr(s))]  # every array stays referenced until the calls end
    lib.run_partials(*args, _ptr(mask), _ptr(mask_strides), _ptr(params), ctypes.c_float(scale * 1.4426950408889634),
                     _ptr(o_part), _ptr(m_part), _ptr(l_part), _ptr(pg), _ptr(pt))
    out = np.zeros((B, Hq, N, D), dtype=np.uint16 if dtype == mx.bfloat16 else np.float32)
    lse = np.zeros((B, Hq, N), dtype=np.float32)
    lib.run_merge(_ptr(o_part), _ptr(m_part), _ptr(l_part), _ptr(params), _ptr(out), _ptr(lse), _ptr(mg), _ptr(mt))
    out = mx.array(out).view(mx.bfloat16) if dtype == mx.bfloat16 else mx.array(out)
    return out, mx.array(lse)
