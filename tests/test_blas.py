"""d2sd_mlx.blas: the system OpenBLAS is loaded on Linux before mlx.core, or a one-line hint is printed."""

import subprocess
import sys

import pytest

from d2sd_mlx import blas

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
CHECK = ("import {mod}, mlx.core as mx; from d2sd_mlx import blas; "
         "maps = open('/proc/self/maps').read(); print(blas.loaded() or '-', 'libopenblas' in maps)")


def _run(env: dict, mod: str = "d2sd_mlx") -> subprocess.CompletedProcess:
    import os

    full = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", blas.ENV)}
    full.update(env)
    return subprocess.run([sys.executable, "-c", CHECK.format(mod=mod)], env=full, capture_output=True, text=True,
                          timeout=120, check=True)


def _installed() -> bool:
    import os

    return any(os.path.exists(p) for p in blas.candidates() if os.path.isabs(p))


@linux
@pytest.mark.parametrize("mod", ["d2sd_mlx", "metal_kernels", "convert", "app"])
def test_openblas_loaded_before_mlx(mod):
    if not _installed():
        pytest.skip("libopenblas0-pthread is not installed")
    out = _run({}, mod)
    name, mapped = out.stdout.split()
    assert name.startswith("libopenblas") and mapped == "True"
    assert "apt-get" not in out.stderr


@linux
def test_off_and_missing():
    out = _run({blas.ENV: "off"})
    assert out.stdout.split() == ["-", "False"] and out.stderr == ""
    out = _run({blas.ENV: "/nonexistent/libopenblas.so.0"})
    assert out.stdout.split() == ["-", "False"]
    assert out.stderr.count("apt-get install libopenblas0-pthread") == 1 and len(out.stderr.splitlines()) == 1


def test_core_for_picks_kernels_the_cpu_has():
    avx512 = {"avx", "avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl"}
    assert blas.core_for("Prescott", avx512) == "SkylakeX"  # Debian's 0.3.21 on a newer Xeon
    assert blas.core_for("Prescott", {"avx", "avx2", "fma"}) == "Haswell"
    assert blas.core_for("Haswell", avx512) == "SkylakeX"
    assert blas.core_for("SkylakeX", avx512) is None and blas.core_for("Cooperlake", avx512) is None
    assert blas.core_for("Zen", {"avx", "avx2", "fma"}) is None  # OpenBLAS knew the CPU: keep its choice
    assert blas.core_for("Prescott", {"sse3"}) is None  # nothing better to ask for
    assert blas.core_for("Prescott", {"avx512f", "avx2", "fma", "avx"}) == "Haswell"  # partial AVX-512


@linux
def test_loaded_kernels_match_the_cpu():
    """OpenBLAS runs kernels as wide as /proc/cpuinfo allows (it fell back to SSE3 on a CPU it did not know)."""
    if not _installed():
        pytest.skip("libopenblas0-pthread is not installed")
    out = _run({}, "d2sd_mlx")
    assert out.stdout.split()[0].startswith("libopenblas")
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", blas.ENV, "OPENBLAS_CORETYPE")}
    code = ("import ctypes, d2sd_mlx; from d2sd_mlx import blas; "
            "print(blas.core(), blas.dynamic(ctypes.CDLL(blas._state['path'])))")
    probe, dyn = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                                check=True).stdout.split()
    assert probe, "openblas_get_corename gave nothing"
    if dyn != "True":
        pytest.skip(f"this OpenBLAS is built for {probe} only (no DYNAMIC_ARCH): it cannot switch kernels")
    assert blas.core_for(probe, blas.cpu_flags()) is None, f"OpenBLAS runs {probe} kernels on a CPU with better ones"
