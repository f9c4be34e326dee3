"""The worker queue: clients that disconnect, a full queue (503 + Retry-After), and a bounded load test."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from server_helpers import QUEUE_SIZE

from d2sd_mlx import generate

openai = pytest.importorskip("openai")

CHAT = "/v1/chat/completions"
# about two minutes of decoding on the tiny model (d2sd, fixed tree, γ = 8): only a cancel ends it early
LONG = {"model": "tiny", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 3000,
        "mode": "d2sd", "budget": "fixed"}
SHORT = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


def send_raw(server, body: dict) -> socket.socket:
    s = socket.create_connection((server.host, server.port), timeout=30)
    data = json.dumps(body).encode()
    s.sendall(b"POST %s HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
              % (CHAT.encode(), len(data), data))
    return s


def read_until(s: socket.socket, marker: bytes, limit_s: float = 30) -> bytes:
    buf, end = b"", time.monotonic() + limit_s
    while marker not in buf:
        assert time.monotonic() < end, buf
        chunk = s.recv(65536)
        assert chunk, buf
        buf += chunk
    return buf


def timed_short_request(server) -> float:
    t0 = time.monotonic()
    status, _, data = server.request("POST", CHAT, SHORT, timeout=60)
    assert status == 200, data
    return time.monotonic() - t0


@pytest.mark.parametrize("stream", [True, False])
def test_disconnect_mid_generation_frees_the_worker(server, stream):
    s = send_raw(server, dict(LONG, stream=stream))
    if stream:
        read_until(s, b'"d2sd"')  # the first cycle's chunk: generation is under way
    else:
        deadline = time.monotonic() + 30
        while server.health()["queue"]["running"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    s.close()
    # the next request is served at once: the long generation stopped within a cycle of the disconnect
    assert timed_short_request(server) < 15
    h = server.wait_idle()
    assert h["queue"] == {**h["queue"], "running": 0, "waiting": 0}
    assert "went away; its request is cancelled" in server.log.read_text()


def test_full_queue_is_a_503_with_retry_after(server):
    running = send_raw(server, dict(LONG, stream=True))
    read_until(running, b"data: ")
    waiting = [send_raw(server, LONG) for _ in range(QUEUE_SIZE)]
    try:
        deadline = time.monotonic() + 30
        while server.health()["queue"]["waiting"] < QUEUE_SIZE:
            assert time.monotonic() < deadline, server.health()
            time.sleep(0.05)
        status, headers, data = server.request("POST", CHAT, SHORT)
        assert status == 503, data
        assert int(headers["Retry-After"]) >= 1
        assert data["error"]["code"] == "queue_full" and data["error"]["type"] == "server_overloaded"
        # the openai client sees the same 503
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=30)
        with pytest.raises(openai.APIStatusError) as e:
            client.chat.completions.create(**SHORT)
        assert e.value.status_code == 503
    finally:
        for s in [running, *waiting]:
            s.close()
    # every slot is freed: nothing runs or waits, and the next request is served at once
    h = server.wait_idle()
    assert (h["queue"]["running"], h["queue"]["waiting"]) == (0, 0)
    assert timed_short_request(server) < 15


PROMPTS = ["hello", "What is the capital of France?", "def add(a, b):", "The quick brown fox", "1 + 2 =",
           "Speculative decoding", "Paris", "lazy dog"]


def test_load_8_clients_x_4_requests(server, bundle):
    def ids(p):
        out = bundle.tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True)
        return list(out["input_ids"] if hasattr(out, "keys") else out)

    want = {p: generate(bundle, ids(p), mode="ar", max_tokens=12) for p in PROMPTS}  # T=0 is lossless
    for p in PROMPTS:  # warm the server on every prompt before measuring its memory
        server.request("POST", CHAT, {"messages": [{"role": "user", "content": p}], "max_tokens": 12})
    server.wait_idle()
    rss_before = server.rss_kb()

    results, busy, errors = [], [], []

    def run_client(i: int):
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=60)
        for j in range(4):
            p = PROMPTS[(i + j) % len(PROMPTS)]
            msgs = [{"role": "user", "content": p}]
            try:
                if i % 2:
                    chunks = client.chat.completions.create(model="tiny", messages=msgs, max_tokens=12, stream=True)
                    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
                else:
                    text = client.chat.completions.create(model="tiny", messages=msgs, max_tokens=12).choices[0].message.content
                results.append((p, text))
            except openai.APIStatusError as e:
                (busy if e.status_code == 503 else errors).append(e)
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append(e)

    t0 = time.monotonic()
    threads = [threading.Thread(target=run_client, args=(i,), daemon=True) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(1.0, 120 - (time.monotonic() - t0)))
    assert not any(t.is_alive() for t in threads), "a client hung"
    assert not errors, errors
    assert len(results) + len(busy) == 32
    assert len(results) >= 8
    assert all(text == want[p] for p, text in results), [(p, text, want[p]) for p, text in results if text != want[p]]
    h = server.wait_idle()
    assert (h["queue"]["running"], h["queue"]["waiting"]) == (0, 0)
    rss_after = server.rss_kb()
    print(f"load: {len(results)} served, {len(busy)} busy (503) in {time.monotonic() - t0:.1f} s; RSS {rss_before} -> {rss_after} kB")
    assert abs(rss_after - rss_before) <= 0.10 * rss_before, (rss_before, rss_after)
