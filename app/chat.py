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
    try:
        app.run()
    finally:
        clean = shutdown(app.runner, store)
    if not clean:
        hard_exit(0)
    return 0


JOIN_TIMEOUT_S = 5.0  # how long quitting waits for the engine to finish its current cycle


def shutdown(runner, store, timeout: float = JOIN_TIMEOUT_S) -> bool:
    """Stop the engine thread and close the store before the interpreter tears down.

    True when the engine thread has ended (a normal exit is then safe: MLX's streams are released
    on both threads); False when it is stuck in work that cannot be interrupted (a model load or
    conversion): the caller must then leave with `hard_exit`, never through interpreter finalization,
    which would run MLX's native teardown under the still-running thread (an abort, exit 134).
    """
    runner.close()
    joined = runner.join(timeout)
    store.close()
    if joined:
        release_mlx()
    return joined


def release_mlx() -> None:
    """MLX's recommended cleanup before interpreter shutdown (`mx.clear_streams`), if MLX was used."""
    mx = sys.modules.get("mlx.core")
    clear = getattr(mx, "clear_streams", None)
    if clear is not None:
        try:
            mx.synchronize()
            clear()
        except Exception:  # nothing to clean or already torn down
            pass


def hard_exit(code: int = 0) -> None:
    """Leave now, without interpreter finalization: remove the temporary folders of conversions the
    engine thread is still writing (e.g. the first-use conversion of the default model), flush, exit."""
    atomic = sys.modules.get("d2sd_mlx.atomic")
    if atomic is not None:
        atomic.remove_active()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def make_engine(fake: bool):
    if fake:
        from .fake_engine import FakeEngine

        return FakeEngine(delay=float(os.environ.get("D2SD_CHAT_FAKE_DELAY", "0.04")))
    from .engine import RealEngine

    return RealEngine()


if __name__ == "__main__":
    sys.exit(main())
