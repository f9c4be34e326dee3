"""One-shot mode as a subprocess: --prompt, --prompt -, piped stdin, --stats, bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_chat(args, home, stdin: str | None = None):
    env = {**os.environ, "D2SD_CHAT_HOME": str(home), "D2SD_CHAT_FAKE": "1", "D2SD_CHAT_FAKE_DELAY": "0"}
    return subprocess.run([sys.executable, "-m", "app.chat", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_prompt_prints_the_reply_and_stats(tmp_path):
    done = run_chat(["--prompt", "what is D2SD?", "--stats"], tmp_path, stdin="")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("You asked about **what is D2SD?**.")
    assert "```python\ndef accept(draft, target):" in done.stdout and done.stdout.endswith("That is all.\n")
    assert "tok/s" in done.stderr and "TTFT" in done.stderr and "α" in done.stderr and "finish stop" in done.stderr


def test_prompt_from_stdin_both_ways(tmp_path):
    piped = run_chat([], tmp_path, stdin="from a pipe\n")
    dash = run_chat(["--prompt", "-", "--mode", "ar", "--max-tokens", "4"], tmp_path, stdin="from a dash")
    assert piped.returncode == 0 and "**from a pipe**" in piped.stdout
    assert dash.returncode == 0 and dash.stdout == "You asked about **from\n"


def test_bad_input_exits_with_a_message(tmp_path):
    missing = run_chat(["--prompt", "hi", "--model", str(tmp_path / "nowhere")], tmp_path, stdin="")
    assert missing.returncode == 2 and "no such file or folder" in missing.stderr and not missing.stdout
    bad_temp = run_chat(["--prompt", "hi", "--temp", "warm"], tmp_path, stdin="")
    assert bad_temp.returncode == 2 and "temp must be a number" in bad_temp.stderr
    empty = run_chat(["--prompt", "-"], tmp_path, stdin="  \n")
    assert empty.returncode == 2 and "empty" in empty.stderr


def test_broken_utf8_is_replaced_on_stdout(tmp_path):
    done = run_chat(["--prompt", "[utf8] hi"], tmp_path, stdin="")
    assert done.returncode == 0 and "caf\ufffd" in done.stdout and "not valid UTF-8" in done.stderr
