"""The self-distillation prompt sets: size, variety, multi-turn records, no dev overlap; a row with a history
encoded as a conversation (chat_template.prompt_ids of prompts.as_prompt)."""

import json
from collections import Counter
from pathlib import Path

import pytest

from d2sd_mlx.chat_template import prompt_ids
from d2sd_mlx.prompts import as_prompt, read_prompts
from script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "d2sd_mlx" / "data"


@pytest.fixture(scope="module")
def mp():
    return load_script("make_prompts")


@pytest.fixture(scope="module")
def train():
    return read_prompts(DATA / "train_prompts.jsonl")


@pytest.fixture(scope="module")
def dev():
    return read_prompts(DATA / "dev_prompts.jsonl")


def test_train_set_is_large_varied_and_multi_turn(mp, train):
    convs = {mp.conv_key(r.get("history", []), r["prompt"]) for r in train}
    assert len(convs) == len(train) >= 24_000
    single = [r["prompt"] for r in train if "history" not in r]
    assert len(set(single)) == len(single)
    counts = Counter(r["category"] for r in train)
    assert set(counts) == {"code", "math", "explain", "chat"} and min(counts.values()) >= 5_000, counts
    multi = [r for r in train if "history" in r]
    assert len(multi) >= 0.10 * len(train)
    for r in multi:
        roles = [m["role"] for m in r["history"]]
        assert roles and roles == ["user", "assistant"] * (len(roles) // 2), r["id"]
        assert all(m["content"].strip() for m in r["history"]), r["id"]
    assert len({r["id"] for r in train}) == len(train)


def test_no_dev_prompt_in_or_near_train(mp, train, dev):
    assert len(dev) == 80
    mp.check(train, dev)  # exact, case/punctuation and word-Jaccard checks against every user turn
    users = {mp.normalize(t) for r in train for t in mp.user_texts(r)}
    assert not users & {mp.normalize(d["prompt"]) for d in dev}


def test_generator_reproduces_the_files_byte_for_byte(mp):
    train, dev = mp.build()
    for rows, name in ((train, "train_prompts.jsonl"), (dev, "dev_prompts.jsonl")):
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        assert text.encode("utf-8") == (DATA / name).read_bytes(), name


HISTORY = [{"role": "user", "content": "Write a haiku about rain."},
           {"role": "assistant", "content": "Soft rain on the roof."}]


def chat_ids(tok, prompt, history=None):
    """A prompt-file row's ids, as `train data` and scripts/gpu_stage.py encode it."""
    return prompt_ids(tok, as_prompt({"prompt": prompt, **({"history": history} if history else {})}))


def test_chat_ids_with_history_uses_the_template():
    from mlx_lm.tokenizer_utils import TokenizerWrapper

    from d2sd_mlx.tiny import tiny_tokenizer

    hf = tiny_tokenizer(300)
    hf.chat_template = ("{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}"
                        "{% if add_generation_prompt %}<|assistant|>{% endif %}")
    tok = TokenizerWrapper(hf)
    text = tok.decode(chat_ids(tok, "Make it sadder.", HISTORY))
    assert text == "<|user|>Write a haiku about rain.\n<|assistant|>Soft rain on the roof.\n<|user|>Make it sadder.\n<|assistant|>"
    assert tok.decode(chat_ids(tok, "Make it sadder.")) == "<|user|>Make it sadder.\n<|assistant|>"


def test_chat_ids_without_template_joins_turns_as_text():
    class Plain:
        chat_template = None

        def encode(self, text):
            return [ord(c) for c in text]

    def decode(ids):
        return "".join(map(chr, ids))

    assert decode(chat_ids(Plain(), "Make it sadder.")) == "Make it sadder."
    text = decode(chat_ids(Plain(), "Make it sadder.", HISTORY))
    assert text == "User: Write a haiku about rain.\n\nAssistant: Soft rain on the roof.\n\nUser: Make it sadder.\n\nAssistant:"


def test_bad_history_is_refused(tmp_path):
    from d2sd_mlx.errors import D2SDError

    f = tmp_path / "p.jsonl"
    f.write_text(json.dumps({"prompt": "hi", "history": [{"role": "user"}]}) + "\n")
    with pytest.raises(D2SDError, match="history"):
        read_prompts(f)
