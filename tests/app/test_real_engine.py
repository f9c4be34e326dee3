"""End to end with the real engine: a tiny random target and drafters built by d2sd_mlx.tiny."""

from __future__ import annotations

import pytest

from app.engine import RealEngine
from app.params import Params
from chat_helpers import make_app, replies, send
from d2sd_mlx import tiny


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    return tiny.write_tiny_bundle(tmp_path_factory.mktemp("tiny"))


def plain_reply(bundle_dir, question: str, max_tokens: int) -> str:
    engine = RealEngine()
    engine.load(str(bundle_dir / "target"), None, None)
    messages = [{"role": "user", "content": question}]
    return "".join(r.text for r in engine.stream(messages, Params(mode="ar", max_tokens=max_tokens)))


async def test_real_tiny_engine_streams_into_the_app(bundle_dir):
    engine = RealEngine()
    app = make_app(engine, model=str(bundle_dir / "target"), drafter=str(bundle_dir / "dflash"),
                   vp_drafter=str(bundle_dir / "vp"), params=Params(max_tokens=24))
    async with app.run_test(size=(120, 36)) as pilot:
        await send(pilot, "hello")
        assert app.info.spec == "on" and app.info.block_size == 8
        [view] = replies(app)
        stats = app.last_stats
        assert view.status == "done" and stats.mode == "d2sd" and stats.generation_tokens == 24
        assert stats.cycles >= 1 and sum(stats.accepted_lengths) + 1 >= stats.generation_tokens
        assert "".join(text for _, text in view.spans) == view.text
        assert {source for source, _ in view.spans} <= {"target", "dflash", "vp"}
        assert f"{stats.generation_tokens} tokens" in str(app.query_one("#status").render())
        # lossless at temperature 0: the same text as plain decoding of the same prompt
        assert view.text == plain_reply(bundle_dir, "hello", 24)
        await send(pilot, "/model " + str(bundle_dir / "dflash" / "missing"))
        await pilot.pause(0.2)
        await send(pilot, "again")
        assert replies(app)[-1].status == "done"


def test_bundle_folder_is_a_model(bundle_dir):
    """`--model BUNDLE` (bundle.json naming target and drafters) works in the app as in the CLI (issue 15, item 2)."""
    from app.models import check_model_dir, vocab_of

    assert check_model_dir(str(bundle_dir), bundle=True) == ""
    assert "config.json is missing" in check_model_dir(str(bundle_dir))  # not a drafter folder
    assert vocab_of(str(bundle_dir)) == vocab_of(str(bundle_dir / "target")) == 320
    engine = RealEngine()
    info = engine.load(str(bundle_dir), None, None)
    assert info.spec == "on" and info.drafter == "dflash" and info.vp_drafter == "vp"
    assert "d2sd" in info.modes
    text = "".join(r.text for r in engine.stream([{"role": "user", "content": "hi"}], Params(max_tokens=6)))
    assert text == plain_reply(bundle_dir, "hi", 6)


def test_bundle_folder_in_one_shot_mode(bundle_dir):
    import io

    from app import oneshot

    out, err = io.StringIO(), io.StringIO()
    rc = oneshot.run(RealEngine(), "hi", Params(max_tokens=4), model=str(bundle_dir), stats=True, out=out, err=err)
    assert rc == 0, err.getvalue()
    assert "mode d2sd" in err.getvalue() and "not a model folder" not in err.getvalue()


def test_broken_explicit_drafter_is_an_error_never_a_substitute(bundle_dir, tmp_path):
    """A truncated --drafter is refused; the app never answers with the bundle's drafters instead (issue 15, item 7)."""
    import io
    import shutil

    from app import oneshot
    from app.engine import EngineError

    broken = tmp_path / "broken-dflash"
    shutil.copytree(bundle_dir / "dflash", broken)
    data = (broken / "model.safetensors").read_bytes()
    (broken / "model.safetensors").write_bytes(data[: len(data) // 3])
    for model in (str(bundle_dir), str(bundle_dir / "target")):
        with pytest.raises(EngineError, match="broken-dflash.*an explicit drafter is never replaced"):
            RealEngine().load(model, str(broken), None)
        with pytest.raises(EngineError, match="broken-dflash"):
            RealEngine().load(model, None, str(broken))
    out, err = io.StringIO(), io.StringIO()
    rc = oneshot.run(RealEngine(), "hi", Params(max_tokens=4), model=str(bundle_dir), drafter=str(broken),
                     stats=True, out=out, err=err)
    assert rc == 2 and out.getvalue() == "" and "broken-dflash" in err.getvalue()


def test_follow_up_turns_prefill_only_what_is_new(bundle_dir):
    """The engine keeps the last reply's caches: the next turn reuses the history it shares, and the
    reply equals a fresh engine's (lossless at T=0)."""
    engine = RealEngine()
    engine.load(str(bundle_dir), None, None)
    messages = [{"role": "user", "content": "hello there"}]
    last_prompt = 0
    for turn, question in enumerate(("and then?", "one more")):
        responses = list(engine.stream(messages, Params(max_tokens=10)))
        reply, stats = "".join(r.text for r in responses), responses[-1].stats
        # the last prompt at least (a random model's reply text may not re-encode to the tokens it chose)
        assert stats.cached_tokens >= last_prompt and (stats.cached_tokens > 0) == (turn > 0)
        last_prompt = stats.prompt_tokens
        fresh = RealEngine()
        fresh.load(str(bundle_dir), None, None)
        assert reply == "".join(r.text for r in fresh.stream(messages, Params(max_tokens=10)))
        messages = messages + [{"role": "assistant", "content": reply}, {"role": "user", "content": question}]
    # a new model drops the caches: nothing is reused across bundles
    engine.load(str(bundle_dir), None, None)
    assert list(engine.stream(messages, Params(max_tokens=2)))[-1].stats.cached_tokens == 0


def test_switching_chats_keeps_each_conversations_cache(bundle_dir):
    engine = RealEngine()
    engine.load(str(bundle_dir), None, None)
    chats = {name: [{"role": "user", "content": f"tell me about {name} please"}] for name in ("cats", "boats", "maps")}
    for name, messages in chats.items():  # one reply each: three conversations
        reply = "".join(r.text for r in engine.stream(messages, Params(max_tokens=6)))
        messages += [{"role": "assistant", "content": reply}, {"role": "user", "content": "more"}]
    assert len(engine._caches) == RealEngine.MAX_CACHES
    for name in ("cats", "boats"):  # back to earlier chats: their history is still cached
        last = list(engine.stream(chats[name], Params(max_tokens=2)))[-1]
        assert last.stats.cached_tokens >= len(engine._encode(chats[name][:1])), name
    # a fourth conversation takes the least recently used cache (maps'), not a busy one
    list(engine.stream([{"role": "user", "content": "something else entirely"}], Params(max_tokens=2)))
    last = list(engine.stream(chats["cats"], Params(max_tokens=2)))[-1]
    assert last.stats.cached_tokens >= len(engine._encode(chats["cats"][:1]))
    assert len(engine._caches) == RealEngine.MAX_CACHES


def test_regenerating_a_long_reply_reuses_its_prompt(bundle_dir):
    engine = RealEngine()
    engine.load(str(bundle_dir), None, None)
    messages = [{"role": "user", "content": "hi"}]
    first = list(engine.stream(messages, Params(max_tokens=40)))  # a reply longer than the prompt
    again = list(engine.stream(messages, Params(max_tokens=40)))  # regenerate: the same prompt
    assert again[-1].stats.cached_tokens == first[-1].stats.prompt_tokens - 1
    assert "".join(r.text for r in again) == "".join(r.text for r in first)
    assert len(engine._caches) == 1
