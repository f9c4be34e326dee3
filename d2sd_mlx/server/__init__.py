"""`python -m d2sd_mlx.server`: an OpenAI-compatible HTTP server for D²SD-accelerated generation.

| file | job |
| --- | --- |
| `cli.py` | flags, loading the model, serving until interrupted |
| `app.py` | the server object: model, request defaults, worker, listener |
| `handler.py` | HTTP routes, bodies, JSON and SSE responses, client disconnects |
| `request.py` | validating a request body into a `CompletionRequest` |
| `prompt.py` | token ids of a request (chat template or plain encoding), context checks |
| `generation.py` | one request on `d2sd_mlx.api.stream_generate`, one piece per decode cycle |
| `stops.py` | stop sequences on streamed text |
| `worker.py` | the one worker thread and its bounded queue |
| `shaping.py` | OpenAI-shaped JSON and SSE framing |
| `errors.py` | the OpenAI error object |
"""

from .app import D2SDServer, ServerConfig, make_server

__all__ = ["D2SDServer", "ServerConfig", "make_server"]
