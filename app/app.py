"""The chat app: messages, prompt, live stats; the engine runs on one worker thread."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from . import clipboard, commands, export, metrics
from .config import Config, data_dir
from .engine import Engine, EngineInfo, resolve_mode
from .keys import APP_KEYS, SCROLL_KEYS, bindings
from .models import compatible, scan, vocab_of
from .params import SPEC_MODES, ParamError, Params
from .runner import ChunksReady, EngineLoaded, EngineLoadFailed, EngineRunner, GenerationDone
from .screens.choice import Choice, ChoiceScreen
from .screens.help import HelpScreen
from .screens.system import SystemPromptScreen
from .store import Chat, Store
from .widgets.message import MessageView, Note
from .widgets.prompt import CommandHints, PromptInput
from .widgets.spec_panel import SpecPanel
from .widgets.status import Diagnostics, StatusBar

WELCOME = (
    "Ask anything and press Enter. Shift+Enter or Ctrl+J adds a line, Esc stops a reply, "
    "F1 lists every key, and / starts a command (Tab completes)."
)
FINAL_STATUS = {"stop": "done", "length": "done", "stopped": "stopped", "error": "error"}


class ChatApp(App):
    CSS_PATH = "chat.tcss"
    TITLE = "d2sd chat"
    BINDINGS = bindings(APP_KEYS) + bindings(SCROLL_KEYS, priority=True)

    def __init__(self, engine: Engine, *, model: str | None = None, drafter: str | None = None,
                 vp_drafter: str | None = None, params: Params | None = None, overrides: dict | None = None,
                 store: Store | None = None, store_notice: str = "", config: Config | None = None,
                 config_notice: str = "") -> None:
        super().__init__()
        self.engine = engine
        self.runner = EngineRunner(engine, self)
        self.config = config or Config()
        self.keymap_config = dict(self.config.keymap)
        self.store = store or Store.memory()
        self.notices = [n for n in (store_notice, config_notice) if n]
        self.model, self.drafter, self.vp_drafter = model, drafter, vp_drafter
        self.default_params = params or Params.from_dict(self.config.params)
        self.overrides = overrides or {}  # explicit command-line flags, applied to the open chat
        self.params = self.default_params
        self.chat: Chat | None = None
        self.info: EngineInfo | None = None
        self.load_error = ""
        self.gen_id: int | None = None
        self.reply: MessageView | None = None
        self.reply_id: int | None = None
        self.reply_prompt = ""  # restored into the box if a reply is stopped before any token
        self.reply_mode = ""
        self.last_stats = None
        self.mode_note = ""
        self.show_sources = False
        self._broken_noted = False
        self._finishing = 0
        self._last_spec_mode = "d2sd"

    # -- layout --------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            with VerticalScroll(id="messages"):
                yield Static(WELCOME, id="welcome")
            yield SpecPanel(id="spec")
        yield Diagnostics(id="diagnostics", markup=False)
        yield CommandHints(id="hints", markup=False)
        yield PromptInput(id="prompt")
        yield StatusBar(id="status", markup=False)
        yield Footer()

    async def on_mount(self) -> None:
        self.set_keymap(self.keymap_config)
        self.main_screen.query_one("#hints").display = False
        self.main_screen.query_one(SpecPanel).display = self.size.width >= 100
        self.runner.start()
        self.runner.submit_load(self.model, self.drafter, self.vp_drafter)
        chat = self.store.latest_chat()
        if chat is not None:
            await self.open_chat(chat.id)
        elif self.overrides:
            self.params = self.params_with_overrides(self.default_params)
        for notice in self.notices:
            self.say(notice, "error")
            self.notify(notice, severity="error", timeout=10)
        self.refresh_status()
        self.main_screen.query_one(PromptInput).focus()

    @property
    def main_screen(self) -> Screen:
        return self.screen_stack[0]

    @property
    def messages_box(self) -> VerticalScroll:
        return self.main_screen.query_one("#messages", VerticalScroll)

    def say(self, text: str, kind: str = "info") -> Note:
        """Show an app message in the chat (not stored)."""
        note = Note(text, kind)
        self.messages_box.mount(note)
        self.messages_box.scroll_end(animate=False)
        return note

    # -- chats ---------------------------------------------------------------------------------
    def params_with_overrides(self, params: Params) -> Params:
        for key, value in self.overrides.items():
            params = params.set(key, str(value))
        return params

    async def open_chat(self, chat_id: int) -> None:
        await self.stop_reply()
        chat = self.store.chat(chat_id)
        if chat is None:
            return
        self.chat = chat
        self.params = Params.from_dict(chat.params)
        if self.overrides:
            self.params = self.params_with_overrides(self.params)
            self.overrides = {}
            self.store.update_chat(chat.id, params=self.params.to_dict())
        box = self.messages_box
        await box.remove_children()
        views = [
            MessageView(m.role, m.content, spans=m.spans, status=m.status, message_id=m.id,
                        footer=_footer(m.status, m.stop_reason, m.stats, m.model) if m.role == "assistant" else "")
            for m in self.store.messages(chat.id)
        ]
        if not views:
            await box.mount(Static(WELCOME, id="welcome"))
        await box.mount_all(views)
        for view in views:
            view.show_sources(self.show_sources)
        box.anchor()  # show the latest turn once laid out
        self.last_stats = None
        self.refresh_status()

    def ensure_chat(self, title: str = "") -> Chat:
        if self.chat is None:
            self.chat = self.store.new_chat(
                title=title[:60], system_prompt=self.config.system_prompt, params=self.params.to_dict(),
                model=self.model, drafter=self.drafter, vp_drafter=self.vp_drafter,
            )
        return self.chat

    async def new_chat(self, title: str = "") -> None:
        await self.stop_reply()
        self.chat = None
        self.params = self.default_params
        await self.messages_box.remove_children()
        await self.messages_box.mount(Static(WELCOME, id="welcome"))
        if title:
            self.ensure_chat(title)
        self.last_stats = None
        self.refresh_status()

    def history(self) -> list[dict]:
        """The conversation as the engine sees it: system prompt, then every answered turn."""
        out = []
        if self.chat and self.chat.system_prompt:
            out.append({"role": "system", "content": self.chat.system_prompt})
        for view in self.main_screen.query(MessageView):
            if view.text and view.status != "error":
                out.append({"role": view.role, "content": view.text})
        return out

    # -- sending and streaming -----------------------------------------------------------------
    async def on_prompt_input_submitted(self, event: PromptInput.Submitted) -> None:
        text = event.text
        if text.startswith("/"):
            await self.run_command(text)
            return
        if self.gen_id is not None:
            self.main_screen.query_one(PromptInput).set_text(text)
            self.notify("Still answering: press Esc to stop first.", severity="warning")
            return
        if self.info is None and self.load_error:
            self.main_screen.query_one(PromptInput).set_text(text)
            self.say(f"No model is loaded ({self.load_error}). Use /model to load one.", "error")
            return
        await self.send(text)

    async def send(self, text: str) -> None:
        chat = self.ensure_chat(title=text.splitlines()[0])
        for welcome in self.main_screen.query("#welcome"):
            await welcome.remove()
        user_id = self.store.add_message(chat.id, "user", text)
        box = self.messages_box
        await box.mount(MessageView("user", text, message_id=user_id))
        messages = self.history()
        mode, self.mode_note = resolve_mode(self.params.mode, self.info)
        params = self.params if mode == self.params.mode else Params.from_dict({**self.params.to_dict(), "mode": mode})
        info = self.info
        self.reply_id = self.store.add_message(
            chat.id, "assistant", "", status="streaming", mode=mode, params=params.to_dict(),
            model=info.name if info else self.model, drafter=info.drafter if info else self.drafter,
            vp_drafter=info.vp_drafter if info else self.vp_drafter,
        )
        self.reply = MessageView("assistant", status="streaming", message_id=self.reply_id,
                                 footer="● answering… (Esc stops)")
        await box.mount(self.reply)
        self.reply.show_sources(self.show_sources)
        box.anchor()
        self.reply_prompt, self.reply_mode, self.last_stats = text, mode, None
        self._broken_noted = False
        self.gen_id = self.runner.submit_generate(messages, params)
        self.refresh_status()

    async def on_chunks_ready(self, _: ChunksReady) -> None:
        await self.apply_chunks()

    async def apply_chunks(self) -> None:
        chunks = [c for c in self.runner.take() if c.gen_id == self.gen_id]
        if not chunks or self.reply is None:
            return
        text = "".join(c.text for c in chunks)
        pieces = [p for c in chunks for p in c.pieces]
        sources = [s for c in chunks for s in c.sources]
        await self.reply.append(text, pieces, sources)
        self.last_stats = chunks[-1].stats
        if any(c.broken_utf8 for c in chunks) and not self._broken_noted:
            self._broken_noted = True
            self.notify("The model produced bytes that are not valid UTF-8; they are shown as �.",
                        severity="warning", timeout=8)
        self.store.update_message(self.reply_id, content=self.reply.text)
        self.refresh_status()

    async def on_generation_done(self, event: GenerationDone) -> None:
        if event.gen_id != self.gen_id:
            return  # already finished on this side (stopped)
        await self.apply_chunks()
        await self.finish_reply(event.reason, event.error)

    @property
    def busy(self) -> bool:
        """A reply is streaming or being finished."""
        return self.gen_id is not None or self._finishing > 0

    async def finish_reply(self, reason: str, error: str = "") -> None:
        reply, reply_id, stats = self.reply, self.reply_id, self.last_stats
        self.gen_id, self.reply = None, None
        status = FINAL_STATUS.get(reason, "done")
        if error:
            self.say(f"The engine failed: {error}", "error")
        footer = _footer(status, reason, stats.to_dict() if stats else {}, self.info.name if self.info else None,
                         error=error)
        self.store.update_message(
            reply_id, content=reply.text, status=status, stop_reason=reason, spans=reply.spans,
            stats=stats.to_dict() if stats else None, alpha=stats.alpha if stats and stats.cycles else None,
        )
        self._finishing += 1
        try:
            await reply.finish(status, footer)
        finally:
            self._finishing -= 1
        self.refresh_status()

    async def stop_reply(self) -> None:
        """Stop the running reply: the engine halts within one cycle; the text so far is kept."""
        if self.gen_id is None:
            return
        self.runner.stop(self.gen_id)
        await self.apply_chunks()
        if self.reply is not None and not self.reply.text:
            await self.withdraw_reply()
            return
        await self.finish_reply("stopped")

    async def withdraw_reply(self) -> None:
        """Stopped before any token: forget the turn and give the prompt back."""
        user_view = list(self.main_screen.query(MessageView))[-2]
        self.store.delete_message(self.reply_id)
        self.store.delete_message(user_view.message_id)
        await self.reply.remove()
        await user_view.remove()
        self.gen_id, self.reply = None, None
        self.main_screen.query_one(PromptInput).set_text(self.reply_prompt)
        self.notify("Stopped before the first token; your prompt is back in the box.")
        self.refresh_status()

    # -- engine loading ------------------------------------------------------------------------
    def on_engine_loaded(self, event: EngineLoaded) -> None:
        first = self.info is None and not self.load_error
        self.info, self.load_error = event.info, ""
        if not first:
            self.say(f"Loaded {event.info.name} ({metrics.spec_badge(event.info, resolve_mode(self.params.mode, event.info)[0])}).")
        self.refresh_status()

    def on_engine_load_failed(self, event: EngineLoadFailed) -> None:
        still = f" Still using {self.info.name}." if self.info else ""
        self.load_error = event.error
        self.say(f"Could not load the model: {event.error}.{still}", "error")
        self.refresh_status()

    def load_model(self, model: str | None, drafter: str | None, vp_drafter: str | None) -> None:
        self.model, self.drafter, self.vp_drafter = model, drafter, vp_drafter
        self.say(f"Loading {model or 'the default bundle'}"
                 f"{f' with drafter {drafter}' if drafter else ''}{f' and VP drafter {vp_drafter}' if vp_drafter else ''}…")
        self.runner.submit_load(model, drafter, vp_drafter)

    # -- status --------------------------------------------------------------------------------
    def refresh_status(self) -> None:
        try:
            self._refresh_status()
        except NoMatches:
            pass  # the app is closing

    def _refresh_status(self) -> None:
        stats = self.last_stats
        state = "answering" if self.gen_id is not None else ("loading" if self.info is None and not self.load_error else "")
        self.main_screen.query_one(StatusBar).update(metrics.status_line(stats, self.info, state))
        mode = self.reply_mode if self.gen_id is not None else resolve_mode(self.params.mode, self.info)[0]
        badge = metrics.spec_badge(self.info, mode)
        ar_tps = self.store.ar_baseline(self.info.name) if self.info else None
        block = self.params.block_size or (self.info.block_size if self.info else None)
        self.main_screen.query_one(SpecPanel).show(badge, metrics.spec_summary(stats, self.info, block, ar_tps),
                                       stats.accepted_lengths if stats else [])
        if self.gen_id is None:
            self.mode_note = resolve_mode(self.params.mode, self.info)[1]
        self.main_screen.query_one(Diagnostics).show(metrics.diagnostics(self.info, self.params.mode, self.mode_note, stats, ar_tps))
        title = self.chat.title if self.chat and self.chat.title else "new chat"
        model = self.info.name if self.info else ("not loaded" if self.load_error else "loading…")
        self.sub_title = f"{title} — {model} · {badge}"

    def on_text_area_changed(self, event) -> None:
        if isinstance(event.text_area, PromptInput):
            self.main_screen.query_one(CommandHints).show_for(event.text_area.text)

    # -- key actions ---------------------------------------------------------------------------
    async def action_stop(self) -> None:
        await self.stop_reply()

    def action_scroll_chat(self, direction: int) -> None:
        box = self.messages_box
        box.scroll_page_down(animate=False) if direction > 0 else box.scroll_page_up(animate=False)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    async def action_new_chat(self) -> None:
        await self.new_chat()

    def action_toggle_sources(self) -> None:
        self.show_sources = not self.show_sources
        for view in self.main_screen.query(MessageView):
            view.show_sources(self.show_sources)
        self.notify("Token sources: green = DFlash, magenta = VP, plain = target/bonus."
                    if self.show_sources else "Token sources off.", timeout=4)

    def action_toggle_stats(self) -> None:
        panel = self.main_screen.query_one(SpecPanel)
        panel.display = not panel.display

    def action_open_chats(self) -> None:
        chats = self.store.chats()
        choices = [Choice(f"{c.title or 'untitled'}  · {len(self.store.messages(c.id))} messages", str(c.id)) for c in chats]

        async def picked(value: str | None) -> None:
            if value:
                await self.open_chat(int(value))

        self.push_screen(ChoiceScreen("Saved chats", choices), picked)

    def action_pick_model(self) -> None:
        extra = [data_dir() / "models", *[Path(d) for d in self.config.model_dirs]]
        choices = [Choice("Default bundle (SmolLM2-135M-Instruct + drafters)", "default")]
        choices += [Choice(c.describe(), c.path) for c in scan(extra) if c.kind == "target"]

        def picked(value: str | None) -> None:
            if value:
                self.load_model(None if value == "default" else value, None, None)

        self.push_screen(ChoiceScreen("Pick a model", choices, path_prompt="…or type a model folder path"), picked)

    def pick_drafter(self, vp: bool) -> None:
        extra = [data_dir() / "models", *[Path(d) for d in self.config.model_dirs]]
        target_vocab = vocab_of(self.model)
        choices = [Choice("Default drafter of the bundle", "default")]
        choices += [Choice(c.describe(), c.path, compatible(c, target_vocab)) for c in scan(extra) if c.kind == "drafter"]

        def picked(value: str | None) -> None:
            if value:
                self.set_drafter(value, vp)

        kind = "VP drafter" if vp else "DFlash drafter"
        self.push_screen(ChoiceScreen(f"Pick a {kind}", choices, path_prompt="…or type a drafter folder path"), picked)

    def set_drafter(self, value: str, vp: bool) -> None:
        path = None if value == "default" else value
        if vp:
            self.load_model(self.model, self.drafter, path)
        else:
            self.load_model(self.model, path, self.vp_drafter)

    def action_copy_reply(self, code: bool = False) -> None:
        replies = [v for v in self.main_screen.query(MessageView) if v.role == "assistant" and v.text]
        if not replies:
            self.notify("There is no reply to copy yet.", severity="warning")
            return
        text = replies[-1].text
        if code:
            text = clipboard.last_code_block(text)
            if text is None:
                self.notify("The last reply has no code block.", severity="warning")
                return
        how = clipboard.copy(self, text)
        self.notify(f"Copied {len(text)} characters ({how}).", timeout=3)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for c in commands.COMMANDS:
            if c.name in ("quit", "set", "system", "draft", "model", "spec", "export"):
                continue
            yield SystemCommand(f"/{c.name}", c.help, lambda n=c.name: self.call_later(self.run_command, f"/{n}"))
        yield SystemCommand("/model", "Pick a model", self.action_pick_model)
        yield SystemCommand("/draft", "Pick a DFlash drafter", lambda: self.pick_drafter(False))
        yield SystemCommand("/system", "Edit the system prompt", lambda: self.call_later(self.run_command, "/system"))
        yield SystemCommand("/spec on", "Turn speculation on", lambda: self.call_later(self.run_command, "/spec on"))
        yield SystemCommand("/spec off", "Turn speculation off", lambda: self.call_later(self.run_command, "/spec off"))
        yield SystemCommand("/export md", "Export as Markdown", lambda: self.call_later(self.run_command, "/export md"))
        yield SystemCommand("/export json", "Export as JSON", lambda: self.call_later(self.run_command, "/export json"))

    async def on_unmount(self) -> None:
        self.runner.close()

    # -- slash commands ------------------------------------------------------------------------
    async def run_command(self, line: str) -> None:
        try:
            name, arg = commands.parse(line)
        except commands.CommandError as exc:
            self.say(str(exc), "error")
            return
        await getattr(self, f"cmd_{name}")(arg)

    async def cmd_new(self, arg: str) -> None:
        await self.new_chat(arg)

    async def cmd_chats(self, arg: str) -> None:
        self.action_open_chats()

    async def cmd_model(self, arg: str) -> None:
        if not arg:
            self.action_pick_model()
        else:
            self.load_model(None if arg == "default" else arg, None, None)

    async def cmd_draft(self, arg: str) -> None:
        vp = arg.split(" ", 1)[0] == "vp"
        value = arg.split(" ", 1)[1].strip() if vp and " " in arg else ("" if vp else arg)
        if not value:
            self.pick_drafter(vp)
        elif value == "off":
            await self.cmd_spec("dflash" if vp else "off")
        else:
            self.set_drafter(value, vp)

    async def cmd_system(self, arg: str) -> None:
        if not arg:
            current = self.chat.system_prompt if self.chat else self.config.system_prompt

            def saved(text: str | None) -> None:
                if text is not None:
                    self.set_system(text)

            self.push_screen(SystemPromptScreen(current), saved)
        else:
            self.set_system("" if arg == "clear" else arg)

    def set_system(self, text: str) -> None:
        chat = self.ensure_chat("")
        self.store.update_chat(chat.id, system_prompt=text)
        self.chat = self.store.chat(chat.id)
        self.say("System prompt cleared." if not text else f"System prompt set: {text}")

    async def cmd_set(self, arg: str) -> None:
        if not arg:
            self.say("Parameters of this chat: " + self.params.describe() + "\nChange one with /set KEY VALUE.")
            return
        key, _, value = arg.partition(" ")
        if not value.strip():
            self.say(f"/set {key} needs a value, e.g. /set temp 0.7", "error")
            return
        try:
            self.params = self.params.set(key, value)
        except ParamError as exc:
            self.say(str(exc), "error")
            return
        self.save_params()
        self.say(f"{key} = {value.strip()}")

    def save_params(self) -> None:
        if self.chat is not None:
            self.store.update_chat(self.chat.id, params=self.params.to_dict())
        self.refresh_status()

    async def cmd_spec(self, arg: str) -> None:
        arg = arg.lower()
        if not arg:
            info = self.info
            why = f" ({info.spec_reason})" if info and info.spec_reason else ""
            self.say(f"{metrics.spec_badge(info, resolve_mode(self.params.mode, info)[0])}{why}. "
                     f"Requested mode: {self.params.mode}.")
            return
        if arg == "on":
            mode = self._last_spec_mode
        elif arg == "off":
            mode = "ar"
        elif arg in ("ar", *SPEC_MODES):
            mode = arg
        else:
            self.say(f"/spec takes on, off, ar, dflash, dflash2 or d2sd, not '{arg}'.", "error")
            return
        if self.params.mode in SPEC_MODES:
            self._last_spec_mode = self.params.mode
        if mode in SPEC_MODES:
            self._last_spec_mode = mode
        self.params = self.params.set("mode", mode)
        self.save_params()
        self.say(f"Mode: {mode}." + (f" {self.mode_note}" if self.mode_note else ""))

    async def cmd_stats(self, arg: str) -> None:
        self.action_toggle_stats()

    async def cmd_sources(self, arg: str) -> None:
        self.action_toggle_sources()

    async def cmd_copy(self, arg: str) -> None:
        self.action_copy_reply(code=arg.strip() == "code")

    async def cmd_export(self, arg: str) -> None:
        fmt, _, where = arg.partition(" ")
        fmt = fmt.lower() or "md"
        if fmt not in export.FORMATS:
            self.say(f"/export takes md or json, not '{fmt}'.", "error")
            return
        if self.chat is None:
            self.say("Nothing to export yet: this chat has no messages.", "error")
            return
        target = Path(where.strip()) if where.strip() else data_dir() / "exports" / export.default_name(self.chat, fmt)
        try:
            path = export.write(self.chat, self.store.messages(self.chat.id), fmt, target)
        except OSError as exc:
            self.say(f"Could not export to {target}: {exc}", "error")
            return
        self.say(f"Exported to {path}")

    async def cmd_clear(self, arg: str) -> None:
        await self.stop_reply()
        if self.chat is not None:
            self.store.clear_messages(self.chat.id)
        await self.messages_box.remove_children()
        await self.messages_box.mount(Static(WELCOME, id="welcome"))
        self.last_stats = None
        self.refresh_status()

    async def cmd_help(self, arg: str) -> None:
        self.action_help()

    async def cmd_quit(self, arg: str) -> None:
        self.exit()


def _footer(status: str, reason: str | None, stats: dict, model: str | None, error: str = "") -> str:
    """The line under a reply: what stopped it and its key numbers."""
    if status == "streaming":
        return "● answering…"
    parts = {
        "stopped": "■ stopped by you",
        "interrupted": "■ interrupted (the app closed mid-reply)",
        "error": f"⚠ error{': ' + error if error else ''}",
    }.get(status, "✓ " + {"length": "max tokens reached", "context": "the model's context is full"}.get(reason, "done"))
    bits = [parts]
    if model:
        bits.append(model)
    if stats.get("generation_tokens"):
        bits.append(f"{stats['generation_tokens']} tokens · {stats.get('generation_tps', 0):.1f} tok/s")
    if stats.get("mode") and stats["mode"] != "ar" and stats.get("cycles"):
        bits.append(f"{stats['mode']} α {stats.get('alpha', 0):.2f}")
    return " · ".join(bits)
