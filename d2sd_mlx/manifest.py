"""The bundle manifest's shared rules, owned by the core: what `bundle.json` is called, and whether a
drafter fits a target (`check_compat`). `d2sd_mlx.loading` reads bundles with them; the writers
(`convert.bundle`, `python -m d2sd_mlx.train bundle`) record the same compatibility fields.
"""

from __future__ import annotations

from .drafter import DrafterConfig
from .errors import D2SDError

BUNDLE_FILE = "bundle.json"
BUNDLE_VERSION = 1


def _text_config(target_config: dict) -> dict:
    """Top-level fields, falling back to text_config (multimodal wrappers)."""
    tc = dict(target_config.get("text_config") or {})
    tc.update({k: v for k, v in target_config.items() if k != "text_config"})
    return tc


def target_fields(target_config: dict) -> dict:
    """hidden_size, vocab_size, embedding_rows, target_layers of a target config (D2SDError if absent)."""
    tc = _text_config(target_config)
    missing = [k for k in ("hidden_size", "num_hidden_layers", "vocab_size") if k not in tc]
    if missing:
        raise D2SDError(f"target config.json is missing field(s): {', '.join(missing)}")
    try:
        vocab = int(tc["vocab_size"])
        return {"hidden_size": int(tc["hidden_size"]), "vocab_size": vocab,
                "embedding_rows": int(tc.get("embedding_rows", vocab)), "target_layers": int(tc["num_hidden_layers"])}
    except (TypeError, ValueError) as e:
        raise D2SDError(f"target config.json: hidden_size / num_hidden_layers / vocab_size must be integers ({e})") from e


def check_compat(target_config: dict, drafter_config: DrafterConfig, what: str = "drafter") -> dict:
    """Check that a drafter fits a target; return the compat record, or raise D2SDError naming the mismatch.

    Checked: hidden size (the drafter reads the target's embeddings and features and feeds its LM
    head), vocabulary / embedding rows, tap layers against the target's layer count (and the
    layer count the drafter was trained for), mask token inside the target's embedding.
    """
    t = target_fields(target_config)
    hidden, layers, vocab, rows = t["hidden_size"], t["target_layers"], t["vocab_size"], t["embedding_rows"]
    d = drafter_config
    if d.hidden_size != hidden:
        raise D2SDError(f"{what}: hidden_size {d.hidden_size} does not match the target's hidden_size {hidden}")
    if d.vocab_size != rows:
        raise D2SDError(f"{what}: vocab_size {d.vocab_size} does not match the target's embedding rows {rows}")
    bad = [t for t in d.target_layer_ids if not 0 <= t < layers]
    if bad:
        raise D2SDError(
            f"{what}: dflash_config.target_layer_ids {bad} out of range for a target with {layers} layers"
        )
    derived = d.num_target_layers == max(d.target_layer_ids) + 1  # from_dict's default when absent
    if d.num_target_layers != layers and not derived:
        raise D2SDError(
            f"{what}: num_target_layers {d.num_target_layers} (the target it was trained for) differs from "
            f"this target's num_hidden_layers {layers}"
        )
    if not 0 <= d.mask_token_id < rows:
        raise D2SDError(f"{what}: dflash_config.mask_token_id {d.mask_token_id} is outside the target embedding ({rows} rows)")
    return {
        "hidden_size": hidden,
        "vocab_size": vocab,
        "embedding_rows": rows,
        "target_layers": layers,
        "target_layer_ids": list(d.target_layer_ids),
        "num_target_layers": d.num_target_layers,
        "mask_token_id": d.mask_token_id,
        "block_size": d.block_size,
        "role": d.role,
        "draft_vocab_size": d.draft_vocab_size,
    }
