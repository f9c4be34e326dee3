"""The server object: one loaded model, its request defaults, the worker queue and the HTTP listener.

MLX work happens on the worker thread only, the model load included: MLX streams belong to the
thread that made them, so arrays made lazily on one thread (a drafter cast to the target's dtype,
say) cannot be evaluated on another. This is the chat app's engine thread again (app/runner.py).
"""

from __future__ import annotations

import logging
import socket
import sys
import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Callable

from ..prompt_cache import PromptCache, supported
from .generation import generate_pieces
from .handler import Handler
from .request import Defaults
from .worker import Job, Worker

log = logging.getLogger("d2sd_mlx.server")


@dataclass
class ServerConfig:
    model_id: str = "default"
    defaults: Defaults = field(default_factory=Defaults)
    queue_size: int = 16  # requests that may wait while one runs; more get a 503
    max_body_bytes: int = 1 << 20


class D2SDServer(ThreadingHTTPServer):
    """ThreadingHTTPServer serving one bundle; the bundle is loaded, and generations run one at a
    time, on `worker`'s thread."""

    daemon_threads = True

    def __init__(self, config: ServerConfig, host: str = "127.0.0.1", port: int = 8080):
        self.config = config
        self.created = int(time.time())
        self.bundle = None
        self.prompt_cache = None
        self.worker = Worker(config.queue_size)
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), Handler)  # bind first: a busy port fails before a long load
        self.worker.start()

    def load(self, load_bundle: Callable[[], object]) -> None:
        """Load the bundle on the worker thread (call before serving)."""
        self.bundle = self.worker.call(load_bundle)
        self.prompt_cache = PromptCache() if supported(self.bundle.target) else None  # worker thread only
        self.vocab_size = int(self.bundle.target.config.get("vocab_size") or self.bundle.target.vocab_rows)
        self.modes = available_modes(self.bundle)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def job(self, req, ids: list[int], max_tokens: int) -> Job:
        return Job(lambda cancelled: generate_pieces(self.bundle, req, ids, max_tokens, cancelled, self.prompt_cache),
                   name=f"{req.kind} request ({len(ids)} prompt tokens, {req.mode})")

    def warm_up(self) -> None:
        """One short generation in the default mode (measures the cost model when budget=auto)."""
        from .request import TEXT, CompletionRequest

        defaults = self.config.defaults
        req = CompletionRequest(TEXT, prompt="Hello", max_tokens=2, mode=defaults.mode or self.bundle.default_mode,
                                budget=defaults.budget)
        tok = self.bundle.tokenizer
        ids = (list(tok.encode("Hello")) if tok is not None else []) or [0]
        self.worker.call(lambda: list(generate_pieces(self.bundle, req, ids, 2)))

    def handle_error(self, request, client_address) -> None:
        """A client that resets its connection is routine; anything else is logged with its traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            log.debug("%s: connection closed by the client", client_address[0])
        else:
            log.exception("error while serving %s", client_address[0])

    def server_close(self) -> None:
        self.worker.stop()
        super().server_close()


def available_modes(bundle) -> tuple[str, ...]:
    if bundle.drafter is None:
        return ("ar",)
    return ("ar", "dflash", "dflash2") + (("d2sd",) if bundle.vp_drafter is not None else ())


def make_server(model=None, drafter=None, vp_drafter=None, host: str = "127.0.0.1", port: int = 8080,
                **config) -> D2SDServer:
    """A server for `d2sd_mlx.load(model, drafter, vp_drafter)`, listening but not yet serving:
    call serve_forever(), and server_close() at the end. `config`: ServerConfig's fields."""
    from ..loading import load

    server = D2SDServer(ServerConfig(**config), host, port)
    try:
        server.load(lambda: load(model, drafter, vp_drafter))
    except BaseException:
        server.server_close()
        raise
    return server
