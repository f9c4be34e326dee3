"""Raw HTTP against the live server: every kind of bad input, and the server keeps serving."""

from __future__ import annotations

import http.client
import json
import socket

import pytest

from server_helpers import MAX_BODY

CHAT = "/v1/chat/completions"
TEXT = "/v1/completions"
USER = [{"role": "user", "content": "hi"}]


def chat(**fields):
    return {"model": "tiny", "messages": USER, "max_tokens": 4, **fields}


BAD = [  # (path, body, status, param named in the error)
    (CHAT, b"{not json", 400, None),
    (CHAT, b"\xff\xfe\x00garbage", 400, None),
    (CHAT, [1, 2], 400, None),
    (CHAT, {"model": "tiny"}, 400, "messages"),
    (CHAT, chat(messages="hello"), 400, "messages"),
    (CHAT, chat(messages=[]), 400, "messages"),
    (CHAT, chat(messages=["hello"]), 400, "messages[0]"),
    (CHAT, chat(messages=[{"role": "wizard", "content": "x"}]), 400, "messages[0].role"),
    (CHAT, chat(messages=[{"role": 3, "content": "x"}]), 400, "messages[0].role"),
    (CHAT, chat(messages=[{"content": "x"}]), 400, "messages[0].role"),
    (CHAT, chat(messages=[{"role": "user"}]), 400, "messages[0].content"),
    (CHAT, chat(messages=[{"role": "user", "content": 5}]), 400, "messages[0].content"),
    (CHAT, chat(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]), 400,
     "messages[0].content[0]"),
    (CHAT, chat(max_tokens=-5), 400, "max_tokens"),
    (CHAT, chat(max_tokens=0), 400, "max_tokens"),
    (CHAT, chat(max_tokens=10**12), 400, "max_tokens"),
    (CHAT, chat(max_tokens="10"), 400, "max_tokens"),
    (CHAT, chat(max_tokens=2.5), 400, "max_tokens"),
    (CHAT, chat(max_tokens=True), 400, "max_tokens"),
    (CHAT, chat(max_completion_tokens=-1), 400, "max_completion_tokens"),
    (CHAT, chat(temperature=-0.1), 400, "temperature"),
    (CHAT, chat(temperature="hot"), 400, "temperature"),
    (CHAT, b'{"messages": [{"role": "user", "content": "hi"}], "temperature": NaN}', 400, "temperature"),
    (CHAT, chat(top_p=1.5), 400, "top_p"),
    (CHAT, chat(top_k=-1), 400, "top_k"),
    (CHAT, chat(top_k=1.5), 400, "top_k"),
    (CHAT, chat(seed="x"), 400, "seed"),
    (CHAT, chat(stream="yes"), 400, "stream"),
    (CHAT, chat(stream=True, stream_options="usage"), 400, "stream_options"),
    (CHAT, chat(stream=True, stream_options={"include_usage": "yes"}), 400, "stream_options.include_usage"),
    (CHAT, chat(stop=5), 400, "stop"),
    (CHAT, chat(stop=["ok", 3]), 400, "stop"),
    (CHAT, chat(stop=[""]), 400, "stop"),
    (CHAT, chat(mode="turbo"), 400, "mode"),
    (CHAT, chat(budget="huge"), 400, "budget"),
    (CHAT, chat(model=5), 400, "model"),
    (CHAT, chat(n=2), 400, "n"),
    (CHAT, chat(logprobs=True), 400, "logprobs"),
    (CHAT, chat(top_logprobs=3), 400, "top_logprobs"),
    (CHAT, chat(frequency_penalty=0.5), 400, "frequency_penalty"),
    (CHAT, chat(messages=[{"role": "user", "content": "word " * 5000}]), 400, "messages"),
    (TEXT, {"model": "tiny", "max_tokens": 4}, 400, "prompt"),
    (TEXT, {"prompt": 5, "max_tokens": 4}, 400, "prompt"),
    (TEXT, {"prompt": [100000], "max_tokens": 4}, 400, "prompt"),
    (TEXT, {"prompt": ["a", "b"], "max_tokens": 4}, 400, "prompt"),
    (TEXT, {"prompt": "", "max_tokens": 4}, 400, "prompt"),
    (TEXT, {"prompt": [5] * 4096, "max_tokens": 4}, 400, "prompt"),
    (TEXT, {"prompt": "hi", "max_tokens": 4, "echo": True}, 400, "echo"),
    (TEXT, {"prompt": "hi", "max_tokens": 4, "logprobs": 2}, 400, "logprobs"),
]


@pytest.mark.parametrize("path,body,status,param", BAD, ids=[f"{i}-{b[3]}" for i, b in enumerate(BAD)])
def test_bad_input_is_a_400_naming_the_field(server, path, body, status, param):
    got, headers, data = server.request("POST", path, body)
    assert got == status, data
    assert headers["Content-Type"] == "application/json"
    err = data["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["type"] == "invalid_request_error" and err["message"]
    assert err["param"] == param
    if param is not None:
        assert param.split(".")[-1].split("[")[0] in err["message"]


def test_context_overflow_is_named(server):
    _, _, data = server.request("POST", TEXT, {"prompt": [5] * 4096, "max_tokens": 4})
    assert data["error"]["code"] == "context_length_exceeded" and "4096" in data["error"]["message"]


def test_body_over_the_limit_is_a_413(server):
    body = json.dumps(chat(messages=[{"role": "user", "content": "x" * MAX_BODY}])).encode()
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        conn.request("POST", CHAT, body=body)
        resp = conn.getresponse()
        data = json.loads(resp.read())
        assert resp.status == 413 and data["error"]["code"] == "request_too_large"
        assert str(MAX_BODY) in data["error"]["message"]
        conn.request("POST", CHAT, body=json.dumps(chat()).encode())  # the body was read away: the connection lives
        resp = conn.getresponse()
        assert resp.status == 200, resp.read()
        resp.read()
    finally:
        conn.close()


def test_oversized_body_is_refused_before_it_is_sent(server):
    with socket.create_connection((server.host, server.port), timeout=30) as s:
        s.sendall(b"POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\nExpect: 100-continue\r\n\r\n" % CHAT.encode())
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413") and b"request_too_large" in reply


def test_missing_content_length_is_a_411(server):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        conn.putrequest("POST", CHAT)
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        conn.send(b"2\r\n{}\r\n0\r\n\r\n")
        resp = conn.getresponse()
        assert resp.status == 411 and json.loads(resp.read())["error"]["code"] == "length_required"
    finally:
        conn.close()


def test_unknown_endpoint_is_a_404(server):
    assert server.request("POST", "/v1/embeddings", {"input": "x"})[0] == 404
    assert server.request("GET", "/v1/nothing")[0] == 404


def test_unknown_fields_are_ignored_and_the_server_keeps_serving(server):
    status, _, data = server.request("POST", CHAT, chat(tools=[], user="me", response_format={"type": "text"},
                                                       frequency_penalty=0, n=1, logprobs=False, whatever={"x": 1}))
    assert status == 200, data
    assert data["choices"][0]["finish_reason"] in ("length", "stop")
    assert data["usage"]["completion_tokens"] <= 4
    assert server.health()["status"] == "ok"


def test_keep_alive_serves_several_requests_on_one_connection(server):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        for body in (chat(), chat(stream=True), {"not": "valid"}, chat()):
            conn.request("POST", CHAT, body=json.dumps(body).encode())
            resp = conn.getresponse()
            raw = resp.read()
            assert resp.status in (200, 400), raw
    finally:
        conn.close()
