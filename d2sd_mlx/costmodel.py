"""Time costs of one decoding cycle on this machine, for the loaded target and drafters.

What a cycle can cost (seconds):
- `step`: one plain target step (one token through the stock layers, tap features kept);
- `verify(n)`: one tree verify over n ≥ 2 nodes, modelled as a + b·n;
- `dflash`: one DFlash pass over [anchor, MASK × (γ-1)];
- `vp(k)`: the VP stage for k branches (two batched passes over k rows of γ tokens: the branch
  tokens, then the re-anchored tails), modelled as v0 + v1·(k·γ).

`calibrate` measures them with a few forwards on fresh caches (about a second for SmolLM2-135M on
an idle 2-core CPU). `load_or_calibrate` caches the result as JSON under
`$D2SD_HOME/calibration/` (default `~/.cache/d2sd-mlx/calibration/`), keyed by everything that
changes the numbers: model configs and weight layout (hence dtype and quantization), γ, the mlx
version, the device, the CPU and the preloaded BLAS. A file whose key differs is redone and
overwritten; an unreadable one is replaced with a warning. The loaded model is refined online from
the timings the decode loop measures anyway (see `CostModel`).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx
import numpy as np

from metal_kernels import pack_mask

from . import blas
from .atomic import write_json
from .paths import cache_home
from .tree import build_tree

SCHEMA = 4  # bump when the calibration's contents or the costs of the passes it times change: older files are then redone


def fit_line(xs, ys) -> tuple[float, float]:
    """Least-squares a + b·x through the points, with a, b ≥ 0 (b = 0 for a single x)."""
    xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    if np.ptp(xs) == 0:
        return max(float(ys.mean()), 0.0), 0.0
    b = max(float(np.polyfit(xs, ys, 1)[0]), 0.0)
    return max(float(ys.mean() - b * xs.mean()), 0.0), b


class CostModel:
    """Predicted seconds for each part of a cycle.

    Verify cost is a measured table over tree sizes, interpolated linearly (made non-decreasing):
    on CPUs and GPUs alike it is not a line but steps where the matmul kernels change tiles (on this
    project's CPU a 12-node verify costs what a 16-node one does), and the selection must see that.
    Beyond the table it extrapolates with the last segment's slope.

    Online timings move the calibrated numbers. A shared `load` factor (EMA, weight 0.1) follows how
    busy the machine is; a slow per-part factor (EMA, weight 0.03, within ×0.5..×2) absorbs what the
    calibration does not see (the loop's own host work around each pass); and each verify timing
    also reshapes the two table points around its size (weight 0.03, within ×0.5..×2). Each
    observation is clipped to ×2 of its prediction so one stalled cycle cannot swing the model.
    """

    PARTS = ("step", "verify", "dflash", "vp")

    def __init__(self, cal: dict, gamma: int):
        self.calibration = cal
        self.gamma = gamma
        self._step0 = float(cal["step_s"])
        v = cal["verify"]
        order = np.argsort(v["n"])
        self._vn = np.asarray(v["n"], dtype=np.float64)[order]
        self._vs = np.asarray(v["s"], dtype=np.float64)[order]
        self._shape = np.ones(self._vn.size)
        self._dflash0 = float(cal["dflash_s"]) if cal.get("dflash_s") is not None else 0.0
        vp = cal.get("vp")
        self._vpa, self._vpb = fit_line(np.asarray(vp["k"]) * gamma, vp["s"]) if vp else (np.inf, 0.0)
        self.load = 1.0
        self.factor = dict.fromkeys(self.PARTS, 1.0)

    def _scale(self, part: str) -> float:
        return self.load * self.factor[part]

    # -- predictions --------------------------------------------------------------------------
    @property
    def step(self) -> float:
        return self._scale("step") * self._step0

    @property
    def dflash(self) -> float:
        return self._scale("dflash") * self._dflash0

    def _table(self) -> np.ndarray:
        return np.maximum.accumulate(self._vs * self._shape)

    def _verify0(self, n):
        """Calibrated verify seconds for n nodes (scalar or array), before the online scales."""
        t, x = self._table(), self._vn
        n = np.asarray(n, dtype=np.float64)
        out = np.interp(n, x, t)
        if x.size > 1:
            slope = max((t[-1] - t[-2]) / (x[-1] - x[-2]), 0.0)
            out = np.where(n > x[-1], t[-1] + slope * (n - x[-1]), out)
        return out

    def verify(self, n):
        """Seconds of one tree verify over n nodes (n may be an array)."""
        t = self._scale("verify") * self._verify0(n)
        return float(t) if t.ndim == 0 else t

    def vp(self, k):
        """Seconds of a VP pass over k rows (0 for k = 0); k may be an int or an array."""
        k = np.asarray(k, dtype=np.float64)
        t = np.where(k > 0, self._scale("vp") * (self._vpa + self._vpb * k * self.gamma), 0.0)
        return float(t) if t.ndim == 0 else t

    # -- online refinement ----------------------------------------------------------------------
    def _observe(self, part: str, base: float, seconds: float) -> float:
        """Update load and the part's factor; returns the observed/predicted ratio (clipped)."""
        if not (base > 0 and np.isfinite(base) and seconds > 0):
            return 1.0
        pred = self._scale(part) * base
        seconds = min(max(seconds, pred / 2), pred * 2)
        self.load += 0.1 * (seconds / (self.factor[part] * base) - self.load)
        f = self.factor[part] + 0.03 * (seconds / (self.load * base) - self.factor[part])
        self.factor[part] = min(max(f, 0.5), 2.0)
        return seconds / pred

    def observe_step(self, s: float) -> None:
        self._observe("step", self._step0, s)

    def observe_dflash(self, s: float) -> None:
        self._observe("dflash", self._dflash0, s)

    def observe_verify(self, n: int, s: float) -> None:
        if n < 2:
            return
        ratio = self._observe("verify", float(self._verify0(n)), s)
        x = self._vn
        i = int(np.clip(np.searchsorted(x, n), 1, x.size - 1)) if x.size > 1 else 0
        if x.size > 1 and x[0] <= n <= x[-1]:
            w_hi = (n - x[i - 1]) / (x[i] - x[i - 1])
            weights = ((i - 1, 1.0 - w_hi), (i, w_hi))
        else:
            weights = ((0 if n < x[0] else x.size - 1, 1.0),)
        for j, w in weights:
            self._shape[j] = min(max(self._shape[j] * (1.0 + 0.03 * w * (ratio - 1.0)), 0.5), 2.0)

    def observe_vp(self, k: int, s: float) -> None:
        if k > 0:
            self._observe("vp", self._vpa + self._vpb * k * self.gamma, s)

    def summary(self) -> dict:
        return {
            "step_ms": round(self.step * 1e3, 3),
            "verify_ms": {int(n): round(self.verify(n) * 1e3, 2) for n in self._vn},
            "dflash_ms": round(self.dflash * 1e3, 3),
            "vp_ms_k1_k4": [round(self.vp(1) * 1e3, 3), round(self.vp(4) * 1e3, 3)],
            "load": round(self.load, 3),
            "factors": {k: round(v, 3) for k, v in self.factor.items()},
        }


# -- calibration -----------------------------------------------------------------------------------

def _best(fn, reps: int) -> float:
    """Min wall time of `reps` calls of fn (fn evaluates its own outputs)."""
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def verify_points(gamma: int) -> list[int]:
    """Tree sizes to time: small ones densely (that is where kernels switch tiles), the chain (γ), and
    up to a multiple of 8 covering the chain plus two full branches."""
    top = -(-(gamma + 2 * (gamma - 1)) // 8) * 8
    return sorted({2, 4, 8, 12, 16, 24, 32, 48, 64, gamma, top} & set(range(2, top + 1)) | {gamma, top})


VP_ROWS = (1, 4)  # VP batch sizes to time


def calibrate(target, drafter, vp_drafter, gamma: int, context: int = 32, reps: int = 2) -> dict:
    """Time a plain step, tree verifies, a DFlash pass and VP passes on fresh caches (nothing shared).

    Each number is the fastest of `reps` runs after a warm-up: machine load only ever adds time,
    and the online refinement brings the level back to what cycles actually take.
    """
    taps = drafter.config.target_layer_ids if drafter is not None else ()
    vocab = target.vocab_rows
    prompt = mx.array((np.arange(context) * 7919 + 11) % max(vocab - 2, 1), dtype=mx.int32)
    cache = target.make_cache()
    out = target.forward(prompt, cache, taps=taps)
    feats = out.feats
    mx.eval(out.logits, feats if feats is not None else out.logits, [c.state for c in cache])
    start = cache[0].offset
    tok = mx.array([int(prompt[-1])], dtype=mx.int32)

    def step():  # a plain step grows the cache by one token; trim it back afterwards
        o = target.forward(tok, cache, taps=taps)
        mx.eval(o.logits, o.feats if o.feats is not None else o.logits)
        for c in cache:
            c.trim(1)

    step()
    step_s = _best(step, reps + 1)

    def verify(n):  # a chain of n nodes
        ids = ((np.arange(n) * 31 + 5) % max(vocab - 2, 1)).tolist()
        chain = build_tree([ids], ["chain"])
        toks = mx.array(chain.tokens)

        def run():
            v = target.forward(toks, cache, tree=chain, taps=taps)
            mx.eval(v.logits, *(x for kv in v.kv for x in kv), v.feats if v.feats is not None else v.logits)
        return run

    pts = verify_points(gamma)
    verify(pts[len(pts) // 2])()
    vs = [_best(verify(n), reps if n <= 2 * gamma else 1) for n in pts]
    cal = {"step_s": step_s, "verify": {"n": pts, "s": vs}, "dflash_s": None, "vp": None}
    if drafter is None:
        return cal

    mask_id = drafter.config.mask_token_id
    ctx = feats[None]

    def draft(model, rows: int, first: list):
        d_cache = model.make_cache()
        block = mx.array([[int(prompt[-1])] + [mask_id] * (gamma - 1)] * rows, dtype=mx.int32).reshape(1, -1)
        pos = mx.array(np.tile(np.arange(gamma), rows) + start, dtype=mx.int32)
        vis = pack_mask(np.kron(np.eye(rows, dtype=bool), np.ones((gamma, gamma), dtype=bool)))
        sel = mx.array([r * gamma + p for r in range(rows) for p in range(1, gamma)])

        def run():
            c = ctx if first else None  # the context is appended once, later passes reuse it
            first.clear()
            out = model.draft(target, block, pos, c, d_cache, vis, sel)
            probs = mx.softmax(out.astype(mx.float32), axis=-1)
            mx.eval(mx.argmax(probs, axis=-1), mx.max(probs, axis=-1))
        return run

    run = draft(drafter, 1, [True])
    run()
    cal["dflash_s"] = _best(run, reps)
    second = vp_drafter if vp_drafter is not None else drafter
    times = []
    for k in VP_ROWS:
        run = draft(second, k, [True])
        run()
        times.append(2 * _best(run, reps))  # the stage is two such passes (decode._branches)
    cal["vp"] = {"k": list(VP_ROWS), "s": times}
    return cal


# -- the cache key and the on-disk cache -------------------------------------------------------------

def _params_signature(model) -> list:
    params = getattr(model, "parameters", None)
    if params is None:
        return []
    from mlx.utils import tree_flatten

    return [(k, list(v.shape), str(v.dtype)) for k, v in tree_flatten(params())]


def _config_of(model) -> dict:
    cfg = getattr(model, "config", None)
    if hasattr(cfg, "to_dict"):
        cfg = cfg.to_dict()
    return {"class": type(model).__name__, "config": cfg if isinstance(cfg, dict) else repr(cfg)}


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _device_name() -> str:
    try:
        info = mx.device_info()
        return str(info.get("device_name") or info.get("architecture") or "")
    except Exception:
        return ""


def calibration_key(target, drafter, vp_drafter, gamma: int) -> dict:
    """Everything the measured times depend on. Two runs may share a calibration only if equal."""
    target_id = {"config": target.config, "model": _config_of(target.model)["class"],
                 "params": _params_signature(target.model)}
    if getattr(target, "layout_name", None):  # split over ranks (distributed/): its passes cost differently
        target_id["layout"] = target.layout_name
    return {
        "schema": SCHEMA,
        "target": _digest(target_id),
        "drafter": _digest([_config_of(drafter), _params_signature(drafter)]) if drafter is not None else None,
        "vp_drafter": _digest([_config_of(vp_drafter), _params_signature(vp_drafter)]) if vp_drafter is not None else None,
        "dtype": str(target.dtype),
        "block_size": gamma,
        "mlx": mx.__version__,
        "device": f"{mx.default_device()} {_device_name()}".strip(),
        "machine": f"{platform.system()} {platform.machine()} {_cpu_name()} ×{os.cpu_count()}",
        "blas": f"{blas.loaded()} {blas.core()}".strip(),  # the library and the kernels it chose
    }


def cache_dir() -> Path:
    return cache_home("calibration")


def cache_path(key: dict, model_type: str = "") -> Path:
    """One file per target+drafters+γ; the machine-dependent fields are checked inside it."""
    name = _digest([key["target"], key["drafter"], key["vp_drafter"], key["block_size"]])[:16]
    return cache_dir() / f"{model_type or 'model'}-{name}.json"


def _read(path: Path, key: dict) -> dict | None:
    """The cached calibration if the file holds one for exactly `key`; None if absent or stale."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as e:
        warnings.warn(f"calibration cache {path} is unreadable ({e}); recalibrating", RuntimeWarning, stacklevel=3)
        return None
    try:
        data = json.loads(text)
        stored, cal = data["key"], data["calibration"]
        if stored == key:
            _check_calibration(cal, key["block_size"])
    except (ValueError, KeyError, TypeError, IndexError) as e:
        warnings.warn(f"calibration cache {path} is corrupt ({type(e).__name__}: {e}); replacing it", RuntimeWarning,
                      stacklevel=3)
        return None
    if stored != key:
        return None  # another model, dtype, γ, machine or mlx version: redo, never reuse
    return cal


def _check_calibration(cal: dict, gamma: int) -> None:
    """Raise ValueError/KeyError/TypeError unless `cal` has every field, as positive finite numbers."""
    v, vp = cal["verify"], cal["vp"]
    numbers = [cal["step_s"], cal["dflash_s"], *v["s"], *vp["s"], *v["n"], *vp["k"]]
    if len(v["n"]) != len(v["s"]) or len(vp["k"]) != len(vp["s"]) or len(v["n"]) < 2 or len(vp["k"]) < 2:
        raise ValueError("verify/vp points do not match")
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and np.isfinite(x) and x > 0 for x in numbers):
        raise ValueError("times must be positive numbers")
    CostModel(cal, gamma)


def _write(path: Path, key: dict, cal: dict) -> None:
    try:
        write_json(path, {"key": key, "calibration": cal, "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
    except OSError as e:
        warnings.warn(f"cannot write the calibration cache {path} ({e}); it stays in memory only", RuntimeWarning,
                      stacklevel=3)


@dataclass
class Loaded:
    model: CostModel
    source: str  # "file" or "calibrated"
    path: Path


def load_or_calibrate(target, drafter, vp_drafter, gamma: int, calibrate_fn=calibrate) -> Loaded:
    """The cost model for these models on this machine: from the cache file, or measured now. (The
    caller keeps it for the process: the API on the Bundle, see budget.for_bundle.)"""
    key = calibration_key(target, drafter, vp_drafter, gamma)
    path = cache_path(key, str(target.config.get("model_type", "")))
    cal = _read(path, key)
    source = "file"
    if cal is None:
        cal = calibrate_fn(target, drafter, vp_drafter, gamma)
        _write(path, key, cal)
        source = "calibrated"
    return Loaded(CostModel(cal, gamma), source, path)
