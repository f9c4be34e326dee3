"""The shipped bundle (the embedded SmolLM2-135M-Instruct default and its trained drafters) decodes
exactly what mlx-lm's own greedy decode does, in every mode and with both budgets."""

import json

import pytest

from d2sd_mlx import load, stream_generate
from d2sd_mlx.api import encode_prompt
from d2sd_mlx.prompts import DEV_PROMPTS

import mlx.core as mx  # noqa: E402  (after d2sd_mlx, which loads OpenBLAS first on Linux)
from mlx_lm.generate import generate_step  # noqa: E402
from mlx_lm.sample_utils import make_sampler  # noqa: E402

N_TOKENS = 12
RUNS = [("ar", None), ("dflash", "fixed"), ("d2sd", "fixed"), ("d2sd", "auto")]


@pytest.fixture(scope="module")
def bundle():
    return load()


def dev_prompts(per_category: int = 1) -> list[str]:
    rows = [json.loads(line) for line in DEV_PROMPTS.read_text().splitlines() if line.strip()]
    seen: dict[str, int] = {}
    out = []
    for r in rows:
        if seen.get(r["category"], 0) < per_category:
            seen[r["category"]] = seen.get(r["category"], 0) + 1
            out.append(r["prompt"])
    return out


def mlx_lm_greedy(model, ids: list[int], n: int) -> list[int]:
    return [int(t) for t, _ in generate_step(mx.array(ids), model, max_tokens=n, sampler=make_sampler(0.0))]


def test_the_shipped_bundle_loads_with_both_drafters(bundle):
    assert bundle.drafter is not None and bundle.vp_drafter is not None and bundle.default_mode == "d2sd"


@pytest.mark.parametrize("prompt", dev_prompts()[:3])
def test_every_mode_equals_mlx_lm_greedy(bundle, prompt):
    ids = encode_prompt(bundle, prompt)
    ref = mlx_lm_greedy(bundle.target.model, ids, N_TOKENS)
    drafted = 0
    for mode, budget in RUNS:
        tokens = []
        for r in stream_generate(bundle, ids, mode=mode, budget=budget, max_tokens=N_TOKENS, stop_on_eos=False):
            tokens += r.tokens
            drafted += sum(s != "target" for s in r.sources)
        assert tokens == ref, (mode, budget, prompt)
    assert drafted > 0  # the drafters did propose tokens the target accepted
