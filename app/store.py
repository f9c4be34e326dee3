"""Chats in SQLite: schema version in `PRAGMA user_version`, ordered migrations, WAL.

A reply is written while it streams (status "streaming"), so a killed app leaves the partial
text on disk; on the next start such rows are marked "interrupted". A corrupt file is moved
aside (never deleted); a file from a newer schema is left untouched and chats stay in memory.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path


def _v1(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE chats (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL DEFAULT '',
            system_prompt TEXT NOT NULL DEFAULT '',
            params TEXT NOT NULL DEFAULT '{}',
            model TEXT, drafter TEXT, vp_drafter TEXT,
            created_at REAL NOT NULL, updated_at REAL NOT NULL
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            content TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'done',
            stop_reason TEXT,
            model TEXT, drafter TEXT, vp_drafter TEXT, mode TEXT,
            params TEXT, stats TEXT, alpha REAL,
            created_at REAL NOT NULL, updated_at REAL NOT NULL
        );
        """
    )


def _v2(db: sqlite3.Connection) -> None:
    """Token-source spans per message, and an index for loading a chat in order."""
    db.executescript(
        """
        ALTER TABLE messages ADD COLUMN spans TEXT;
        CREATE INDEX messages_by_chat ON messages(chat_id, id);
        """
    )


MIGRATIONS = [_v1, _v2]  # MIGRATIONS[i] upgrades schema version i to i + 1
SCHEMA_VERSION = len(MIGRATIONS)

CHAT_FIELDS = ("title", "system_prompt", "params", "model", "drafter", "vp_drafter")
MESSAGE_FIELDS = ("content", "status", "stop_reason", "model", "drafter", "vp_drafter", "mode",
                  "params", "stats", "alpha", "spans")


class StoreError(Exception):
    """The database cannot be used as is; the message says what happened to it."""


@dataclass
class Chat:
    id: int
    title: str
    system_prompt: str
    params: dict
    model: str | None
    drafter: str | None
    vp_drafter: str | None
    created_at: float
    updated_at: float


@dataclass
class StoredMessage:
    id: int
    chat_id: int
    role: str
    content: str
    status: str  # streaming, done, stopped, interrupted, error
    stop_reason: str | None = None
    model: str | None = None
    drafter: str | None = None
    vp_drafter: str | None = None
    mode: str | None = None
    params: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)
    alpha: float | None = None
    spans: list = field(default_factory=list)  # [[source, text], ...]
    created_at: float = 0.0
    updated_at: float = 0.0


class Store:
    """All reads and writes of chats. Used from the app thread only."""

    def __init__(self, db: sqlite3.Connection, path: Path | None, lock=None) -> None:
        self.db, self.path, self._lock = db, path, lock

    @classmethod
    def open(cls, path: Path) -> tuple[Store, str]:
        """Open (creating, migrating or recovering) the store; returns it and a notice ('' if none).

        One app instance at a time writes a data folder: it holds an exclusive lock on
        `chats.db.lock` while open. A second instance gets an in-memory store and a notice, so it
        never interleaves messages with the first or marks the first one's streaming reply as
        interrupted.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        lock, problem = _lock_folder(path)
        if lock is None:
            return cls.memory(), problem
        try:
            store, notice = cls._open_locked(path)
        except BaseException:
            _unlock(lock)
            raise
        if store.path is None:  # fell back to memory: nothing on disk to guard
            _unlock(lock)
        else:
            store._lock = lock
        return store, notice

    @classmethod
    def _open_locked(cls, path: Path) -> tuple[Store, str]:
        try:
            return cls(_connect(path), path), ""
        except _NewerSchema as exc:
            notice = (f"{path.name} was written by a newer version of the app (schema {exc.version}, "
                      f"this app knows {SCHEMA_VERSION}). It was left untouched; chats of this "
                      "session are kept in memory only.")
            return cls.memory(), notice
        except sqlite3.DatabaseError as exc:
            problem = str(exc)
        if "unable to open" in problem or "readonly" in problem:
            return cls.memory(), f"{path} cannot be opened ({problem}); chats are kept in memory only."
        try:
            aside = _move_aside(path)
            store = cls(_connect(path), path)
        except (OSError, sqlite3.DatabaseError) as exc:
            return cls.memory(), f"{path.name} is damaged ({problem}) and could not be set aside ({exc}); chats are kept in memory only."
        return store, (f"{path.name} could not be read ({problem}). It was moved to {aside.name} "
                       "and a new, empty chat database was started.")

    @classmethod
    def memory(cls) -> Store:
        return cls(_connect(None), None)

    def close(self) -> None:
        self.db.close()
        if self._lock is not None:
            _unlock(self._lock)
            self._lock = None

    # -- chats ---------------------------------------------------------------------------------
    def new_chat(self, title: str = "", system_prompt: str = "", params: dict | None = None,
                 model: str | None = None, drafter: str | None = None, vp_drafter: str | None = None) -> Chat:
        now = time.time()
        with self.db:
            cur = self.db.execute(
                "INSERT INTO chats (title, system_prompt, params, model, drafter, vp_drafter, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (title, system_prompt, json.dumps(params or {}), model, drafter, vp_drafter, now, now),
            )
        return self.chat(cur.lastrowid)

    def chat(self, chat_id: int) -> Chat | None:
        row = self.db.execute("SELECT * FROM chats WHERE id = ?", (chat_id,)).fetchone()
        return _chat(row) if row else None

    def chats(self) -> list[Chat]:
        rows = self.db.execute("SELECT * FROM chats ORDER BY updated_at DESC, id DESC").fetchall()
        return [_chat(r) for r in rows]

    def latest_chat(self) -> Chat | None:
        row = self.db.execute("SELECT * FROM chats ORDER BY updated_at DESC, id DESC LIMIT 1").fetchone()
        return _chat(row) if row else None

    def update_chat(self, chat_id: int, **values) -> None:
        self._update("chats", CHAT_FIELDS, chat_id, values)

    def delete_chat(self, chat_id: int) -> None:
        with self.db:
            self.db.execute("DELETE FROM chats WHERE id = ?", (chat_id,))

    # -- messages ------------------------------------------------------------------------------
    def add_message(self, chat_id: int, role: str, content: str = "", status: str = "done", **meta) -> int:
        now = time.time()
        with self.db:
            cur = self.db.execute(
                "INSERT INTO messages (chat_id, role, content, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (chat_id, role, content, status, now, now),
            )
            self.db.execute("UPDATE chats SET updated_at = ? WHERE id = ?", (now, chat_id))
        if meta:
            self.update_message(cur.lastrowid, **meta)
        return cur.lastrowid

    def update_message(self, message_id: int, **values) -> None:
        self._update("messages", MESSAGE_FIELDS, message_id, values)

    def delete_message(self, message_id: int) -> None:
        with self.db:
            self.db.execute("DELETE FROM messages WHERE id = ?", (message_id,))

    def messages(self, chat_id: int) -> list[StoredMessage]:
        rows = self.db.execute("SELECT * FROM messages WHERE chat_id = ? ORDER BY id", (chat_id,)).fetchall()
        return [_message(r) for r in rows]

    def clear_messages(self, chat_id: int) -> None:
        with self.db:
            self.db.execute("DELETE FROM messages WHERE chat_id = ?", (chat_id,))

    def ar_baseline(self, model: str | None) -> float | None:
        """Decode tokens/s of the latest plain (AR) reply with this model, if any was measured."""
        row = self.db.execute(
            "SELECT stats FROM messages WHERE mode = 'ar' AND model IS ? AND role = 'assistant'"
            " AND status = 'done' AND stats IS NOT NULL ORDER BY id DESC LIMIT 1",
            (model,),
        ).fetchone()
        if not row:
            return None
        tps = json.loads(row["stats"]).get("generation_tps")
        return tps or None

    def _update(self, table: str, allowed: tuple, row_id: int, values: dict) -> None:
        unknown = set(values) - set(allowed)
        if unknown:
            raise ValueError(f"unknown {table} fields: {sorted(unknown)}")
        if not values:
            return
        values = {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in values.items()}
        sets = ", ".join(f"{k} = ?" for k in values)
        with self.db:
            self.db.execute(f"UPDATE {table} SET {sets}, updated_at = ? WHERE id = ?",
                            (*values.values(), time.time(), row_id))


class _NewerSchema(Exception):
    def __init__(self, version: int) -> None:
        super().__init__(version)
        self.version = version


def _connect(path: Path | None) -> sqlite3.Connection:
    db = sqlite3.connect(str(path) if path else ":memory:")
    db.row_factory = sqlite3.Row
    try:
        if path is not None:
            ok = db.execute("PRAGMA quick_check").fetchone()[0]
            if ok != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {ok}")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise _NewerSchema(version)
        if path is not None:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        for step in range(version, SCHEMA_VERSION):
            with db:
                MIGRATIONS[step](db)
                db.execute(f"PRAGMA user_version = {step + 1}")
        with db:
            db.execute("UPDATE messages SET status = 'interrupted' WHERE status = 'streaming'")
    except BaseException:
        db.close()
        raise
    return db


def _lock_folder(path: Path):
    """(an open lock file, '') when this process may write `path`, else (None, why not)."""
    lock_path = path.with_name(path.name + ".lock")
    try:
        import fcntl
    except ImportError:  # no advisory locks here (Windows): one instance is assumed
        return False, ""
    try:
        f = open(lock_path, "a+")
    except OSError:
        return False, ""  # a read-only folder: sqlite reports it when opening
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        return None, (f"Another d2sd chat is already using {path.parent} (its chats are locked by "
                      f"{lock_path.name}). Chats of this session are kept in memory only and are not saved; "
                      "close the other instance, or start this one with D2SD_CHAT_HOME set to another folder.")
    return f, ""


def _unlock(lock) -> None:
    if lock:
        lock.close()  # closing the file releases the flock


def _move_aside(path: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    path.rename(aside)
    for suffix in ("-wal", "-shm"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            extra.rename(aside.with_name(aside.name + suffix))
    return aside


def _chat(row: sqlite3.Row) -> Chat:
    data = dict(row)
    data["params"] = json.loads(data["params"] or "{}")
    return Chat(**data)


def _message(row: sqlite3.Row) -> StoredMessage:
    data = dict(row)
    for key in ("params", "stats"):
        data[key] = json.loads(data[key]) if data[key] else {}
    data["spans"] = json.loads(data["spans"]) if data.get("spans") else []
    return StoredMessage(**data)
