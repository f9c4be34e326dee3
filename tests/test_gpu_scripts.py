"""The training scripts' data plumbing (scripts/gpu_distill.py, scripts/more_answers.py), on small files:
which answers a run trains on, and clear errors that name a bad answers file before any compute."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch", reason="the training scripts run in PyTorch (a test extra)")
from script_loader import load_script  # noqa: E402

G = load_script("gpu_distill")
M = load_script("more_answers")

SHA = "ab" * 32


def stage(tmp_path):
    d = tmp_path / "stage"
    d.mkdir()
    (d / "prompts.sha256").write_text(SHA + "\n")
    return d


def shard_folder(tmp_path, answers: dict[int, list[int]], sha=SHA, name="more"):
    d = tmp_path / name
    d.mkdir()
    (d / "meta.json").write_text(json.dumps({"prompts_sha256": sha}))
    idx = sorted(answers)
    np.savez(d / "shard-00000.npz", prompt_index=np.array(idx, np.int32),
             lens=np.array([len(answers[i]) for i in idx], np.int32),
             tokens=np.concatenate([np.array(answers[i], np.uint16) for i in idx]))
    return d


def test_answers_from_an_aligned_npz_and_a_shard_folder(tmp_path):
    st = stage(tmp_path)
    npz = tmp_path / "answers.npz"
    np.savez(npz, lens=np.array([2, -1, 3]), tokens=np.array([5, 6, 7, 8, 9], np.uint16))
    folder = shard_folder(tmp_path, {1: [10, 11], 2: [12], 7: [13, 14]})
    pairs = G.load_answers(f"{npz},{folder}", n_prompts=5, stage=st)
    got = [(i, a.tolist()) for i, a in pairs]
    # prompt 1 has no round-1 answer (-1); prompt 2 has two; prompt 7 is beyond the staged prompts
    assert got == [(0, [5, 6]), (2, [7, 8, 9]), (1, [10, 11]), (2, [12])]


def test_a_shard_folder_for_another_prompt_set_is_named(tmp_path):
    st = stage(tmp_path)
    folder = shard_folder(tmp_path, {0: [1, 2]}, sha="cd" * 32)
    with pytest.raises(SystemExit, match=r"more/meta.json: made for prompt set cdcd"):
        G.load_answers(str(folder), n_prompts=5, stage=st)


def test_a_truncated_shard_is_named(tmp_path):
    st = stage(tmp_path)
    folder = shard_folder(tmp_path, {0: [1, 2, 3], 1: [4, 5]})
    f = folder / "shard-00000.npz"
    f.write_bytes(f.read_bytes()[:200])
    with pytest.raises(SystemExit, match=r"shard-00000.npz: not a readable answers file"):
        G.load_answers(str(folder), n_prompts=5, stage=st)


def test_lengths_that_disagree_with_the_tokens_are_named(tmp_path):
    st = stage(tmp_path)
    bad = tmp_path / "answers.npz"
    np.savez(bad, lens=np.array([2, 4]), tokens=np.array([1, 2, 3], np.uint16))
    with pytest.raises(SystemExit, match=r"answers.npz: lens add up to 6 tokens, it holds 3"):
        G.load_answers(str(bad), n_prompts=5, stage=st)


def test_plan_skips_answered_prompts_and_repeats_for_samples():
    skip = np.array([3, -1, 5, -1])  # prompts 0 and 2 answered; the 5th prompt is not in the file
    assert M.plan(5, skip, 1, None).tolist() == [1, 3, 4]
    assert M.plan(5, None, 2, 2).tolist() == [0, 0, 1, 1]
    assert M.plan(5, skip, 1, 2).tolist() == [1, 3]


def test_samples_need_a_temperature():
    with pytest.raises(SystemExit, match="--samples > 1 needs --temp > 0"):
        M.main(["--stage", "x", "--target", "y", "--out", "z", "--samples", "2"])


def pairs_of(n, start=0):
    return [(i, np.array([i, i + 1, i + 2], np.int64)) for i in range(start, start + n)]


def test_held_out_answers_come_last_and_are_never_trained_on():
    pairs = pairs_of(20) + [(99, np.array([7], np.int64))]  # a one-token answer is dropped
    chosen, n_val = G.choose_answers(pairs, None, sample=None, val=4, seed=0)
    assert n_val == 4 and len(chosen) == 20
    train, held = chosen[:-4], chosen[-4:]
    assert not {i for i, _ in train} & {i for i, _ in held}
    # the same seed holds out the same answers
    assert [i for i, _ in G.choose_answers(pairs, None, None, 4, 0)[0][-4:]] == [i for i, _ in held]


def test_a_validation_source_is_left_out_of_training():
    pairs = pairs_of(10)
    val_pairs = pairs_of(3, start=8) + pairs_of(3, start=50)  # prompts 8, 9 are also in the training answers
    chosen, n_val = G.choose_answers(pairs, val_pairs, sample=5, val=6, seed=1)
    train, held = chosen[:-n_val], chosen[-n_val:]
    assert n_val == 6 and len(train) == 5
    assert {i for i, _ in held} == {8, 9, 10, 50, 51, 52}
    assert not {i for i, _ in train} & {8, 9}


def test_a_shard_folder_from_another_target_is_named(tmp_path):
    st = stage(tmp_path)
    folder = shard_folder(tmp_path, {0: [1, 2]})
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "target_sha256": "11" * 32}))
    assert len(G.load_answers(str(folder), 5, st, target_sha="11" * 32)) == 1
    with pytest.raises(SystemExit, match=r"meta.json: made by target 1111.*another model's answers"):
        G.load_answers(str(folder), 5, st, target_sha="22" * 32)


TINY_CFG = {"num_attention_heads": 4, "num_key_value_heads": 2, "hidden_size": 32, "intermediate_size": 64,
           "num_hidden_layers": 2, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "max_position_embeddings": 64,
           "vocab_size": 50}


def _tiny_weights(seed=0):
    rng = np.random.default_rng(seed)
    H, F, V, kv = 32, 64, 50, 16
    w = {"model.embed_tokens.weight": rng.normal(0, 1, (V, H)), "model.norm.weight": np.ones(H)}
    for i in range(2):
        p = f"model.layers.{i}."
        for n, shape in (("self_attn.q_proj", (H, H)), ("self_attn.k_proj", (kv, H)), ("self_attn.v_proj", (kv, H)),
                         ("self_attn.o_proj", (H, H)), ("mlp.gate_proj", (F, H)), ("mlp.up_proj", (F, H)),
                         ("mlp.down_proj", (H, F))):
            w[p + n + ".weight"] = rng.normal(0, 0.2, shape)
        w[p + "input_layernorm.weight"] = np.ones(H)
        w[p + "post_attention_layernorm.weight"] = np.ones(H)
    return w


def tiny_target(seed=0):
    import torch

    return G.Target({k: v.astype(np.float32) for k, v in _tiny_weights(seed).items()}, TINY_CFG, torch.device("cpu"))


def test_a_bf16_target_decodes_close_to_fp32():
    import torch

    fp32, bf16 = tiny_target(), tiny_target()
    bf16.to_dtype(torch.bfloat16)
    assert {v.dtype for layer in bf16.layers for v in layer.values()} == {torch.bfloat16}
    prompts = [np.array([1, 5, 7, 9]), np.array([3, 4]), np.array([8, 2, 6])]
    P = 4
    toks = torch.tensor([[0] * (P - len(p)) + p.tolist() for p in prompts])
    pos = torch.arange(P)[None].expand(3, P)
    mask = torch.ones(3, 1, P, P, dtype=torch.bool).tril()
    logits = [t.logits(t.forward(toks, pos, mask)[0][:, -1]).float() for t in (fp32, bf16)]
    rel = (logits[0] - logits[1]).norm() / logits[0].norm()
    assert 0 < rel < 0.05, rel  # bf16 really ran (not fp32), and stayed close
    answers = G.generate(bf16, prompts, 6, eos=49, batch=3, deadline=float("inf"))
    assert [len(a) for a in answers] == [a.index(49) + 1 if 49 in a else 6 for a in answers]
    assert all(0 <= t < 50 for a in answers for t in a)


def test_a_folder_of_fp32_answers_refuses_bf16_ones(tmp_path):
    st = stage(tmp_path)
    target = tmp_path / "target.safetensors"
    target.write_bytes(b"weights")
    out = tmp_path / "more"
    out.mkdir()
    meta = {"prompts_sha256": SHA, "target_sha256": G.file_sha256(str(target)), "temp": 0.7, "samples": 1,
            "seed": 0, "max_new": 256, "skip": None, "limit": None, "shard_size": 256,
            "decoding": "fp32 torch, batched with a KV cache (gpu_distill.generate)"}
    (out / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(SystemExit, match=r"meta.json: this folder holds answers made with other \['decoding'\]"):
        M.main(["--stage", str(st), "--target", str(target), "--out", str(out), "--temp", "0.7", "--bf16"])


def test_only_the_held_out_prompts_leave_a_validation_source():
    pairs = pairs_of(10) + pairs_of(8, start=40)
    val_pairs = pairs_of(8, start=40)  # also passed as training answers
    chosen, n_val = G.choose_answers(pairs, val_pairs, sample=None, val=3, seed=0)
    train, held = chosen[:-n_val], chosen[-n_val:]
    assert n_val == 3 and len(train) == 10 + 5
    assert not {i for i, _ in train} & {i for i, _ in held}


def test_a_source_can_be_capped_to_a_seeded_sample(tmp_path):
    st = stage(tmp_path)
    folder = shard_folder(tmp_path, {i: [i, i + 1] for i in range(10)})
    some = G.load_answers(f"{folder}@4", 20, st, seed=3)
    assert len(some) == 4 and len({i for i, _ in some}) == 4
    assert [i for i, _ in some] == [i for i, _ in G.load_answers(f"{folder}@4", 20, st, seed=3)]
    assert len(G.load_answers(f"{folder}@40", 20, st)) == 10  # a cap above the count takes all
    with pytest.raises(SystemExit, match=r"--answers: '.*@x': expected SRC or SRC@N"):
        G.load_answers(f"{folder}@x", 20, st)
    with pytest.raises(SystemExit, match=r"--answers: '.*@0': expected SRC or SRC@N \(N >= 1"):
        G.load_answers(f"{folder}@0", 20, st)


def test_continuations_keep_a_seeded_prefix_and_decode_the_rest_greedily(tmp_path):
    from safetensors.numpy import save_file

    import torch

    st = stage(tmp_path)
    cfg = {**TINY_CFG, "eos_token_id": 49}
    (st / "target_config.json").write_text(json.dumps(cfg))
    prompts = [[1, 5, 7], [3, 4], [8, 2, 6, 9]]
    np.savez(st / "prompts.npz", offsets=np.cumsum([0] + [len(p) for p in prompts]),
             ids=np.concatenate([np.array(p, np.uint16) for p in prompts]))
    rng = np.random.default_rng(0)
    w = {k: np.asarray(v, np.float32) for k, v in _tiny_weights().items()}
    save_file(w, str(tmp_path / "target.safetensors"))
    src = shard_folder(tmp_path, {0: rng.integers(0, 48, 20).tolist(), 2: rng.integers(0, 48, 14).tolist(),
                                  1: [3, 3, 3]})  # too short to cut: no continuation
    meta = json.loads((src / "meta.json").read_text())
    (src / "meta.json").write_text(json.dumps({**meta, "target_sha256": G.file_sha256(str(tmp_path / "target.safetensors"))}))
    out = tmp_path / "cont"
    args = ["--stage", str(st), "--target", str(tmp_path / "target.safetensors"), "--out", str(out),
            "--continue-from", str(src), "--max-new", "5", "--seed", "4"]
    assert M.main(args) == 0
    got = np.load(out / "shard-00000.npz")
    assert sorted(got["prompt_index"].tolist()) == [0, 2]
    source = {i: a for i, a in G.load_answers(str(src), 3, st)}
    target = G.Target(G.load_target_weights(str(tmp_path / "target.safetensors")), cfg, torch.device("cpu"))
    off = np.concatenate([[0], np.cumsum(got["lens"])])
    for j, i in enumerate(got["prompt_index"]):
        ans, k = got["tokens"][off[j] : off[j + 1]].tolist(), int(got["prefix_lens"][j])
        assert 8 <= k <= len(source[i]) - 4 and ans[:k] == source[i][:k].tolist()
        want = G.generate(target, [np.array(prompts[i] + ans[:k])], 5, 49, 1, float("inf"))[0]
        assert ans[k:] == want
    again = tmp_path / "again"
    assert M.main([*args[:5], str(again), *args[6:]]) == 0  # the same seed cuts at the same points
    assert np.array_equal(np.load(again / "shard-00000.npz")["tokens"], got["tokens"])
    np.savez(src / "shard-00001.npz", prompt_index=np.array([1], np.int32), lens=np.array([12], np.int32),
             tokens=np.arange(12, dtype=np.uint16))  # the source grew: a resumed run would cut other answers
    with pytest.raises(SystemExit, match=r"cont/meta.json: this folder holds answers made with other \['continue_from_answers'\]"):
        M.main(args)
    with pytest.raises(SystemExit, match=r"--continue-from makes one continuation per SRC answer"):
        M.main(args + ["--samples", "2", "--temp", "1"])
