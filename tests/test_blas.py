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
    out = _run({blas.ENV: "openblas"}, mod)
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
    out = _run({blas.ENV: "openblas"}, "d2sd_mlx")
    assert out.stdout.split()[0].startswith("libopenblas")
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", blas.ENV, "OPENBLAS_CORETYPE")}
    env[blas.ENV] = "openblas"
    code = ("import ctypes, d2sd_mlx; from d2sd_mlx import blas; "
            "print(blas.core(), blas.dynamic(ctypes.CDLL(blas._state['path'])))")
    probe, dyn = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                                check=True).stdout.split()
    assert probe, "openblas_get_corename gave nothing"
    if dyn != "True":
        pytest.skip(f"this OpenBLAS is built for {probe} only (no DYNAMIC_ARCH): it cannot switch kernels")
    assert blas.core_for(probe, blas.cpu_flags()) is None, f"OpenBLAS runs {probe} kernels on a CPU with better ones"


MKL_CHECK = ("import d2sd_mlx, mlx.core as mx, numpy as np; from d2sd_mlx import blas; "
             "a = np.random.default_rng(0).standard_normal((8, 576)).astype(np.float32); "
             "b = np.random.default_rng(1).standard_normal((576, 1536)).astype(np.float32); "
             "err = float(np.abs(np.array(mx.array(a) @ mx.array(b)) - a.astype(np.float64) @ b).max()); "
             "maps = open('/proc/self/maps').read(); "
             "print(blas.loaded(), blas.core(), 'libmkl_rt' in maps, 'libopenblas' in maps, err < 1e-3)")


def _mkl_run(env: dict) -> list[str]:
    import os

    full = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", blas.ENV, "MKL_THREADING_LAYER")}
    full.update(env)
    out = subprocess.run([sys.executable, "-c", MKL_CHECK], env=full, capture_output=True, text=True, timeout=120,
                         check=True)
    return out.stdout.split() + [out.stderr]


@linux
def test_mkl_from_pypi_is_preferred_and_multiplies_right():
    if not blas.mkl_candidates():
        pytest.skip(f"MKL is not installed in this environment ({blas._env_lib()}: `pip install mkl`)")
    name, core, mkl, openblas, right, err = _mkl_run({})
    assert name.startswith("libmkl_rt.so.") and core == "mkl" and mkl == "True" and openblas == "False"
    assert right == "True" and err == ""
    # one thread when Intel's OpenMP runtime cannot be used: still MKL, still right
    name, core, mkl, _, right, _ = _mkl_run({"MKL_THREADING_LAYER": "SEQUENTIAL"})
    assert core == "mkl" and mkl == "True" and right == "True"
    if _installed():  # the user can keep OpenBLAS
        name, core, mkl, openblas, right, _ = _mkl_run({blas.ENV: "openblas"})
        assert name.startswith("libopenblas") and mkl == "False" and openblas == "True" and right == "True"


@linux
def test_asking_for_mkl_without_it_says_so():
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", blas.ENV)}
    env[blas.ENV] = "mkl"
    code = "import sys; sys.prefix = '/nonexistent'; import d2sd_mlx, mlx.core; from d2sd_mlx import blas; print(blas.core() or '-')"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True)
    assert "D2SD_BLAS=mkl but no usable MKL in /nonexistent/lib" in out.stderr and "pip install mkl" in out.stderr
    assert out.stdout.strip() != "mkl"  # OpenBLAS (or MLX's own BLAS) instead


def test_mkl_is_looked_for_in_this_environment_only(tmp_path, monkeypatch):
    monkeypatch.setattr(blas.sys, "prefix", str(tmp_path))
    assert blas.mkl_candidates() == []
    (tmp_path / "lib").mkdir()
    for name in ("libmkl_rt.so.2", "libmkl_rt.so.3", "libmkl_core.so.3"):
        (tmp_path / "lib" / name).write_bytes(b"")
    want = [str(tmp_path / "lib" / n) for n in ("libmkl_rt.so.3", "libmkl_rt.so.2")]
    assert blas.mkl_candidates() == (want if blas.platform.machine() in ("x86_64", "AMD64") else [])
