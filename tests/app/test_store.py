"""The chat database: migrations, WAL, recovery from corrupt and newer files, export."""

from __future__ import annotations

import json
import sqlite3

from app import export
from app.store import SCHEMA_VERSION, Store


def test_round_trip_wal_and_interrupted(tmp_path):
    path = tmp_path / "chats.db"
    store, notice = Store.open(path)
    assert notice == ""
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    chat = store.new_chat("first", system_prompt="be brief", params={"temp": 0.5}, model="m")
    store.add_message(chat.id, "user", "hi")
    reply = store.add_message(chat.id, "assistant", "", status="streaming", model="m", mode="d2sd")
    store.update_message(reply, content="partial ans")
    store.close()  # as if the app died mid-reply

    store, _ = Store.open(path)
    msgs = store.messages(chat.id)
    assert [(m.role, m.content, m.status) for m in msgs] == [("user", "hi", "done"), ("assistant", "partial ans", "interrupted")]
    assert store.chat(chat.id).params == {"temp": 0.5}
    assert store.latest_chat().id == chat.id


def test_migrates_a_version_1_database(tmp_path):
    path = tmp_path / "chats.db"
    db = sqlite3.connect(path)
    from app.store import MIGRATIONS

    MIGRATIONS[0](db)
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO chats (title, created_at, updated_at) VALUES ('old', 1, 1)")
    db.execute("INSERT INTO messages (chat_id, role, content, created_at, updated_at) VALUES (1, 'user', 'kept', 1, 1)")
    db.commit()
    db.close()
    store, notice = Store.open(path)
    assert notice == ""
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    [msg] = store.messages(1)
    assert msg.content == "kept" and msg.spans == []


def test_corrupt_database_is_moved_aside_not_deleted(tmp_path):
    path = tmp_path / "chats.db"
    junk = b"this is not sqlite" * 100
    path.write_bytes(junk)
    store, notice = Store.open(path)
    assert "could not be read" in notice and "moved to chats.db.corrupt-" in notice
    [aside] = tmp_path.glob("chats.db.corrupt-*")
    assert aside.read_bytes() == junk
    store.new_chat("fresh")
    assert [c.title for c in store.chats()] == ["fresh"]


def test_newer_schema_is_left_untouched(tmp_path):
    path = tmp_path / "chats.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE future (x)")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 3}")
    db.commit()
    db.close()
    before = path.read_bytes()
    store, notice = Store.open(path)
    assert "newer version" in notice and "left untouched" in notice
    store.new_chat("in memory")
    store.close()
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("chats.db.corrupt-*"))


def test_ar_baseline_from_stored_plain_replies():
    store = Store.memory()
    chat = store.new_chat()
    assert store.ar_baseline("m") is None
    store.add_message(chat.id, "assistant", "x", mode="ar", model="m", stats={"generation_tps": 17.5})
    store.add_message(chat.id, "assistant", "y", mode="d2sd", model="m", stats={"generation_tps": 40.0})
    assert store.ar_baseline("m") == 17.5
    assert store.ar_baseline("other") is None


def test_export_markdown_and_json(tmp_path):
    store = Store.memory()
    chat = store.new_chat("Fences & tables", system_prompt="be brief", model="m")
    store.add_message(chat.id, "user", "show code")
    store.add_message(chat.id, "assistant", "```py\nx = 1\n```", status="done", model="m", mode="d2sd",
                      stop_reason="stop", alpha=3.5, stats={"generation_tokens": 9, "generation_tps": 30.0},
                      spans=[["dflash", "```py\nx"], ["target", " = 1\n```"]])
    msgs = store.messages(chat.id)
    md = export.to_markdown(chat, msgs)
    assert md.startswith("# Fences & tables\n")
    assert "> be brief" in md and "## You\n\nshow code" in md and "```py\nx = 1\n```" in md
    assert "α 3.50" in md and "9 tokens at 30.0 tok/s" in md
    data = json.loads(export.to_json(chat, msgs))
    assert data["format"] == "d2sd-chat" and data["chat"]["system_prompt"] == "be brief"
    assert data["messages"][1]["spans"][0] == ["dflash", "```py\nx"]
    assert data["messages"][1]["stop_reason"] == "stop"
    out = export.write(chat, msgs, "json", tmp_path)
    assert out.name == f"fences-tables-{chat.id}.json" and json.loads(out.read_text())["messages"]


def test_second_instance_on_one_data_folder_never_mixes_or_mislabels(tmp_path):
    """Two apps on one data folder: the second gets an in-memory store and says why (issue 15, item 5)."""
    path = tmp_path / "chats.db"
    first, notice = Store.open(path)
    assert notice == "" and first.path == path
    chat = first.new_chat("one")
    first.add_message(chat.id, "user", "q1")
    reply = first.add_message(chat.id, "assistant", "partial", status="streaming")

    second, notice = Store.open(path)  # another instance starts while the first streams
    assert second.path is None and "Another d2sd chat is already using" in notice and "D2SD_CHAT_HOME" in notice
    assert second.chats() == []
    second.add_message(second.new_chat("two").id, "user", "q2")  # kept in its memory, not in the file
    third, _ = Store.open(path)
    assert third.path is None
    assert [(m.role, m.content, m.status) for m in first.messages(chat.id)] == [
        ("user", "q1", "done"), ("assistant", "partial", "streaming")]  # not marked interrupted
    first.update_message(reply, content="partial and done", status="done")
    for s in (first, second, third):
        s.close()

    again, notice = Store.open(path)  # the folder is free again once the first instance closed
    assert notice == "" and again.path == path
    assert [(m.content, m.status) for m in again.messages(chat.id)] == [("q1", "done"), ("partial and done", "done")]
    assert len(again.chats()) == 1
    again.close()
