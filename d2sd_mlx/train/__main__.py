"""`python -m d2sd_mlx.train {data,dflash,vp}`: build self-distilled data, train the two drafters.

  data    the target answers a prompt set; tokens + tap features are stored (resumable)
  dflash  train a DFlash drafter: [anchor, MASK…] blocks, same-position labels
  vp      train a VP drafter: [anchor, t1..tl, MASK…] blocks (optionally warm-started from DFlash)
  replay  offline T=0 α of drafters on held-out stored answers (fast: drafter passes only)
  bundle  package trained drafters (bf16) with a bundle.json that records their fit to the target
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
import mlx.core as mx

from ..drafter import ROLE_DFLASH, ROLE_VP, load_drafter
from ..errors import D2SDError
from .loop import TrainConfig, new_drafter, train


def _target_path(path) -> str:
    """--model, or the embedded default target's folder (converted on first use)."""
    if path is None:
        from ..default_target import ensure_default_target

        path = ensure_default_target()
    return str(path)


def _target(path):
    from ..loading import load_target

    path = _target_path(path)
    return path, load_target(path)


def _taps(s: str) -> list[int]:
    try:
        return [int(t) for t in s.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--taps wants comma-separated layer ids, got {s!r}")


def dev_alpha(target, prompts_file, n_prompts: int, max_tokens: int, mode: str, dflash=None):
    """A function drafter → mean α over a few dev prompts (T=0)."""
    from ..api import stream_generate
    from ..loading import Bundle
    from ..chat_template import prompt_ids
    from ..prompts import as_prompt, read_prompts

    rows = read_prompts(prompts_file)
    step = max(1, len(rows) // n_prompts)
    prompts = [prompt_ids(target.tokenizer, as_prompt(r)) for r in rows[::step][:n_prompts]]

    def evaluate(drafter) -> float:
        bundle = Bundle(target, dflash or drafter, drafter if dflash is not None else None)
        lengths = []
        for p in prompts:
            last = None
            for last in stream_generate(bundle, p, mode=mode, max_tokens=max_tokens):
                pass
            lengths += last.stats.accepted_lengths
        return sum(lengths) / max(1, len(lengths))

    return evaluate


def replay_alpha(target, data: str, n: int, dflash: str | None):
    """A function drafter → offline T=0 α on held-out answers: d2sd (K=4) for a VP drafter run
    with its DFlash partner, else dflash."""
    from .data import load_dataset
    from .replay import alpha_table

    _, seqs = load_dataset(data)
    seqs = seqs[:: max(1, len(seqs) // n)][:n]
    partner = load_drafter(dflash) if dflash else None

    def evaluate(drafter) -> float:
        if partner is not None:
            return alpha_table(target, partner, drafter, seqs, drafter.config.block_size, ks=(4,), max_new=64)["d2sd/K4"]
        return alpha_table(target, drafter, None, seqs, drafter.config.block_size, ks=(), max_new=64)["dflash"]

    return evaluate


def replay_main(a, meta, seqs, target) -> int:
    """`replay`: a Markdown table of offline T=0 α per mode and K."""
    from tqdm import tqdm

    from .replay import alpha_table

    try:
        ks = tuple(int(k) for k in a.k.split(","))
    except ValueError:
        raise D2SDError(f"--k wants comma-separated integers, got {a.k!r}")
    dtype = target.inner.norm.weight.dtype  # as `load` does: bf16 drafters on an fp32 CPU target crawl
    dflash = load_drafter(a.dflash, dtype=dtype)
    vp = load_drafter(a.vp, dtype=dtype) if a.vp else None
    if vp is not None and vp.config.block_size != dflash.config.block_size:
        raise D2SDError(f"--vp {a.vp}: block size {vp.config.block_size} differs from the DFlash drafter's {dflash.config.block_size}")
    if meta.get("taps") != dflash.config.target_layer_ids:
        raise D2SDError(f"{a.data}: stored taps {meta.get('taps')} differ from the drafter's {dflash.config.target_layer_ids}")
    seqs = seqs[: a.limit]
    bar = tqdm(total=len(seqs), desc="replay", unit="answer")
    table = alpha_table(target, dflash, vp, seqs, dflash.config.block_size, ks, a.max_tokens, progress=bar)
    bar.close()
    base = table["dflash"]
    print("| mode | α (T=0, replayed) | × dflash |\n| --- | --- | --- |")
    for key, val in table.items():
        print(f"| {key} | {val:.3f} | {val / base:.3f} |")
    return 0


def write_bundle(a) -> None:
    """Drafters in `a.dtype` + bundle.json (d2sd_mlx.manifest: relative paths, compatibility record), atomically."""
    import json

    from ..atomic import atomic_dir
    from ..drafter import save_drafter
    from ..manifest import write_manifest

    recipe = None
    if a.recipe:
        try:
            recipe = json.loads(Path(a.recipe).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise D2SDError(f"--recipe {a.recipe}: cannot read a JSON object ({e})") from e
        if not isinstance(recipe, dict):
            raise D2SDError(f"--recipe {a.recipe}: expected a JSON object, got {type(recipe).__name__}")
    path = _target_path(a.model)
    drafters = {"dflash": load_drafter(a.dflash), "vp": load_drafter(a.vp)}
    with atomic_dir(Path(a.out), force=True) as tmp:
        for name, d in drafters.items():
            save_drafter(d, tmp / name, dtype=getattr(mx, a.dtype))
        # tmp is a sibling of a.out, so a target path relative to tmp is also relative to a.out
        write_manifest(tmp, path, tmp / "dflash", tmp / "vp", default_target=a.model is None,
                       extra={"recipe": recipe} if recipe is not None else None)
    print(f"bundle written to {a.out}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m d2sd_mlx.train", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("data", help="generate self-distilled training data")
    d.add_argument("--model", help="target folder (default: the embedded SmolLM2 target)")
    d.add_argument("--prompts", required=True, help="JSONL with a \"prompt\" field, or text with one prompt per line")
    d.add_argument("--out", required=True)
    d.add_argument("--taps", type=_taps, required=True, help="target layer ids whose outputs feed the drafter, e.g. 1,10,19,27")
    d.add_argument("--max-new-tokens", type=int, default=128)
    d.add_argument("--limit", type=int, default=None)
    d.add_argument("--chunk", type=int, default=64, help="prompts per shard (resume granularity)")
    d.add_argument("--reverse", action="store_true", help="build shards from the last one (run beside a forward build)")
    for name in ("dflash", "vp"):
        t = sub.add_parser(name, help=f"train a {'DFlash' if name == 'dflash' else 'VP'} drafter")
        t.add_argument("--data", required=True, help="dataset folder from `data`")
        t.add_argument("--out", required=True, help="run folder (checkpoints in OUT/latest; rerun to resume)")
        t.add_argument("--model", help="target folder (default: the embedded SmolLM2 target)")
        t.add_argument("--layers", type=int, default=2)
        t.add_argument("--block-size", type=int, default=16)
        t.add_argument("--mask-token-id", type=int, default=None, help="default: the dataset's target-specific choice or vocab-1")
        t.add_argument("--steps", type=int, default=1000)
        t.add_argument("--batch-seqs", type=int, default=4)
        t.add_argument("--anchors", type=int, default=16)
        t.add_argument("--lr", type=float, default=3e-4)
        t.add_argument("--warmup", type=float, default=0.04)
        t.add_argument("--clip", type=float, default=1.0)
        t.add_argument("--tau", type=float, default=7.0)
        t.add_argument("--seed", type=int, default=0)
        t.add_argument("--train-vocab", type=int, default=0, help="draft vocabulary: the drafter predicts over the N most frequent response tokens, in training and decoding, and stores them (0 = all)")
        t.add_argument("--save-every", type=int, default=50)
        t.add_argument("--dev-prompts", help="prompt file for periodic α (T=0)")
        t.add_argument("--eval-every", type=int, default=0)
        t.add_argument("--eval-prompts", type=int, default=4)
        t.add_argument("--eval-tokens", type=int, default=48)
        t.add_argument("--eval-data", help="held-out dataset folder: periodic α from the offline T=0 replay (see `replay`)")
        t.add_argument("--eval-answers", type=int, default=32, help="answers replayed per evaluation")
        t.add_argument("--init", help="warm start from this drafter folder (a DFlash drafter, or a previous run)")
        if name == "vp":
            t.add_argument("--beta", type=float, default=0.9)
            t.add_argument("--min-prefix", type=int, choices=(0, 1), default=1,
                           help="smallest visible prefix length l: 1 is the paper's range; 0 also trains l=0 "
                                "(the branch anchored at the first draft token)")
            t.add_argument("--dflash", help="DFlash drafter used with this VP drafter for the periodic α (d2sd)")
    r = sub.add_parser("replay", help="offline T=0 α of drafters on stored answers (no target passes)")
    r.add_argument("--data", required=True, help="dataset folder from `data` (held out from training)")
    r.add_argument("--dflash", required=True)
    r.add_argument("--vp", help="VP drafter (omit to report dflash and dflash2 only)")
    r.add_argument("--model", help="target folder (default: the embedded SmolLM2 target)")
    r.add_argument("--k", default="4", help="comma-separated K values (VP branches per cycle)")
    r.add_argument("--limit", type=int, default=None, help="answers to replay")
    r.add_argument("--max-tokens", type=int, default=None, help="tokens per answer, as in a decode with this limit")
    b = sub.add_parser("bundle", help="package a DFlash and a VP drafter for a target")
    b.add_argument("--dflash", required=True)
    b.add_argument("--vp", required=True)
    b.add_argument("--out", required=True)
    b.add_argument("--model", help="target folder (default: the embedded SmolLM2 target; recorded as \"default\")")
    b.add_argument("--dtype", choices=("bfloat16", "float16", "float32"), default="bfloat16",
                   help="weight dtype of the packaged drafters (default: bfloat16)")
    b.add_argument("--recipe", help="JSON file recorded as bundle.json's \"recipe\" (data, steps, commands, replay α)")
    a = p.parse_args(argv)
    try:
        if a.cmd == "bundle":
            write_bundle(a)
            return 0
        if a.cmd == "data":
            from ..prompts import read_prompts
            from .data import build_dataset

            read_prompts(a.prompts)  # fail before loading anything
            path = _target_path(a.model)
            build_dataset(path, a.prompts, a.out, a.taps, a.max_new_tokens, a.chunk, a.limit, reverse=a.reverse)
            return 0
        from .data import load_dataset

        meta, seqs = load_dataset(a.data)
        _, target = _target(a.model)
        if a.cmd == "replay":
            return replay_main(a, meta, seqs, target)
        if meta.get("hidden_size") != target.hidden_size or meta.get("vocab_size") != target.vocab_rows:
            raise D2SDError(f"{a.data}: dataset was made for a target with hidden {meta.get('hidden_size')}, vocab "
                            f"{meta.get('vocab_size')}; this target has {target.hidden_size}, {target.vocab_rows}")
        if a.block_size < 3:
            raise D2SDError(f"--block-size must be at least 3, got {a.block_size}")
        role = ROLE_DFLASH if a.cmd == "dflash" else ROLE_VP
        mask_id = a.mask_token_id if a.mask_token_id is not None else meta.get("mask_token_id", target.vocab_rows - 1)
        cfg = TrainConfig(
            objective=a.cmd, steps=a.steps, batch_seqs=a.batch_seqs, anchors=a.anchors, block_size=a.block_size,
            lr=a.lr, warmup=a.warmup, clip=a.clip, tau=a.tau, seed=a.seed, save_every=a.save_every,
            eval_every=a.eval_every, beta=getattr(a, "beta", 0.9), min_prefix=getattr(a, "min_prefix", 1), train_vocab=a.train_vocab,
        )
        drafter = new_drafter(meta, a.layers, a.block_size, role, mask_id, target, a.seed)
        if a.init:
            init = load_drafter(a.init, dtype=mx.float32)  # a bf16 bundle drafter trains in fp32
            if init.config.target_layer_ids != drafter.config.target_layer_ids or init.config.num_hidden_layers != a.layers:
                raise D2SDError(f"--init {a.init}: its taps/layers ({init.config.target_layer_ids}, {init.config.num_hidden_layers}) "
                                f"do not match this run ({drafter.config.target_layer_ids}, {a.layers})")
            if init.config.draft_vocab_size:
                drafter.set_draft_vocab(init.draft_vocab)
            drafter.update(init.parameters())
        evaluate = None
        if a.eval_every and a.eval_data:
            evaluate = replay_alpha(target, a.eval_data, a.eval_answers, a.dflash if role == ROLE_VP else None)
        elif a.eval_every and a.dev_prompts:
            dflash = load_drafter(a.dflash) if getattr(a, "dflash", None) else None
            evaluate = dev_alpha(target, a.dev_prompts, a.eval_prompts, a.eval_tokens,
                                 "d2sd" if dflash is not None else ("dflash" if role == ROLE_DFLASH else "dflash"), dflash)
        out = train(target, seqs, meta, Path(a.out), cfg, drafter, evaluate, fresh=not a.init)
        print(f"drafter written to {out}")
    except D2SDError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
