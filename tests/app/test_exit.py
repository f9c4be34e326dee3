"""Quitting the app: the engine thread is stopped and joined, MLX's streams released, and a
conversion cut short leaves no temporary folder behind (issue 15, items 6 and 8)."""

from __future__ import annotations

import threading

import pytest

from app import chat
from app.fake_engine import FakeEngine
from app.runner import EngineRunner
from app.store import Store


class Sink:
    def __init__(self):
        self.messages = []

    def post_message(self, m):
        self.messages.append(m)


def _record_clear_streams(monkeypatch):
    mx = pytest.importorskip("mlx.core")
    calls = []
    real = mx.clear_streams

    def record():
        calls.append(threading.current_thread().name)
        if threading.current_thread() is not threading.main_thread():
            real()  # on the main thread it would leave pytest's later MLX work without a stream

    monkeypatch.setattr(mx, "clear_streams", record)
    return calls


def test_engine_thread_releases_mlx_streams_when_it_ends(monkeypatch):
    calls = _record_clear_streams(monkeypatch)
    runner = EngineRunner(FakeEngine(), Sink())
    runner.start()
    runner.submit_load(None, None, None)
    runner.close()
    assert runner.join(5.0)
    assert "d2sd-engine" in calls


def test_shutdown_joins_the_engine_and_releases_mlx_before_a_normal_exit(tmp_path, monkeypatch):
    calls = _record_clear_streams(monkeypatch)
    engine = FakeEngine(delay=0.05)
    runner = EngineRunner(engine, Sink())
    runner.start()
    runner.submit_load(None, None, None)
    from app.params import Params

    runner.submit_generate([{"role": "user", "content": "hi"}], Params(max_tokens=50))
    t0 = __import__("time").monotonic()
    while not engine.yielded and __import__("time").monotonic() - t0 < 10:  # mid-reply when the user quits
        __import__("time").sleep(0.01)
    store, _ = Store.open(tmp_path / "chats.db")
    assert chat.shutdown(runner, store, timeout=5.0) is True
    assert not runner._thread.is_alive()
    assert calls.count("d2sd-engine") == 1 and threading.current_thread().name in calls
    with pytest.raises(Exception):
        store.db.execute("SELECT 1")  # closed


def test_shutdown_with_a_stuck_engine_asks_for_a_hard_exit_that_removes_temp_folders(tmp_path, monkeypatch):
    from d2sd_mlx.atomic import atomic_dir

    started, release = threading.Event(), threading.Event()
    out = tmp_path / "cache" / "model"

    class StuckEngine(FakeEngine):
        def load(self, model, drafter, vp_drafter):  # like a first-use conversion of the default model
            try:
                with atomic_dir(out) as tmp:
                    (tmp / "model.safetensors").write_bytes(b"x" * 1000)
                    started.set()
                    release.wait(10)
            except Exception:
                pass
            return super().load(model, drafter, vp_drafter)

    runner = EngineRunner(StuckEngine(), Sink())
    runner.start()
    runner.submit_load(None, None, None)
    assert started.wait(10)
    store, _ = Store.open(tmp_path / "chats.db")
    assert chat.shutdown(runner, store, timeout=0.2) is False  # cannot be interrupted: leave hard
    exits = []
    monkeypatch.setattr(chat.os, "_exit", exits.append)
    chat.hard_exit(0)
    assert exits == [0]
    assert list((tmp_path / "cache").iterdir()) == []  # the half-written temp folder is gone
    release.set()
    runner.join(5.0)
    assert not out.exists()
