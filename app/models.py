"""Finding and checking model folders: targets and drafters on disk and in the HF cache."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Candidate:
    """A folder that may be picked as target or drafter."""

    path: str
    name: str
    kind: str  # "target" or "drafter"
    vocab_size: int | None
    size_mb: float
    quant_bits: int | None

    def describe(self) -> str:
        bits = f"{self.quant_bits}-bit" if self.quant_bits else "full precision"
        return f"{self.name}  ({self.size_mb:.0f} MB, {bits})"


def check_model_dir(path: str, bundle: bool = False) -> str:
    """'' when `path` looks like an MLX model or drafter folder, else the reason it does not.

    With bundle=True a bundle folder (bundle.json naming a target and its drafters, as written by
    `python -m convert.bundle`) is accepted too; its contents are checked when it is loaded.
    """
    p = Path(path).expanduser()
    if not p.exists():
        return "no such file or folder"
    if not p.is_dir():
        return "not a folder (expected a model folder with config.json and *.safetensors)"
    if bundle and (p / "bundle.json").is_file():
        try:
            manifest = json.loads((p / "bundle.json").read_text())
        except (OSError, ValueError) as exc:
            return f"bundle.json cannot be read ({exc.__class__.__name__}: {exc})"
        if not isinstance(manifest, dict) or not manifest.get("target"):
            return "bundle.json does not name a target"
        return ""
    config = p / "config.json"
    if not config.is_file():
        return "not a model folder: config.json is missing" + ("" if not bundle else " (and no bundle.json)")
    try:
        json.loads(config.read_text())
    except (OSError, ValueError) as exc:
        return f"config.json cannot be read ({exc.__class__.__name__})"
    if not any(p.glob("*.safetensors")):
        return "no *.safetensors weights in the folder"
    return ""


def read_candidate(path: Path) -> Candidate | None:
    if check_model_dir(str(path)):
        return None
    config = json.loads((path / "config.json").read_text())
    kind = "drafter" if ("dflash_config" in config or "block_size" in config) else "target"
    quant = config.get("quantization") or {}
    size = sum(f.stat().st_size for f in path.glob("*.safetensors")) / 1e6
    vocab = config.get("vocab_size") or (config.get("text_config") or {}).get("vocab_size")
    name = path.parent.parent.name.removeprefix("models--").replace("--", "/") if path.parent.name == "snapshots" else path.name
    return Candidate(str(path), name, kind, vocab, size, quant.get("bits"))


def scan(extra_dirs: list[Path] = ()) -> list[Candidate]:
    """Model folders in `extra_dirs` (and their children) and MLX repos in the HF cache."""
    seen, out = set(), []
    roots = [d for d in extra_dirs if d.is_dir()]
    for root in roots:
        for folder in [root, *sorted(c for c in root.iterdir() if c.is_dir())]:
            cand = read_candidate(folder)
            if cand and cand.path not in seen:
                seen.add(cand.path)
                out.append(cand)
    for folder in _hf_cache_snapshots():
        cand = read_candidate(folder)
        if cand and cand.path not in seen:
            seen.add(cand.path)
            out.append(cand)
    return out


def compatible(drafter: Candidate, target_vocab: int | None) -> str:
    """'' when the drafter can serve the target, else why not (plain words)."""
    if drafter.kind != "drafter":
        return "not a drafter (its config has no block_size / dflash_config)"
    if target_vocab and drafter.vocab_size and drafter.vocab_size != target_vocab:
        return f"vocabulary mismatch: drafter {drafter.vocab_size} tokens, target {target_vocab}"
    return ""


def vocab_of(path: str | None) -> int | None:
    if not path:
        return None
    try:
        folder = Path(path)
        if (folder / "bundle.json").is_file() and not (folder / "config.json").is_file():
            target = json.loads((folder / "bundle.json").read_text()).get("target")
            if not target or target == "default":
                return None
            folder = folder / target
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError, AttributeError, TypeError):
        return None
    return config.get("vocab_size") if isinstance(config, dict) else None


def _hf_cache_snapshots() -> list[Path]:
    hub = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface")), "hub"
    )
    root = Path(hub)
    if not root.is_dir():
        return []
    out = []
    for repo in sorted(root.glob("models--*")):
        ref = repo / "refs" / "main"
        try:
            snap = repo / "snapshots" / ref.read_text().strip()
        except OSError:
            continue
        if all((snap / f).exists() for f in ("config.json", "tokenizer_config.json")):
            out.append(snap)
    return out
