"""A live `python -m d2sd_mlx.server` on 127.0.0.1 over a tiny bundle the tests build, shared by the server tests.

The tiny target gets a ChatML-style chat template, so chat requests go through the tokenizer's
template as they do with a real instruct model.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from server_helpers import CHAT_TEMPLATE, MAX_BODY, QUEUE_SIZE, ROOT, LiveServer


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    """The tiny bundle, with a chat template and bf16 drafters on the fp32 target (as in the shipped bundle,
    so loading casts the drafters lazily: the server must evaluate that on its worker thread)."""
    import mlx.core as mx

    from d2sd_mlx.drafter import load_drafter, save_drafter
    from d2sd_mlx.tiny import write_tiny_bundle

    out = write_tiny_bundle(tmp_path_factory.mktemp("server") / "tiny")
    for name in ("dflash", "vp"):
        save_drafter(load_drafter(out / name), out / name, dtype=mx.bfloat16)
    cfg_file = out / "target" / "tokenizer_config.json"
    cfg = json.loads(cfg_file.read_text())
    cfg["chat_template"] = CHAT_TEMPLATE
    cfg_file.write_text(json.dumps(cfg, indent=2))
    return out


@pytest.fixture(scope="session")
def bundle(tiny_dir):
    """The same bundle loaded in the test process: the reference for the server's outputs."""
    from d2sd_mlx import load

    return load(str(tiny_dir))


@pytest.fixture(scope="session")
def server(tiny_dir, tmp_path_factory, _calibration_home):
    log = tmp_path_factory.mktemp("server_log") / "server.log"
    cmd = [sys.executable, "-m", "d2sd_mlx.server", "--model", str(tiny_dir), "--model-id", "tiny",
           "--host", "127.0.0.1", "--port", "0", "--queue-size", str(QUEUE_SIZE), "--max-tokens", "32",
           "--max-request-bytes", str(MAX_BODY), "--log-level", "INFO"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))
    try:
        end = time.monotonic() + 120
        while True:
            m = re.search(r"at http://127\.0\.0\.1:(\d+)/v1", log.read_text(errors="replace"))
            if m:
                break
            if proc.poll() is not None or time.monotonic() > end:
                pytest.fail(f"the server did not start (exit {proc.poll()}):\n{log.read_text(errors='replace')}")
            time.sleep(0.1)
        yield LiveServer("127.0.0.1", int(m.group(1)), proc, log, "tiny")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert "Traceback" not in log.read_text(errors="replace"), log.read_text(errors="replace")


@pytest.fixture(scope="session")
def client(server):
    openai = pytest.importorskip("openai")
    return openai.OpenAI(base_url=server.base_url, api_key="not-needed", max_retries=0, timeout=60)
