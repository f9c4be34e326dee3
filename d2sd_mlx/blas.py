"""Linux: let MLX's CPU backend use the system OpenBLAS instead of its bundled reference BLAS.

MLX's Linux CPU wheel links a reference (netlib) BLAS: about 5 GFLOP/s for an fp32 matmul on the
project's machines. Loading OpenBLAS with RTLD_GLOBAL *before* `mlx.core` is first imported makes
MLX's BLAS calls resolve to it instead (100-260 GFLOP/s; decoding SmolLM2-135M about 2.5x faster,
prompt processing about 15x), with no LD_PRELOAD. Every entry point of the project (`d2sd_mlx`,
`app`, `convert`, `metal_kernels`) calls `ensure()` in its `__init__`, before anything imports MLX.

`D2SD_BLAS=off` disables it; `D2SD_BLAS=/path/to/libopenblas.so.0` picks a library. When no
OpenBLAS is found, one line on stderr says how to install it. Standard library only: importing this
module must not import MLX.

Intel MKL, when installed in this environment from PyPI (`pip install mkl`, which brings Intel's
OpenMP runtime), is preferred over OpenBLAS: on the project's 2-core Xeon a plain decode step of the
default model took 54-57 ms against 90 ms, because MKL multiplies the few-row matrices of decoding
and verifying without repacking the weights on every call. `D2SD_BLAS=openblas` keeps OpenBLAS;
`D2SD_BLAS=mkl` insists on MKL (or says why not). MKL's default kernels round by the inputs' memory
alignment (`alignment_free`); `MKL_CBWR=AUTO,STRICT` removes that, and most of the speed-up with it.

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
        f"(`pip install mkl` on an Intel CPU: faster still; set {ENV}=off to silence this)")

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
    choice = setting.lower()
    if choice in ("", "mkl"):
        for path in mkl_candidates():
            if _load_mkl(path):
                return path
        if choice == "mkl":
            print(f"d2sd-mlx: {ENV}=mkl but no usable MKL in {_env_lib()} (`pip install mkl`); trying OpenBLAS",
                  file=sys.stderr)
    paths = [setting] if choice not in ("", "mkl", "openblas") else candidates()
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


def _env_lib() -> str:
    """Where pip puts a wheel's shared libraries (`mkl`, `intel-openmp`): this environment's lib folder."""
    return os.path.join(sys.prefix, "lib")


def mkl_candidates() -> list[str]:
    """MKL's single dynamic library from PyPI's `mkl` wheel in this environment, newest first."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return []
    folder = _env_lib()
    try:
        names = [n for n in os.listdir(folder) if n.startswith("libmkl_rt.so.")]
    except OSError:
        return []
    return [os.path.join(folder, n) for n in sorted(names, reverse=True)]


def _load_mkl(path: str) -> bool:
    """Load MKL for MLX with a threading layer it can find: Intel's OpenMP runtime beside it (the `mkl`
    wheel depends on `intel-openmp`), else one thread. MKL loads its layers by name from its own folder."""
    if "MKL_THREADING_LAYER" not in os.environ:
        omp = os.path.join(os.path.dirname(path), "libiomp5.so")
        try:
            ctypes.CDLL(omp, mode=ctypes.RTLD_GLOBAL)  # the intel threading layer needs its symbols global
        except OSError:
            os.environ["MKL_THREADING_LAYER"] = "SEQUENTIAL"
    try:
        lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        lib.MKL_Get_Max_Threads()  # loads the threading layer now, not at MLX's first matmul
    except (OSError, AttributeError):
        return False
    _state["path"] = path
    _state["core"] = "mkl"
    return True


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


def alignment_free() -> bool:
    """Whether products are bit for bit the same wherever their inputs sit in memory. MKL's default
    kernels round differently with the inputs' alignment (so two paths through the same numbers can
    differ in the last bits); MKL_CBWR=AUTO,STRICT makes them independent of it, at most of MKL's
    speed-up. OpenBLAS and MLX's own BLAS are."""
    return core() != "mkl" or "STRICT" in os.environ.get("MKL_CBWR", "").upper()


def core() -> str:
    """The OpenBLAS kernel family in use, "mkl" for MKL ('' when no BLAS was loaded here)."""
    return _state.get("core", "")


def loaded() -> str:
    """The file name of the BLAS loaded (or preloaded) for MLX, '' for MLX's bundled one."""
    return os.path.basename(_state["path"] or "")
