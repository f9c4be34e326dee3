"""The target split over local ranks (mx.distributed's ring backend over loopback), CPU and offline.

Each launch starts one process per rank the way `mlx.launch --backend ring` does (MLX_RANK and an
MLX_HOSTFILE of free loopback ports) running tests/dist_ranks.py; the single-process reference is
the same code run here. Lossless: every mode's T=0 text equals the single-process text and mlx-lm's
greedy, with identical accepted lengths per cycle, in pipeline (2 ranks) and tensor parallel (2
ranks, the tiny targets have 4 query / 2 KV heads).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from d2sd_mlx import D2SDError, load
from d2sd_mlx.distributed import plan
from d2sd_mlx.tiny import write_tiny_bundle

HERE = Path(__file__).parent
RANKS = HERE / "dist_ranks.py"
LAUNCH_TIMEOUT_S = 150  # a hung launch fails the test instead of hanging the suite

pytestmark = pytest.mark.distributed


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def launch(tmp: Path, n: int, argv: list[str], env: dict | None = None, timeout: float = LAUNCH_TIMEOUT_S,
           wait_for: list[int] | None = None):
    """Start n local ranks running `argv` (after the python interpreter) and wait until the ranks
    `wait_for` (default: all) have exited; the others are then killed. Returns per rank (exit code,
    stdout, stderr, seconds from start to exit or None)."""
    wait_for = list(range(n)) if wait_for is None else wait_for
    hosts = tmp / "hosts.json"
    hosts.write_text(json.dumps([[f"127.0.0.1:{p}"] for p in free_ports(n)]))
    base = dict(os.environ, MLX_HOSTFILE=str(hosts), OPENBLAS_NUM_THREADS="1", HF_HUB_OFFLINE="1",
                PYTHONPATH=os.pathsep.join([str(HERE.parent), str(HERE), os.environ.get("PYTHONPATH", "")]),
                **(env or {}))
    procs, files, ended = [], [], {}
    t0 = time.monotonic()
    for r in range(n):
        out, err = open(tmp / f"out{r}.txt", "w+"), open(tmp / f"err{r}.txt", "w+")
        files.append((out, err))
        procs.append(subprocess.Popen([sys.executable, *argv], env=dict(base, MLX_RANK=str(r)), stdout=out,
                                      stderr=err, stdin=subprocess.DEVNULL, cwd=tmp))
    try:
        while not set(wait_for) <= set(ended) and time.monotonic() - t0 < timeout:
            for r, p in enumerate(procs):
                if r not in ended and p.poll() is not None:
                    ended[r] = time.monotonic() - t0
            time.sleep(0.05)
    finally:
        for p in procs:  # only the processes this test started
            if p.poll() is None:
                p.kill()
                p.wait()
    results = []
    for r, (out, err) in enumerate(files):
        out.seek(0)
        err.seek(0)
        results.append((procs[r].returncode, out.read(), err.read(), ended.get(r)))
        out.close()
        err.close()
    if not set(wait_for) <= set(ended):
        pytest.fail(f"ranks still running after {timeout} s: {[r for r in wait_for if r not in ended]}\n"
                    + "\n".join(f"rank {r} stderr:\n{e[-3000:]}" for r, (_, _, e, _) in enumerate(results)))
    return results


@pytest.fixture(scope="module")
def single():
    from dist_ranks import run_all

    return run_all(None, False)


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
    """One launch of 2 ranks: every mode split both ways, then the CLI (see dist_ranks.py)."""
    tmp = tmp_path_factory.mktemp("ranks")
    bundle = write_tiny_bundle(tmp / "tiny", kind="qwen3", seed=1)
    res = launch(tmp, 2, [str(RANKS), "modes", str(tmp / "rank0.json"), str(bundle)])
    for r, (rc, _, err, _) in enumerate(res):
        assert rc == 0, f"rank {r} exited {rc}:\n{err[-4000:]}"
    return (json.loads((tmp / "rank0.json").read_text()), json.loads((tmp / "rank1.json").read_text()), res,
            bundle)


@pytest.mark.parametrize("layout", ["pipeline", "tensor"])
def test_every_mode_matches_one_process_and_greedy(launched, single, layout):
    got, follower = launched[0][layout], launched[1][layout]
    assert got.keys() == single.keys()
    for key, want in single.items():
        if key.endswith("/greedy") or key.endswith("/error"):
            continue
        kind = key.split("/")[0]
        assert got[key]["tokens"] == want["tokens"], f"{layout} {key}: text differs from one process"
        assert got[key]["tokens"] == single[f"{kind}/greedy"], f"{layout} {key}: text differs from mlx-lm greedy"
        if "accepted" in want:
            assert got[key]["accepted"] == want["accepted"], f"{layout} {key}: accepted lengths differ"
            assert follower[key]["responses"] == 0, f"rank 1 yielded responses in {key}"
        if want.get("feats"):  # the drafters on rank 0 get the same tap features, in tap order
            f, w = np.array(got[key]["feats"]), np.array(want["feats"])
            assert f.shape == w.shape and np.allclose(f, w, rtol=1e-4, atol=1e-3), f"{layout} {key}: features differ"
            if layout == "pipeline":  # the same ops on the same numbers: bit for bit
                assert (f == w).all(), f"{layout} {key}: features differ"
    # the oracle drafters make real trees: several tokens accepted per cycle, so the walk and commits matter
    assert max(got["qwen3/oracle/d2sd"]["accepted"]) > 2
    for kind in ("qwen3", "llama"):
        assert "unknown budget" in got[f"{kind}/error"], got[f"{kind}/error"]
        assert follower[f"{kind}/error"].startswith("LeaderError") and "unknown budget" in follower[f"{kind}/error"]


def test_cli_under_local_ranks_prints_what_one_process_prints(launched):
    from dist_ranks import CLI_ARGS

    from d2sd_mlx.generate import main

    res, bundle = launched[2], launched[3]
    assert res[1][1] == "", "only rank 0 prints"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["--model", str(bundle), *CLI_ARGS]) == 0
    want = buf.getvalue().splitlines()
    got = res[0][1].splitlines()
    assert got[:-1] == want[:-1], "the text differs from one process"
    stats, want_stats = json.loads(got[-1]), json.loads(want[-1])
    assert stats["accepted_lengths"] == want_stats["accepted_lengths"]
    assert stats["dist"]["layout"] == "pipeline" and stats["dist"]["ranks"] == 2 and stats["dist"]["passes"] > 0
    assert [r["rank"] for r in stats["dist"]["per_rank"]] == [0, 1] and stats["dist"]["per_rank"][1]["compute_s"] > 0


@pytest.mark.parametrize("how", ["die", "hang"])
def test_a_lost_rank_ends_the_others_in_bounded_time(tmp_path, how):
    limit = 3.0
    res = launch(tmp_path, 2, [str(RANKS), how, str(tmp_path / "rank0.json")],
                 env={"D2SD_DIST_TIMEOUT": str(limit)}, timeout=90, wait_for=[0])
    failed_at = float((tmp_path / "failed_at").read_text())
    rc0, _, err0, _ = res[0]
    if how == "die":
        got = json.loads((tmp_path / "rank0.json").read_text())
        assert res[1][0] == 17
        assert got["error"].startswith("DistributedError") and "lost the connection" in got["error"], got
        assert got["t"] - failed_at < 10, got
        assert rc0 == 0
    else:  # rank 1 hangs: the watchdog ends rank 0 with a message naming the wait
        assert rc0 == 3, err0[-3000:]
        assert "no answer from the other ranks" in err0 and "D2SD_DIST_TIMEOUT" in err0, err0[-3000:]
        assert not (tmp_path / "rank0.json").exists()


class _Group:
    """Stands in for a group of `size` ranks where only the rank and size are read (the checks run
    before any communication)."""

    def __init__(self, size: int, rank: int = 0):
        self._size, self._rank = size, rank

    def size(self):
        return self._size

    def rank(self):
        return self._rank


def test_bad_layouts_are_refused_before_any_weight_is_read(tmp_path):
    cfg = {"num_hidden_layers": 3, "num_attention_heads": 9, "num_key_value_heads": 3, "intermediate_size": 1536,
           "hidden_size": 576}
    with pytest.raises(D2SDError, match=r"--pipeline over 4 ranks needs at least 4 target layers; this target has 3"):
        plan(cfg, 0, 4, pipeline=True)
    with pytest.raises(D2SDError, match=r"attention heads 9, key/value heads 3 are not divisible by 2; use 3 ranks"):
        plan(cfg, 0, 2, pipeline=False)
    assert plan(cfg, 2, 3, pipeline=False).kind == "tensor"
    assert [plan(cfg, r, 3, pipeline=True).start for r in range(3)] == [0, 1, 2]
    q = dict(cfg, num_attention_heads=6, num_key_value_heads=3, quantization={"group_size": 128, "bits": 4})
    with pytest.raises(D2SDError, match="slices of 192, not a multiple of its quantization group size 128"):
        plan(q, 0, 3, pipeline=False)
    # through load(), on a bundle: the layout is checked from config.json, before the weights
    bundle = write_tiny_bundle(tmp_path / "tiny")  # 4 layers, 4 heads, 2 KV heads
    (bundle / "target" / "model.safetensors").write_bytes(b"not weights")  # reading them would fail differently
    with pytest.raises(D2SDError, match="needs at least 5 target layers"):
        load(bundle, pipeline=True, group=_Group(5))
    with pytest.raises(D2SDError, match="not divisible by 3"):
        load(bundle, group=_Group(3))


def test_mismatched_drafter_is_refused_on_a_split_target(tmp_path):
    from d2sd_mlx.drafter import save_drafter
    from d2sd_mlx.tiny import make_drafter, target_config

    bundle = write_tiny_bundle(tmp_path / "tiny")
    other = target_config("llama", vocab=320, layers=6)  # a drafter made for a 6-layer target
    save_drafter(make_drafter(other, block_size=8, taps=[1, 4]), tmp_path / "wrong")
    for rank in (0, 1):
        with pytest.raises(D2SDError, match="wrong"):
            load(bundle, drafter=tmp_path / "wrong", pipeline=True, group=_Group(2, rank))
