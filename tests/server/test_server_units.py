"""The server's parts without a server: validation, templating, stop sequences, shaping, the worker queue."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from d2sd_mlx.server.errors import APIError
from d2sd_mlx.server.prompt import chat_ids, fit_context
from d2sd_mlx.server.request import CHAT, TEXT, Defaults, parse_request
from d2sd_mlx.server.shaping import d2sd_stats, sse
from d2sd_mlx.server.stops import StopMatcher
from d2sd_mlx.server.worker import END, Failure, Job, QueueFull, Worker

ALL = ("ar", "dflash", "dflash2", "d2sd")


def parse(body, kind=CHAT, modes=ALL, **defaults):
    return parse_request(body, kind, Defaults(**defaults), max_context=4096, vocab_size=320, modes=modes,
                         default_mode=modes[-1])


# -- request validation ------------------------------------------------------------------------
def test_defaults_and_fields():
    r = parse({"messages": [{"role": "developer", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                            {"role": "user", "content": "hi"}, {"role": "assistant", "content": None}]},
              max_tokens=64, temperature=0.5)
    assert r.messages == ({"role": "system", "content": "ab"}, {"role": "user", "content": "hi"},
                          {"role": "assistant", "content": ""})
    assert (r.max_tokens, r.temperature, r.top_p, r.top_k, r.seed, r.stop) == (64, 0.5, 1.0, 0, None, ())
    assert r.mode == "d2sd" and r.budget is None and not r.stream and not r.include_usage


def test_max_completion_tokens_wins_and_seed_wraps():
    r = parse({"messages": [{"role": "user", "content": "x"}], "max_tokens": 5, "max_completion_tokens": 7, "seed": -1,
               "stop": "END", "stream_options": {"include_usage": True}})
    assert r.max_tokens == 7 and r.seed == 2**64 - 1 and r.stop == ("END",)
    assert not r.include_usage  # only a stream has usage chunks


def test_mode_needs_loaded_drafters():
    assert parse({"prompt": "x"}, TEXT, modes=("ar",)).mode == "ar"
    with pytest.raises(APIError) as e:
        parse({"prompt": "x", "mode": "d2sd"}, TEXT, modes=("ar", "dflash", "dflash2"))
    assert e.value.status == 400 and e.value.param == "mode"


def test_prompt_forms():
    assert parse({"prompt": ["one"]}, TEXT).prompt == "one"
    assert parse({"prompt": [1, 2, 3]}, TEXT).prompt == (1, 2, 3)
    assert parse({"prompt": [[1, 2]]}, TEXT).prompt == (1, 2)


# -- templating --------------------------------------------------------------------------------
class PlainTokenizer:
    chat_template = None

    def encode(self, text):
        return [ord(c) for c in text]


def test_base_model_gets_a_plain_transcript():
    ids = chat_ids(PlainTokenizer(), [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    assert "".join(map(chr, ids)) == "System: S\n\nUser: U\n\nAssistant:"


def test_fit_context_clamps_max_tokens():
    assert fit_context([1] * 10, 100, 50, "prompt") == 40
    with pytest.raises(APIError) as e:
        fit_context([1] * 50, 1, 50, "prompt")
    assert e.value.code == "context_length_exceeded"


# -- stop sequences ----------------------------------------------------------------------------
def test_stop_split_across_pieces():
    m = StopMatcher(["<END>"])
    assert m.feed("abc<E") == "abc"
    assert m.feed("N") == ""
    assert m.feed("D>tail") == "" and m.stopped


def test_false_start_is_released():
    m = StopMatcher(["<END>"])
    assert m.feed("a<EN") == "a"
    assert m.feed("x") == "<ENx"
    assert m.feed("b<") == "b" and m.flush() == "<"


def test_earliest_of_several_stops():
    m = StopMatcher(["zz", "b"])
    assert m.feed("aazzab") == "aa" and m.stopped
    assert StopMatcher().feed("anything") == "anything"


# -- shaping -----------------------------------------------------------------------------------
def test_d2sd_stats_summarizes_accepted_lengths():
    out = d2sd_stats({"mode": "d2sd", "alpha": 2.0, "accepted_lengths": [1, 3, 2, 2]})
    assert out["accepted_lengths"] == {"mean": 2.0, "min": 1, "max": 3, "histogram": {"1": 1, "2": 2, "3": 1}}
    assert out["mode"] == "d2sd" and out["alpha"] == 2.0


def test_sse_framing():
    assert sse({"a": "é"}) == 'data: {"a": "é"}\n\n'.encode()
    assert sse("[DONE]") == b"data: [DONE]\n\n"


# -- the worker queue --------------------------------------------------------------------------
def drain(job, timeout=5):
    out = []
    while (e := job.events.get(timeout=timeout)) is not END:
        out.append(e)
    return out


def test_jobs_run_one_at_a_time_in_order():
    w = Worker(capacity=4)
    w.start()
    active, peak, lock = [0], [0], threading.Lock()

    def run(cancelled, tag):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02)
        yield tag
        with lock:
            active[0] -= 1

    jobs = [Job(lambda c, t=t: run(c, t)) for t in range(4)]
    for j in jobs:
        w.submit(j)
    assert [drain(j) for j in jobs] == [[0], [1], [2], [3]] and peak[0] == 1
    w.stop()


def test_full_queue_and_cancel_frees_the_slot():
    w = Worker(capacity=1)
    gate = threading.Event()

    def blocking(cancelled):
        gate.wait(5)
        yield "done"

    first, second, third = Job(blocking), Job(blocking), Job(blocking)
    w.start()
    w.submit(first)
    while w.status()["running"] == 0:
        time.sleep(0.01)
    w.submit(second)
    with pytest.raises(QueueFull) as e:
        w.submit(third)
    assert e.value.retry_after >= 1
    w.cancel(second)  # a waiting job leaves the queue at once
    assert drain(second) == [] and w.status()["waiting"] == 0
    w.submit(third)
    gate.set()
    assert drain(first) == ["done"] and drain(third) == ["done"]
    w.stop()


def test_cancel_stops_the_running_job_at_its_next_event_and_failures_reach_the_waiter():
    w = Worker(capacity=2)
    w.start()
    produced = []

    def endless(cancelled):
        for i in range(10_000):
            produced.append(i)
            time.sleep(0.005)
            yield i

    job = Job(endless)
    w.submit(job)
    assert job.events.get(timeout=5) == 0
    w.cancel(job)
    drain(job)
    n = len(produced)
    time.sleep(0.05)
    assert len(produced) == n < 10_000

    def broken(cancelled):
        raise RuntimeError("boom")
        yield

    bad = Job(broken)
    w.submit(bad)
    [failure] = drain(bad)
    assert isinstance(failure, Failure) and str(failure.error) == "boom"
    w.stop()


# -- the command line --------------------------------------------------------------------------
def test_cli_refuses_what_it_cannot_serve(tiny_dir, tmp_path, capsys):
    from d2sd_mlx.server.cli import main

    assert main(["--model", str(tmp_path / "missing"), "--port", "0"]) == 2
    assert "no such model folder" in capsys.readouterr().err
    assert main(["--model", str(tiny_dir / "target"), "--mode", "d2sd", "--port", "0"]) == 2
    assert "--mode d2sd needs drafters" in capsys.readouterr().err
    assert main(["--queue-size", "0"]) == 2
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert main(["--port", str(busy.getsockname()[1])]) == 2
    assert "cannot listen" in capsys.readouterr().err
