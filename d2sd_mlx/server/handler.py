"""HTTP: routes, request bodies, JSON and Server-Sent-Event responses, client disconnects.

One handler thread per connection (ThreadingHTTPServer). It validates and tokenizes the request,
queues a job on the server's worker and relays the job's pieces: one JSON response, or one SSE
chunk per decode cycle. While it waits it watches the socket, so a client that goes away (queued or
mid-stream) has its job cancelled and its slot freed within one decode cycle.
"""

from __future__ import annotations

import json
import logging
import queue
import select
import socket
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote, urlsplit

from ..errors import D2SDError
from .errors import APIError
from .prompt import fit_context, request_ids
from .request import CHAT, TEXT, parse_request
from .shaping import DONE, Shaper, model_card, models, sse, usage
from .worker import END, Failure, Job, QueueFull

log = logging.getLogger("d2sd_mlx.server")

ROUTES = {"/v1/chat/completions": CHAT, "/chat/completions": CHAT, "/v1/completions": TEXT, "/completions": TEXT}
POLL_S = 0.1  # how often a waiting handler checks whether its client is still there
DRAIN_MAX = 16 << 20  # an oversized body up to this size is read and dropped; a larger one closes the connection


class ClientGone(Exception):
    """The client closed its connection."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; streams use chunked transfer encoding
    server_version = "d2sd-mlx"
    timeout = 120  # seconds a socket read or write may block: idle keep-alive connections are closed

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        log.info("%s %s", self.address_string(), format % args)

    # -- routes ------------------------------------------------------------------------------
    def do_GET(self):
        path = urlsplit(self.path).path.rstrip("/")
        srv = self.server
        if path == "/health":
            self._send_json(200, {"status": "ok", "model": srv.config.model_id, "queue": srv.worker.status()})
        elif path == "/v1/models":
            self._send_json(200, models(srv.config.model_id, srv.created))
        elif path.startswith("/v1/models/") and unquote(path[len("/v1/models/"):]) == srv.config.model_id:
            self._send_json(200, model_card(srv.config.model_id, srv.created))
        else:
            self._send_error(APIError(404, f"no such endpoint or model: GET {path}", None, "not_found"))

    def do_POST(self):
        path = urlsplit(self.path).path.rstrip("/")
        try:
            kind = ROUTES.get(path)
            if kind is None:
                self.close_connection = True  # the body is left unread
                raise APIError(404, f"no such endpoint: POST {path}", None, "not_found")
            body = self._read_json()
            job, req, n_prompt = self._queue(kind, body)
        except APIError as e:
            self._send_error(e)
            return
        except ClientGone:
            self.close_connection = True
            return
        except Exception as e:  # a bug, not bad input: a 500 (logged with its traceback) and the server goes on
            self._send_error(_as_api_error(e))
            return
        if req.stream:
            self._stream(job, req, n_prompt)
        else:
            self._complete(job, req, n_prompt)

    # -- request -----------------------------------------------------------------------------
    def _read_json(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower() or self.headers.get("Content-Length") is None:
            self.close_connection = True
            raise APIError(411, "a Content-Length header is required", None, "length_required")
        try:
            n = int(self.headers["Content-Length"])
            if n < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise APIError(400, f"invalid Content-Length {self.headers['Content-Length']!r:.40}", None, "invalid_header")
        if n > self.server.config.max_body_bytes:
            if n <= DRAIN_MAX:  # read it away, so the client sees the 413 rather than a reset connection
                while n > 0 and (got := len(self.rfile.read(min(n, 1 << 16)))):
                    n -= got
            else:
                self.close_connection = True  # the body is left unread
            raise self._too_large()
        raw = self.rfile.read(n)
        if len(raw) < n:
            raise ClientGone
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise APIError(400, f"the request body is not valid JSON: {e}", None, "invalid_json")

    def _too_large(self) -> APIError:
        n, limit = self.headers.get("Content-Length"), self.server.config.max_body_bytes
        return APIError(413, f"the request body is {n} bytes; the limit is {limit}", None, "request_too_large")

    def handle_expect_100(self):
        """Refuse an oversized body before the client sends it (curl asks first for large bodies)."""
        n = self.headers.get("Content-Length", "")
        if n.isdigit() and int(n) > self.server.config.max_body_bytes:
            self.close_connection = True
            self._send_error(self._too_large())
            return False
        return super().handle_expect_100()

    def _queue(self, kind: str, body) -> tuple[Job, object, int]:
        srv = self.server
        bundle = srv.bundle
        req = parse_request(body, kind, srv.config.defaults, max_context=bundle.max_context,
                            vocab_size=srv.vocab_size, modes=srv.modes, default_mode=bundle.default_mode)
        ids = request_ids(bundle.tokenizer, req)
        max_tokens = fit_context(ids, req.max_tokens, bundle.max_context, "messages" if kind == CHAT else "prompt")
        job = srv.job(req, ids, max_tokens)
        try:
            srv.worker.submit(job)
        except QueueFull as e:
            raise APIError(503, f"the server is busy ({srv.worker.capacity} requests are waiting); retry later",
                           None, "queue_full", "server_overloaded", {"Retry-After": str(e.retry_after)})
        return job, req, len(ids)

    # -- waiting on the job --------------------------------------------------------------------
    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _pieces(self, job: Job):
        """The job's pieces as they come; cancels it and raises ClientGone when the client leaves.

        The socket is checked every POLL_S whether or not pieces arrive: a non-streaming request
        writes nothing until the end, so only the check notices that its client has gone.
        """
        checked = time.monotonic()
        while True:
            try:
                event = job.events.get(timeout=POLL_S)
            except queue.Empty:
                event = None
            if time.monotonic() - checked >= POLL_S:
                if self._client_gone():
                    raise ClientGone
                checked = time.monotonic()
            if event is None:
                continue
            if event is END:
                return
            if isinstance(event, Failure):
                raise event.error
            yield event

    def _complete(self, job: Job, req, n_prompt: int) -> None:
        shaper = Shaper(req.kind, self.server.config.model_id)
        text, last = [], None
        try:
            for piece in self._pieces(job):
                text.append(piece.text)
                if piece.finish_reason is not None:
                    last = piece
        except ClientGone:
            self._gone(job)
            return
        except Exception as e:
            self._send_error(_as_api_error(e))
            return
        if last is None:
            self._send_error(APIError(503, "the generation was cancelled (the server is stopping)", None,
                                      "cancelled", "server_error"))
            return
        u = usage(n_prompt, last.completion_tokens, last.stats)
        self._send_json(200, shaper.completion("".join(text), last.finish_reason, u))
        _log_done(job, last)

    def _stream(self, job: Job, req, n_prompt: int) -> None:
        shaper = Shaper(req.kind, self.server.config.model_id)
        started = False
        try:
            for piece in self._pieces(job):
                if not started:
                    self._start_stream()
                    started = True
                    if req.kind == CHAT:
                        self._event(shaper.chunk(role=True, with_usage=req.include_usage))
                if piece.text:
                    extra = {"tokens": len(piece.tokens), "sources": piece.sources}
                    self._event(shaper.chunk(piece.text, extra=extra, with_usage=req.include_usage))
                if piece.finish_reason is not None:
                    self._event(shaper.chunk(None, piece.finish_reason, with_usage=req.include_usage))
                    if req.include_usage:
                        self._event(shaper.usage_chunk(usage(n_prompt, piece.completion_tokens, piece.stats)))
                    _log_done(job, piece)
            if not started:
                raise APIError(503, "the generation was cancelled (the server is stopping)", None, "cancelled",
                               "server_error")
            self._write_chunk(DONE)
            self._write_chunk(b"")
        except ClientGone:
            self._gone(job)
        except Exception as e:
            err = _as_api_error(e)
            if not started:
                self._send_error(err)
                return
            try:  # the status line is gone: report the error in the stream and end it
                self._write_chunk(sse(err.body()))
                self._write_chunk(DONE)
                self._write_chunk(b"")
            except ClientGone:
                self._gone(job)

    def _gone(self, job: Job) -> None:
        log.info("%s went away; its request is cancelled", self.address_string())
        self.server.worker.cancel(job)
        self.close_connection = True

    # -- writing -------------------------------------------------------------------------------
    def _send_json(self, status: int, obj, headers: dict | None = None) -> None:
        data = json.dumps(obj, ensure_ascii=False).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def _send_error(self, e: APIError) -> None:
        if e.status >= 500:
            (log.info if e.code == "queue_full" else log.warning)("%s: %s", e.status, e.message)
        self._send_json(e.status, e.body(), e.headers)

    def _start_stream(self) -> None:
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("X-Accel-Buffering", "no")  # tell a reverse proxy not to buffer the stream
            self.end_headers()
        except OSError as e:
            raise ClientGone from e

    def _event(self, obj) -> None:
        self._write_chunk(sse(obj))

    def _write_chunk(self, data: bytes) -> None:
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        except OSError as e:  # a broken pipe, a reset, a write that timed out: the client is gone
            raise ClientGone from e


def _log_done(job: Job, last) -> None:
    st = last.stats or {}
    log.info("%s: %d tokens (%s), alpha %.2f over %d cycles, %.1f tokens/s", job.name, last.completion_tokens,
             last.finish_reason, st.get("alpha", 0.0), st.get("cycles", 0), st.get("generation_tps", 0.0))


def _as_api_error(e: Exception) -> APIError:
    if isinstance(e, APIError):
        return e
    if isinstance(e, D2SDError):
        return APIError(400, str(e), None, "invalid_request")
    log.error("request failed: %r", e, exc_info=e)
    return APIError(500, f"the server failed: {type(e).__name__}: {e}", None, "internal_error", "server_error")
