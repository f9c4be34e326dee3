"""Flags in mlx_lm.server's style; load the model, warm up, serve until interrupted."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
import time

from ..errors import D2SDError
from ..types import BUDGETS, MODES

log = logging.getLogger("d2sd_mlx.server")

DEFAULT_MODEL_ID = "SmolLM2-135M-Instruct"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m d2sd_mlx.server",
                                description="OpenAI-compatible HTTP server for D²SD speculative decoding with MLX.")
    p.add_argument("--model", help="mlx-lm model folder or bundle folder (default: the embedded SmolLM2-135M-Instruct bundle)")
    p.add_argument("--drafter", help="DFlash drafter folder")
    p.add_argument("--vp-drafter", help="VP drafter folder")
    p.add_argument("--mode", choices=MODES, help="default decoding mode (default: the best the loaded drafters allow)")
    p.add_argument("--budget", choices=BUDGETS, help="default tree budget (default: auto in d2sd mode, fixed otherwise)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on (0: any free port)")
    p.add_argument("--max-tokens", type=int, default=512, help="max_tokens of requests that do not say")
    p.add_argument("--temp", type=float, default=0.0, help="temperature of requests that do not say")
    p.add_argument("--top-p", type=float, default=1.0, help="top_p of requests that do not say")
    p.add_argument("--top-k", type=int, default=0, help="top_k of requests that do not say")
    p.add_argument("--queue-size", type=int, default=16, help="requests that may wait while one runs; more get a 503")
    p.add_argument("--max-request-bytes", type=int, default=1 << 20, help="largest request body accepted (413 above)")
    p.add_argument("--model-id", help="the model name reported by /v1/models (default: --model as given)")
    p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
    return p


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for flag, value, lo in (("--max-tokens", args.max_tokens, 1), ("--queue-size", args.queue_size, 1),
                            ("--max-request-bytes", args.max_request_bytes, 1), ("--top-k", args.top_k, 0)):
        if value < lo:
            print(f"error: {flag} must be >= {lo}, got {value}", file=sys.stderr)
            return 2
    if args.temp < 0 or not 0 <= args.top_p <= 1:
        print("error: --temp must be >= 0 and --top-p in [0, 1]", file=sys.stderr)
        return 2

    from ..loading import load
    from .app import D2SDServer, ServerConfig
    from .request import Defaults

    t0 = time.perf_counter()
    config = ServerConfig(model_id=args.model_id or args.model or DEFAULT_MODEL_ID, defaults=Defaults(
        max_tokens=args.max_tokens, temperature=args.temp, top_p=args.top_p, top_k=args.top_k, mode=args.mode,
        budget=args.budget), queue_size=args.queue_size, max_body_bytes=args.max_request_bytes)
    try:
        server = D2SDServer(config, args.host, args.port)
    except OSError as e:
        print(f"error: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 2
    try:
        server.load(lambda: load(args.model, args.drafter, args.vp_drafter))
    except D2SDError as e:
        server.server_close()
        print(f"error: {e}", file=sys.stderr)
        return 2
    bundle, modes = server.bundle, server.modes
    if args.mode is not None and args.mode not in modes:
        server.server_close()
        print(f"error: --mode {args.mode} needs drafters that are not loaded (available: {', '.join(modes)})", file=sys.stderr)
        return 2
    try:
        server.warm_up()
        mode = args.mode or bundle.default_mode
        log.info("loaded %s in %.1f s (modes: %s)", config.model_id, time.perf_counter() - t0, ", ".join(modes))
        if not _is_loopback(args.host):
            log.warning("listening on %s: anyone who can reach this port can use the model; there is no "
                        "authentication (put a reverse proxy with authentication in front)", args.host)
        print(f"d2sd-server: serving {config.model_id} ({mode} mode) at {server.url}/v1", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
