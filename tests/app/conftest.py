"""Fixtures for the chat app tests; async tests run on their own event loop (no plugin needed).

With pytest-asyncio in auto mode the plugin runs them instead; helpers live in chat_helpers.py.
"""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    if inspect.iscoroutinefunction(pyfuncitem.obj) and not pyfuncitem.get_closest_marker("asyncio"):
        args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(asyncio.wait_for(pyfuncitem.obj(**args), timeout=60))
        return True
    return None


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh data folder (D2SD_CHAT_HOME)."""
    monkeypatch.setenv("D2SD_CHAT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-hf-cache"))
    return tmp_path / "home"
