"""Helpers for the chat app tests: an app with a scripted engine, waiting, text snapshots."""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from app.app import ChatApp
from app.fake_engine import FakeEngine
from app.store import Store
from app.widgets.message import MessageView

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE_SNAPSHOTS = os.environ.get("D2SD_UPDATE_SNAPSHOTS") == "1"


def open_store(home: Path) -> Store:
    store, notice = Store.open(home / "chats.db")
    assert notice == ""
    return store


def make_app(engine: FakeEngine | None = None, store: Store | None = None, **kwargs) -> ChatApp:
    return ChatApp(engine or FakeEngine(), store=store or Store.memory(), **kwargs)


class Gate:
    """Lets a gated FakeEngine run one cycle per `step()`."""

    def __init__(self) -> None:
        self.semaphore = threading.Semaphore(0)

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            self.semaphore.release()


async def wait_until(pilot, predicate, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.01)


async def ready(pilot) -> None:
    """Wait for the engine to load."""
    await wait_until(pilot, lambda: pilot.app.info is not None or pilot.app.load_error, what="engine load")


async def send(pilot, text: str, wait: bool = True) -> None:
    await ready(pilot)
    pilot.app.query_one("#prompt").load_text(text)
    await pilot.press("enter")
    if wait:
        await wait_until(pilot, lambda: not pilot.app.busy, what="reply to finish")
        await pilot.pause()


def replies(app) -> list[MessageView]:
    return [v for v in app.query(MessageView) if v.role == "assistant"]


def notes(app) -> list[str]:
    return [str(n.render()) for n in app.query(".note")]


def screen_text(app) -> str:
    """The screen as plain text (what a snapshot compares)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, force_terminal=True,
                      color_system="truecolor", legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


def assert_snapshot(app, name: str) -> None:
    """Compare the screen with tests/app/snapshots/NAME.txt (D2SD_UPDATE_SNAPSHOTS=1 rewrites it)."""
    text = screen_text(app)
    path = SNAPSHOTS / f"{name}.txt"
    if UPDATE_SNAPSHOTS or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
        if not UPDATE_SNAPSHOTS:
            pytest.fail(f"snapshot {path.name} was missing and has been written; check it and rerun")
    expected = path.read_text(encoding="utf-8").rstrip("\n")
    assert text == expected, f"screen differs from {path} (D2SD_UPDATE_SNAPSHOTS=1 to accept):\n{text}"
