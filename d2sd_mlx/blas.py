"""Linux: let MLX's CPU backend use the system OpenBLAS instead of its bundled reference BLAS.

MLX's Linux CPU wheel links a reference (netlib) BLAS: about 5 GFLOP/s for an fp32 matmul on the
project's machines. Loading OpenBLAS with RTLD_GLOBAL *before* `mlx.core` is first imported makes
MLX's BLAS calls resolve to it instead (100-260 GFLOP/s; decoding SmolLM2-135M about 2.5x faster,
prompt processing about 15x), with no LD_PRELOAD. Every entry point of the project (`d2sd_mlx`,
`app`, `convert`, `metal_kernels`) calls `ensure()` in its `__init__`, before anything imports MLX.

`D2SD_BLAS=off` disables it; `D2SD_BLAS=/path/to/libopenblas.so.0` picks a library. When no
OpenBLAS is found, one line on stderr says how to install it. Standard library only: importing this
module must not import MLX.

OpenBLAS picks its kernels from the CPU model. A release older than the CPU does not know the model
and falls back to its oldest x86-64 kernels (Prescott, SSE3): on the project's Xeon (model 207,
AVX-512) Debian's 0.3.21 did, and fp32 GEMM ran at 33 GFLOP/s instead of 170-190. When the kernels
OpenBLAS chose use less of the CPU than /proc/cpuinfo says it has, `ensure()` loads it again with
OPENBLAS_CORETYPE set from those flags (`core_for`), unless the user set OPENBLAS_CORETYPE.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import sys

ENV = "D2SD_BLAS"
HINT = ("d2sd-mlx: MLX is using its slow reference BLAS on this Linux machine; "
        "`apt-get install libopenblas0-pthread` makes fp32 decoding about 2.5x and prompt processing about 15x faster "
        f"(set {ENV}=off to silence this)")

_state: dict = {"done": False, "path": None}


def candidates() -> list[str]:
    """Where Debian/Ubuntu (and ldconfig) put OpenBLAS, pthread variant first."""
    arch = f"/usr/lib/{platform.machine()}-linux-gnu"
    paths = [f"{arch}/openblas-pthread/libopenblas.so.0", f"{arch}/libopenblas.so.0",
             f"{arch}/openblas-openmp/libopenblas.so.0", "/usr/lib64/libopenblas.so.0", "/usr/lib/libopenblas.so.0"]
    found = ctypes.util.find_library("openblas")
    if found:
        paths.append(found)
    return paths


def ensure() -> str | None:
    """Load OpenBLAS globally once per process (Linux only); returns its path, or None."""
    if _state["done"]:
        return _state["path"]
    _state["done"] = True
    if not sys.platform.startswith("linux"):
        return None
    setting = os.environ.get(ENV, "").strip()
    if setting.lower() in ("off", "0", "no", "false"):
        return None
    preload = [p for p in os.environ.get("LD_PRELOAD", "").split(":") if "blas" in os.path.basename(p)]
    if preload:  # the user preloaded a BLAS already: it wins over anything loaded here
        _state["path"] = preload[0]
        return preload[0]
    paths = [setting] if setting else candidates()
    for path in paths:
        if os.path.isabs(path) and not os.path.exists(path):
            continue
        try:
            lib = ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)  # look at its kernels before MLX can bind to it
        except OSError:
            continue
        lib = _better_kernels(path, lib)
        ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)  # the same object, now visible to MLX
        _state["path"] = path
        _state["core"] = corename(lib)
        return path
    print(HINT, file=sys.stderr)
    return None


# OpenBLAS x86-64 kernel families by the widest vector extension they use (names as OPENBLAS_CORETYPE takes them)
_LEVEL = {"sandybridge": 1, "bulldozer": 1, "piledriver": 1, "steamroller": 1,
          "haswell": 2, "zen": 2, "excavator": 2,
          "skylakex": 3, "cooperlake": 3, "sapphirerapids": 3}
_CORE = {1: "Sandybridge", 2: "Haswell", 3: "SkylakeX"}


def cpu_level(flags: set[str]) -> int:
    """The widest vector extension OpenBLAS has kernels for: 3 AVX-512 (F/BW/DQ/VL), 2 AVX2+FMA, 1 AVX, 0 none."""
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags:
        return 3
    if {"avx2", "fma"} <= flags:
        return 2
    return 1 if "avx" in flags else 0


def core_for(core: str, flags: set[str]) -> str | None:
    """The OPENBLAS_CORETYPE to load instead of `core` (the kernels OpenBLAS chose), or None to keep them."""
    want = cpu_level(flags)
    return _CORE[want] if want > _LEVEL.get(core.lower(), 0) else None


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _ask(lib, name: str) -> str:
    try:
        fn = getattr(lib, name)
    except AttributeError:  # not OpenBLAS
        return ""
    fn.restype = ctypes.c_char_p
    return (fn() or b"").decode()


def corename(lib) -> str:
    """The kernel family OpenBLAS chose ('' for another BLAS)."""
    return _ask(lib, "openblas_get_corename")


def dynamic(lib) -> bool:
    """Whether this OpenBLAS carries kernels for many CPUs (DYNAMIC_ARCH): only then can it switch."""
    return "DYNAMIC_ARCH" in _ask(lib, "openblas_get_config")


def _better_kernels(path: str, lib):
    """Reload OpenBLAS with OPENBLAS_CORETYPE when it fell back to kernels older than this CPU (see above)."""
    core = corename(lib)
    if not core or not dynamic(lib) or os.environ.get("OPENBLAS_CORETYPE") or platform.machine() not in ("x86_64", "AMD64"):
        return lib
    want = core_for(core, cpu_flags())
    if want is None:
        return lib
    import _ctypes

    _ctypes.dlclose(lib._handle)  # nothing else holds it yet (MLX is not imported), so it unloads
    os.environ["OPENBLAS_CORETYPE"] = want  # read by OpenBLAS's constructor; put back below
    try:
        return ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)
    except OSError:  # should not happen (it loaded a moment ago): take it as OpenBLAS picks
        del os.environ["OPENBLAS_CORETYPE"]
        return ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)
    finally:
        os.environ.pop("OPENBLAS_CORETYPE", None)


def core() -> str:
    """The OpenBLAS kernel family in use ('' when OpenBLAS was not loaded here)."""
    return _state.get("core", "")


def loaded() -> str:
    """The file name of the BLAS loaded (or preloaded) for MLX, '' for MLX's bundled one."""
    return os.path.basename(_state["path"] or "")
