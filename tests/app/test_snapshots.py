"""Text snapshots of the main screens (tests/app/snapshots/*.txt; D2SD_UPDATE_SNAPSHOTS=1 rewrites)."""

from __future__ import annotations

from app.fake_engine import FakeEngine
from chat_helpers import assert_snapshot, make_app, ready, send

SIZE = (120, 36)


async def test_snapshot_welcome():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.pause()
        assert_snapshot(app, "welcome")


async def test_snapshot_reply_with_speculation_panel():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "How does D2SD work?")
        assert_snapshot(app, "reply")


async def test_snapshot_token_sources():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "How does D2SD work?")
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert_snapshot(app, "token_sources")


async def test_snapshot_speculation_off():
    app = make_app(FakeEngine(drafter=False))
    async with app.run_test(size=(100, 24)) as pilot:
        await send(pilot, "hi")
        assert_snapshot(app, "speculation_off")


async def test_snapshot_help():
    app = make_app()
    async with app.run_test(size=(120, 48)) as pilot:
        await ready(pilot)
        await pilot.press("f1")
        await pilot.pause()
        assert_snapshot(app, "help")


async def test_snapshot_slash_hints():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("/", "s")
        await pilot.pause()
        assert_snapshot(app, "slash_hints")
