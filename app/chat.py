"""`python -m app.chat`: the terminal chat app, or one-shot mode with --prompt / piped stdin."""

from __future__ import annotations

import argparse
import os
import sys

from .params import MODES, ParamError, Params

FAKE_ENV = "D2SD_CHAT_FAKE"  # "1": use the scripted FakeEngine (demos and tests)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m app.chat", description=__doc__)
    p.add_argument("--model", help="target model folder (default: the embedded default bundle)")
    p.add_argument("--drafter", help="DFlash drafter folder")
    p.add_argument("--vp-drafter", help="VP drafter folder (D²SD's second drafter)")
    p.add_argument("--mode", choices=MODES, help="decoding mode (default d2sd; ar = plain decoding)")
    p.add_argument("--temp", help="sampling temperature (default 0)")
    p.add_argument("--max-tokens", help="longest reply in tokens (default 1024)")
    p.add_argument("--prompt", help="answer this prompt and exit ('-' reads it from stdin)")
    p.add_argument("--system", default=None, help="system prompt for --prompt")
    p.add_argument("--stats", action="store_true", help="with --prompt: print stats to stderr")
    p.add_argument("--fake", action="store_true", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    overrides = {k: v for k, v in (("mode", args.mode), ("temp", args.temp), ("max_tokens", args.max_tokens)) if v is not None}
    from .config import data_dir, load_config

    config, config_notice = load_config()
    try:
        params = Params.from_dict(config.params)
        for key, value in overrides.items():
            params = params.set(key, value)
    except ParamError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    engine = make_engine(args.fake or os.environ.get(FAKE_ENV) == "1")

    prompt = args.prompt
    if prompt == "-" or (prompt is None and not sys.stdin.isatty()):
        prompt = sys.stdin.read()
    if prompt is not None:
        from . import oneshot

        sys.stdout.reconfigure(errors="replace")
        system = args.system if args.system is not None else config.system_prompt
        return oneshot.run(engine, prompt, params, model=args.model, drafter=args.drafter,
                           vp_drafter=args.vp_drafter, system=system, stats=args.stats)

    from .app import ChatApp
    from .store import Store

    store, store_notice = Store.open(data_dir() / "chats.db")
    app = ChatApp(engine, model=args.model, drafter=args.drafter, vp_drafter=args.vp_drafter,
                  params=params, overrides=overrides, store=store,
                  store_notice=store_notice, config=config, config_notice=config_notice)
    app.run()
    store.close()
    if not app.runner.join(timeout=2.0):
        # The engine is inside a model load that cannot be interrupted; letting the interpreter
        # finalize under it can abort in native code, so leave now (the store is closed).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


def make_engine(fake: bool):
    if fake:
        from .fake_engine import FakeEngine

        return FakeEngine(delay=float(os.environ.get("D2SD_CHAT_FAKE_DELAY", "0.04")))
    from .engine import RealEngine

    return RealEngine()


if __name__ == "__main__":
    sys.exit(main())
