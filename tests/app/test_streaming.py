"""Streaming replies through the UI with a scripted engine: order, stop, stats, sources, errors."""

from __future__ import annotations

from textual.widgets import Markdown, Sparkline
from textual.widgets._markdown import MarkdownFence

from app.engine_types import SOURCE_DFLASH, SOURCE_TARGET, SOURCE_VP
from app.fake_engine import FakeEngine, long_reply, words
from app.params import Params
from app.runner import ChunksReady
from app.widgets.message import SOURCE_STYLES

from chat_helpers import Gate, make_app, notes, ready, replies, send, wait_until


async def test_long_stream_keeps_every_token_in_order():
    text = long_reply(10)
    assert len(words(text)) > 5000
    app = make_app(FakeEngine(reply=text), params=Params(max_tokens=100_000))
    async with app.run_test(size=(100, 30)) as pilot:
        await send(pilot, "write a lot")
        [reply] = replies(app)
        assert reply.text == text
        assert reply.markdown.source == text
        assert "".join(piece for _, piece in reply.spans) == text
        fences = reply.query(MarkdownFence)
        assert len(fences) == 10 and "total += 39 * 9" in fences[-1].code
        assert reply.status == "done" and "done" in str(reply.query_one(".footer").render())


async def test_many_small_batches_keep_order():
    text = long_reply(2)
    batches = []
    app = make_app(FakeEngine(reply=text, delay=0.0005), params=Params(max_tokens=100_000))
    hook = lambda message: batches.append(1) if isinstance(message, ChunksReady) else None
    async with app.run_test(message_hook=hook) as pilot:
        await send(pilot, "stream it slowly")
        [reply] = replies(app)
        assert reply.text == text == reply.markdown.source
        assert len(batches) > 10


async def test_max_tokens_ends_the_reply_with_length():
    app = make_app(FakeEngine(reply=long_reply(1)), params=Params(max_tokens=10))
    async with app.run_test() as pilot:
        await send(pilot, "short please")
        [reply] = replies(app)
        assert len(words(reply.text)) == 10 and "max tokens reached" in str(reply.query_one(".footer").render())


async def test_text_appears_cycle_by_cycle_in_order():
    gate = Gate()
    engine = FakeEngine(gate=gate.semaphore)
    app = make_app(engine)
    async with app.run_test() as pilot:
        await send(pilot, "hello", wait=False)
        await wait_until(pilot, lambda: app.reply is not None)
        expected = words("".join(engine.reply or "")) if engine.reply else None
        seen = []
        for step in range(5):
            gate.step()
            await wait_until(pilot, lambda: engine.yielded == step + 1 and app.reply.text != (seen[-1] if seen else ""))
            seen.append(app.reply.text)
        assert all(a and b.startswith(a) for a, b in zip(seen, seen[1:]))
        gate.step(1000)
        await wait_until(pilot, lambda: not app.busy)
        assert replies(app)[0].text.startswith(seen[-1])
        assert expected is None


async def test_code_blocks_render_at_the_end():
    reply = "Intro\n\n```python\ndef f():\n    return 1\n```\n\nAfter **bold**."
    app = make_app(FakeEngine(reply=reply, alphas=(2,)))
    async with app.run_test() as pilot:
        await send(pilot, "code please")
        [view] = replies(app)
        [fence] = view.query(MarkdownFence)
        assert fence.code.strip() == "def f():\n    return 1" and fence.lexer == "python"
        assert view.markdown.source == reply


async def test_escape_stops_within_one_cycle_and_keeps_partial_answer(home):
    from chat_helpers import open_store

    gate = Gate()
    engine = FakeEngine(gate=gate.semaphore)
    store = open_store(home)
    app = make_app(engine, store=store)
    async with app.run_test() as pilot:
        await send(pilot, "tell me", wait=False)
        gate.step(3)
        await wait_until(pilot, lambda: engine.yielded == 3 and app.reply is not None and app.reply.text)
        await wait_until(pilot, lambda: len(app.runner._chunks) == 0 and app.last_stats and app.last_stats.cycles == 3)
        partial = app.reply.text
        await pilot.press("escape")
        assert app.gen_id is None
        gate.step(1)  # the engine is blocked inside cycle 4; it finishes that cycle, then must stop
        await wait_until(pilot, lambda: engine.closed.is_set(), what="engine to close the stream")
        gate.step(50)
        await pilot.pause(0.1)
        assert engine.yielded == 4  # halted within one cycle of the stop request
        [view] = replies(app)
        assert view.text == partial and view.status == "stopped"
        assert "stopped" in str(view.query_one(".footer").render())
        stored = store.messages(app.chat.id)[-1]
        assert (stored.content, stored.status, stored.stop_reason) == (partial, "stopped", "stopped")


async def test_stop_before_first_token_gives_the_prompt_back(home):
    from chat_helpers import open_store

    gate = Gate()
    engine = FakeEngine(gate=gate.semaphore)
    store = open_store(home)
    app = make_app(engine, store=store)
    async with app.run_test() as pilot:
        await send(pilot, "never mind", wait=False)
        await wait_until(pilot, lambda: app.reply is not None)
        await pilot.press("escape")
        gate.step(5)
        await wait_until(pilot, lambda: engine.closed.is_set())
        assert app.query_one("#prompt").text == "never mind"
        assert not replies(app) and store.messages(app.chat.id) == []


async def test_status_bar_and_speculation_panel_show_engine_stats():
    app = make_app(FakeEngine(alphas=(4, 1, 6), winners=("dflash", "none", "vp2"), block_size=8))
    async with app.run_test(size=(130, 40)) as pilot:
        await send(pilot, "stats please")
        stats = app.last_stats
        status = str(app.query_one("#status").render())
        assert f"{stats.generation_tps:.1f} tok/s" in status
        assert "TTFT 0.06 s" in status and f"{stats.generation_tokens} tokens" in status
        assert f"ctx {stats.prompt_tokens + stats.generation_tokens}/4096" in status and "peak 0.42 GB" in status
        panel = str(app.query_one("#spec-lines").render())
        assert f"α          {stats.alpha:.2f}" in panel
        assert "DFlash row" in panel and "VP branch 2" in panel and "bonus only" in panel
        assert "draft" in panel and "verify" in panel and "speedup    ≤" in panel
        assert app.query_one(Sparkline).data == stats.accepted_lengths[-48:]
        assert "spec ON · d2sd" in str(app.query_one("#spec-badge").render())


async def test_token_source_view_colours_come_from_engine_sources():
    engine = FakeEngine(reply="one two three four five six seven eight", alphas=(3, 1, 4), winners=("dflash", "none", "vp1"))
    app = make_app(engine)
    async with app.run_test() as pilot:
        await send(pilot, "colours")
        await pilot.press("ctrl+t")
        [view] = replies(app)
        assert view.has_class("show-sources")
        # cycle 1: 3 tokens -> dflash, dflash, target; cycle 2: 1 -> target; cycle 3: vp1 -> dflash, vp, vp, target
        expected = [(SOURCE_DFLASH, "one two"), (SOURCE_TARGET, " three four"), (SOURCE_DFLASH, " five"),
                    (SOURCE_VP, " six seven"), (SOURCE_TARGET, " eight")]
        assert [tuple(s) for s in view.spans] == expected
        given = view.source_text()  # what the Static is given: a style per engine source
        assert [(given.plain[s.start:s.end], s.style) for s in given.spans] == [
            (t, SOURCE_STYLES[src]) for src, t in expected if SOURCE_STYLES[src]]
        rendered = view.query_one(".sources").render()  # what is drawn: dflash and vp colours differ
        drawn = {rendered.plain[s.start:s.end]: str(s.style) for s in rendered.spans}
        assert drawn["one two"] == drawn[" five"] != drawn[" six seven"]
        assert " three four" not in drawn and rendered.plain == view.text
        await pilot.press("ctrl+t")
        assert not view.has_class("show-sources")


async def test_broken_utf8_mid_stream_is_replaced_and_reported(home):
    from chat_helpers import open_store

    store = open_store(home)
    app = make_app(FakeEngine(), store=store)
    async with app.run_test(notifications=True) as pilot:
        await send(pilot, "[utf8] hi")
        [view] = replies(app)
        assert "caf\ufffd" in view.text and view.status == "done"
        assert any("not valid UTF-8" in n.message for n in app._notifications)
        assert store.messages(app.chat.id)[-1].content == view.text
        await send(pilot, "still alive?")
        assert len(replies(app)) == 2


async def test_engine_error_mid_stream_is_shown_and_app_keeps_running():
    app = make_app(FakeEngine())
    async with app.run_test() as pilot:
        await send(pilot, "[error] go")
        [view] = replies(app)
        assert view.status == "error" and "crashed on purpose" in str(view.query_one(".footer").render())
        assert any("The engine failed" in n for n in notes(app))
        await send(pilot, "again")
        assert replies(app)[-1].status == "done"


async def test_slow_speculation_and_missing_drafter_are_explained():
    app = make_app(FakeEngine())
    async with app.run_test() as pilot:
        await send(pilot, "[slow] go")
        diag = str(app.query_one("#diagnostics").render())
        assert "slower than plain decoding" in diag
    app = make_app(FakeEngine(drafter=False))
    async with app.run_test() as pilot:
        await ready(pilot)
        assert "Speculation is OFF: no drafter was given" in str(app.query_one("#diagnostics").render())
        await send(pilot, "hi")
        assert app.last_stats.mode == "ar"
    app = make_app(FakeEngine(drafter_error="vocab 32000 does not match the target's 49152"))
    async with app.run_test() as pilot:
        await ready(pilot)
        diag = str(app.query_one("#diagnostics").render())
        assert "FAILED: the drafter failed to load: vocab 32000" in diag
        assert "spec FAILED" in app.sub_title


async def test_typing_while_answering_does_not_start_a_second_reply():
    gate = Gate()
    app = make_app(FakeEngine(gate=gate.semaphore))
    async with app.run_test() as pilot:
        await send(pilot, "first", wait=False)
        await wait_until(pilot, lambda: app.reply is not None)
        app.query_one("#prompt").load_text("second")
        await pilot.press("enter")
        assert app.query_one("#prompt").text == "second" and len(replies(app)) == 1
        gate.step(1000)
        await wait_until(pilot, lambda: not app.busy)
