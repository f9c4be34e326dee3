"""Slash commands, keys, persistence across restarts and bad input, driven through the UI."""

from __future__ import annotations

import json

from textual.widgets import OptionList

from app.config import load_config
from app.fake_engine import FakeEngine
from app.params import Params
from app.screens.choice import ChoiceScreen
from app.screens.help import HelpScreen
from app.screens.system import SystemPromptScreen
from app.store import Store
from chat_helpers import screen_text, Gate, make_app, notes, open_store, ready, replies, send, wait_until


async def test_unknown_command_and_bad_set_value_keep_the_app_running():
    app = make_app()
    async with app.run_test() as pilot:
        await send(pilot, "/frobnicate")
        assert "Unknown command /frobnicate" in notes(app)[-1]
        await send(pilot, "/set temp hot")
        assert notes(app)[-1] == "temp must be a number, got 'hot'."
        await send(pilot, "/set max_tokens")
        assert "needs a value" in notes(app)[-1]
        await send(pilot, "/set colour red")
        assert "Unknown parameter 'colour'" in notes(app)[-1]
        assert app.params == Params()
        await send(pilot, "hello")
        assert replies(app)[-1].status == "done"


async def test_set_and_spec_persist_per_chat_and_reach_the_engine(home):
    engine = FakeEngine()
    store = open_store(home)
    app = make_app(engine, store=store)
    async with app.run_test() as pilot:
        await send(pilot, "first question")
        await send(pilot, "/set temp 0.7")
        await send(pilot, "/set max_tokens 5")
        await send(pilot, "/spec off")
        await send(pilot, "second question")
        messages, params = engine.calls[-1]
        assert (params.temp, params.max_tokens, params.mode) == (0.7, 5, "ar")
        assert [m["role"] for m in messages] == ["user", "assistant", "user"]
        assert app.last_stats.mode == "ar" and app.last_stats.generation_tokens == 5
        assert store.chat(app.chat.id).params["temp"] == 0.7
        assert "switched off" in str(app.query_one("#diagnostics").render())
        await send(pilot, "/spec on")
        assert app.params.mode == "d2sd"
        await send(pilot, "/spec sideways")
        assert "/spec takes on, off" in notes(app)[-1]


async def test_chat_survives_a_restart(home):
    store = open_store(home)
    app = make_app(FakeEngine(), store=store)
    async with app.run_test() as pilot:
        await send(pilot, "/system You are terse.")
        await send(pilot, "remember me")
        await send(pilot, "/set temp 0.2")
        text = replies(app)[-1].text
    store.close()
    engine = FakeEngine()
    app = make_app(engine, store=open_store(home))
    async with app.run_test() as pilot:
        await ready(pilot)
        views = [(v.role, v.text) for v in app.query("MessageView")]
        assert views == [("user", "remember me"), ("assistant", text)]
        assert app.params.temp == 0.2 and app.chat.system_prompt == "You are terse."
        await send(pilot, "and again")
        messages, _ = engine.calls[-1]
        assert messages[0] == {"role": "system", "content": "You are terse."}
        assert [m["content"] for m in messages[1:]] == ["remember me", text, "and again"]


async def test_partial_reply_is_on_disk_while_streaming(home):
    gate = Gate()
    store = open_store(home)
    app = make_app(FakeEngine(gate=gate.semaphore), store=store)
    async with app.run_test() as pilot:
        await send(pilot, "stream", wait=False)
        gate.step(3)
        await wait_until(pilot, lambda: app.reply is not None and app.reply.text and not app.runner._chunks)
        # a second connection sees what a crash would leave behind
        other = Store(__import__("sqlite3").connect(home / "chats.db"), None)
        other.db.row_factory = __import__("sqlite3").Row
        row = other.messages(app.chat.id)[-1]
        assert row.status == "streaming" and row.content == app.reply.text
        other.close()
        gate.step(1000)
        await wait_until(pilot, lambda: not app.busy)
    # a reply cut off by a kill is shown as interrupted after restart
    store.update_message(store.messages(app.chat.id)[-1].id, status="streaming")
    store.close()
    app = make_app(FakeEngine(), store=open_store(home))
    async with app.run_test() as pilot:
        await ready(pilot)
        view = replies(app)[-1]
        assert view.status == "interrupted" and "interrupted" in str(view.query_one(".footer").render())


async def test_bad_model_paths_are_reported_and_the_old_model_stays(home, tmp_path):
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, f"/model {tmp_path / 'nope'}")
        await wait_until(pilot, lambda: "Could not load" in notes(app)[-1])
        assert "no such file or folder" in notes(app)[-1] and "Still using fake-SmolLM2-135M" in notes(app)[-1]
        (tmp_path / "notamodel").mkdir()
        await send(pilot, f"/model {tmp_path / 'notamodel'}")
        await wait_until(pilot, lambda: "config.json is missing" in notes(app)[-1])
        await send(pilot, "still works?")
        assert replies(app)[-1].status == "done"
    app = make_app(FakeEngine(load_error="weights are truncated"))
    async with app.run_test() as pilot:
        await ready(pilot)
        assert "weights are truncated" in notes(app)[-1]
        await send(pilot, "hello")
        assert "No model is loaded" in notes(app)[-1] and app.query_one("#prompt").text == "hello"


async def test_corrupt_database_message_in_app(home):
    home.mkdir(parents=True)
    (home / "chats.db").write_bytes(b"\x00garbage" * 64)
    store, notice = Store.open(home / "chats.db")
    app = make_app(store=store, store_notice=notice)
    async with app.run_test() as pilot:
        await ready(pilot)
        assert "moved to chats.db.corrupt-" in notes(app)[0]
        await send(pilot, "works anyway")
        assert store.messages(app.chat.id)[-1].status == "done"
    assert list(home.glob("chats.db.corrupt-*"))


async def test_export_markdown_and_json(home, tmp_path):
    app = make_app(store=open_store(home))
    async with app.run_test() as pilot:
        await send(pilot, "/export")
        assert "Nothing to export" in notes(app)[-1]
        await send(pilot, "export me")
        await send(pilot, "/export md")
        md = next((home / "exports").glob("*.md")).read_text()
        assert "## You\n\nexport me" in md and replies(app)[-1].text in md
        await send(pilot, f"/export json {tmp_path / 'out.json'}")
        data = json.loads((tmp_path / "out.json").read_text())
        assert data["messages"][1]["stats"]["alpha"] > 1 and data["messages"][1]["model"] == "fake-SmolLM2-135M"
        assert data["messages"][1]["params"]["mode"] == "d2sd" and data["messages"][1]["stop_reason"] == "stop"
        await send(pilot, "/export pdf")
        assert "md or json" in notes(app)[-1]


async def test_new_clear_copy_and_completion():
    app = make_app()
    async with app.run_test() as pilot:
        await send(pilot, "```py\nx = 1\n``` code?")
        await send(pilot, "/copy")
        assert app.clipboard == replies(app)[-1].text
        await send(pilot, "/copy code")
        assert app.clipboard.startswith("def accept(draft, target):")
        await pilot.press("f4")
        assert app.clipboard == replies(app)[-1].text
        prompt = app.query_one("#prompt")
        prompt.load_text("/ex")
        await pilot.press("tab")
        assert prompt.text == "/export "
        assert app.query_one("#hints").display and "/export [md|json] [path]" in str(app.query_one("#hints").render())
        prompt.load_text("")
        await pilot.pause()
        await send(pilot, "/clear")
        assert not list(app.query("MessageView")) and app.store.messages(app.chat.id) == []
        await send(pilot, "in the same chat")
        first_chat = app.chat.id
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.chat is None and not list(app.query("MessageView"))
        await send(pilot, "/new Named chat")
        assert app.chat.title == "Named chat" and app.chat.id != first_chat


async def test_help_lists_every_key_and_command_and_honours_the_keymap(home):
    home.mkdir(parents=True)
    (home / "config.json").write_text(json.dumps({"keymap": {"stop": "f9", "help": "f5"}}))
    config, notice = load_config()
    assert notice == ""
    gate = Gate()
    app = make_app(FakeEngine(gate=gate.semaphore), config=config)
    async with app.run_test(size=(120, 50)) as pilot:
        await ready(pilot)
        await pilot.press("f5")
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for words in ("f9", "Stop generating", "enter", "shift+enter / ctrl+j", "/spec", "/export", "/help",
                      "Colour tokens by source", "ctrl+q", "keymap"):
            assert words in text, words
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await send(pilot, "stop me", wait=False)
        gate.step(2)
        await wait_until(pilot, lambda: app.reply is not None and app.reply.text)
        await pilot.press("f9")
        await wait_until(pilot, lambda: replies(app)[-1].status == "stopped")
        gate.step(100)


async def test_system_prompt_editor_and_pickers(home, tmp_path):
    models = home / "models"
    for name, cfg in (("tiny-target", {"vocab_size": 100}), ("good-drafter", {"vocab_size": 100, "block_size": 8}),
                      ("wrong-vocab-drafter", {"vocab_size": 7, "block_size": 8})):
        (models / name).mkdir(parents=True)
        (models / name / "config.json").write_text(json.dumps(cfg))
        (models / name / "model.safetensors").write_bytes(b"\0")
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "/system")
        assert isinstance(app.screen, SystemPromptScreen)
        app.screen.query_one("TextArea").load_text("Answer in French.")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.chat.system_prompt == "Answer in French."
        await send(pilot, "/model")
        assert isinstance(app.screen, ChoiceScreen)
        options = app.screen.query_one(OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert labels[0].startswith("Default bundle") and any("tiny-target" in l for l in labels)
        assert not any("drafter" in l for l in labels[1:])
        options.highlighted = next(i for i, l in enumerate(labels) if "tiny-target" in l)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.info and app.info.name == "tiny-target")
        await send(pilot, "/draft")
        options = app.screen.query_one(OptionList)
        rows = {str(options.get_option_at_index(i).prompt): options.get_option_at_index(i).disabled
                for i in range(options.option_count)}
        assert any("good-drafter" in k and not v for k, v in rows.items())
        assert any("wrong-vocab-drafter" in k and "vocabulary mismatch: drafter 7 tokens, target 100" in k and v
                   for k, v in rows.items())
        await pilot.press("escape")
        await send(pilot, f"/draft vp {models / 'good-drafter'}")
        await wait_until(pilot, lambda: engine.loads[-1][2] == str(models / "good-drafter"))
        await send(pilot, "/draft off")
        assert app.params.mode == "ar"


async def test_enter_typed_in_one_burst_sends_everything_typed_before_it():
    """A terminal delivers 'text⏎' in one read; Enter must not overtake the queued characters."""
    from textual import events

    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        for ch in "Second question":
            app.post_message(events.Key(ch, ch))
        app.post_message(events.Key("enter", "\r"))
        await wait_until(pilot, lambda: not app.busy and replies(app))
        assert [v.text for v in app.query("MessageView") if v.role == "user"] == ["Second question"]
        assert app.query_one("#prompt").text == ""


async def test_open_a_saved_chat_from_the_list(home):
    store = open_store(home)
    app = make_app(store=store)
    async with app.run_test(size=(120, 36)) as pilot:
        await send(pilot, "first chat question")
        first = app.chat.id
        await pilot.press("ctrl+n")
        await send(pilot, "second chat question")
        await send(pilot, "/chats")
        assert isinstance(app.screen, ChoiceScreen)
        options = app.screen.query_one(OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert labels[0].startswith("second chat question") and "2 messages" in labels[0]
        options.highlighted = 1
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.chat.id == first)
        assert [v.text for v in app.query("MessageView")][0] == "first chat question"


def test_the_ui_does_not_import_mlx():
    import subprocess
    import sys

    code = ("import sys, app.app, app.chat, app.fake_engine, app.oneshot; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('mlx', 'mlx_lm')]; "
            "assert not bad, bad")
    from pathlib import Path

    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
