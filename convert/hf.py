"""Read Hugging Face / PyTorch checkpoints: locate the folder (local or hub), list and read weights.

Weights come back as MLX arrays with, for each tensor, the file it came from (so errors can name
it). Supported files: `*.safetensors` (single, or sharded with `model.safetensors.index.json`),
PyTorch pickles `*.bin` / `*.pt` / `*.pth` (single or sharded with `pytorch_model.bin.index.json`)
through `torch.load(weights_only=True)` when torch is installed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import mlx.core as mx

from d2sd_mlx.config_io import read_json
from d2sd_mlx.errors import D2SDError

from d2sd_mlx import log

# What a repo download fetches (mlx_lm's patterns + PyTorch pickles as a fallback).
CONFIG_PATTERNS = ["*.json", "*.py", "tokenizer.model", "*.tiktoken", "tiktoken.model", "*.txt", "*.jsonl", "*.jinja"]
SAFETENSORS_PATTERNS = ["model*.safetensors"]  # not consolidated.safetensors (a second copy in some repos)
PICKLE_PATTERNS = ["*.bin", "*.pt", "*.pth"]
GGUF_PATTERNS = ["*.gguf"]

# Files next to weights that are not weights (SpecForge / Trainer checkpoints).
_NOT_WEIGHTS = re.compile(
    r"^(training_state|training_args|optimizer|scheduler|rng_state|scaler|vocab_mapping|trainer_state)[^/]*$"
)

TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "tokenizer.model", "vocab.json", "merges.txt", "vocab.txt", "chat_template.jinja", "chat_template.json",
    "generation_config.json",
)


def _looks_like_repo_id(s: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", s)) and not s.startswith((".", "/", "~"))


def resolve(path_or_repo: str, revision: str | None = None, with_gguf: bool = False) -> Path:
    """A local folder or file for `path_or_repo`, downloading a hub repo when needed.

    Local paths never touch the network. Repo ids go through huggingface_hub.snapshot_download
    (cache, HF_HOME, HF_TOKEN and HF_HUB_OFFLINE are honoured by it): first config, tokenizer and
    safetensors files; PyTorch pickles only if the repo has no safetensors.
    """
    p = Path(path_or_repo).expanduser()
    if p.exists():
        return p
    if not _looks_like_repo_id(path_or_repo):
        raise D2SDError(f"{path_or_repo}: no such file or folder (and not a Hugging Face repo id)")
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError
    except ImportError as e:
        raise D2SDError(f"{path_or_repo}: not a local path, and huggingface_hub is not installed (pip install huggingface-hub)") from e
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")

    def fetch(patterns):
        return Path(snapshot_download(path_or_repo, revision=revision, allow_patterns=patterns))

    try:
        log.info(f"Fetching {path_or_repo}{'@' + revision if revision else ''} from the Hugging Face hub"
                 f"{' cache (HF_HUB_OFFLINE)' if offline else ''}")
        folder = fetch(CONFIG_PATTERNS + SAFETENSORS_PATTERNS + (GGUF_PATTERNS if with_gguf else []))
        if not any(folder.glob("*.safetensors")) and not any(folder.glob("*.gguf")):
            folder = fetch(CONFIG_PATTERNS + ["*.safetensors"])
        if not any(folder.glob("*.safetensors")) and not any(folder.glob("*.gguf")):
            folder = fetch(CONFIG_PATTERNS + PICKLE_PATTERNS)
    except LocalEntryNotFoundError as e:
        if offline:
            raise D2SDError(
                f"{path_or_repo}: not in the local Hugging Face cache and HF_HUB_OFFLINE is set; "
                f"download it once online or pass a local folder"
            ) from e
        raise D2SDError(f"{path_or_repo}: cannot download from the Hugging Face hub ({e})") from e
    except HFValidationError as e:
        raise D2SDError(f"{path_or_repo}: not a valid Hugging Face repo id ({e})") from e
    except Exception as e:  # RepositoryNotFoundError, RevisionNotFoundError, HTTP errors, ...
        raise D2SDError(f"{path_or_repo}: cannot download from the Hugging Face hub ({type(e).__name__}: {e})") from e
    return folder


def read_config(folder: Path) -> dict:
    f = folder / "config.json"
    if not f.is_file():
        raise D2SDError(f"{folder}: no config.json")
    return read_json(f, "config")


def _read_index(f: Path) -> dict:
    wm = read_json(f, "weight index").get("weight_map")
    if wm is None:
        raise D2SDError(f"{f}: not a valid weight index (needs a weight_map object)")
    if not isinstance(wm, dict):
        raise D2SDError(f"{f}: weight_map is not an object")
    return wm


def _indexed(folder: Path, idx: Path):
    wm = _read_index(idx)
    files = sorted({folder / v for v in wm.values()})
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise D2SDError(f"{idx}: lists shard(s) that are missing: {', '.join(missing)}")
    return files, wm, idx


def weight_files(folder: Path) -> tuple[list[Path], dict | None, Path | None]:
    """(files, index weight_map or None, index file); safetensors preferred over pickles."""
    if (idx := folder / "model.safetensors.index.json").is_file():
        return _indexed(folder, idx)
    st = sorted(f for f in folder.glob("*.safetensors") if not _NOT_WEIGHTS.match(f.name))
    model_st = [f for f in st if f.name.startswith("model")]
    if model_st or st:  # model*.safetensors first: consolidated.safetensors duplicates them in some repos
        return model_st or st, None, None
    if (idx := folder / "pytorch_model.bin.index.json").is_file():
        return _indexed(folder, idx)
    pk = sorted(f for ext in ("*.bin", "*.pt", "*.pth") for f in folder.glob(ext) if not _NOT_WEIGHTS.match(f.name))
    if pk:
        return pk, None, None
    raise D2SDError(f"{folder}: no weight files (*.safetensors, *.bin, *.pt)")


def _torch_to_mx(t) -> mx.array:
    import torch

    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:
        return mx.array(t.view(torch.uint16).numpy()).view(mx.bfloat16)
    return mx.array(t.numpy())


def _flatten_state(obj, prefix=""):
    import torch

    if isinstance(obj, torch.Tensor):
        yield prefix.rstrip("."), obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _flatten_state(v, f"{prefix}{k}.")


def read_pickle(f: Path) -> dict:
    try:
        import torch
    except ImportError as e:
        raise D2SDError(f"{f}: reading PyTorch .bin/.pt checkpoints needs PyTorch (pip install torch), which is not installed") from e
    try:
        obj = torch.load(str(f), map_location="cpu", weights_only=True)
    except Exception as e:
        if "Weights only load failed" in str(e) and re.search(r"unsupported GLOBAL|Unsupported global", str(e)):
            found = re.search(r"GLOBAL:? ([\w.]+)", str(e))
            raise D2SDError(
                f"{f}: refused: this PyTorch pickle would execute code when loaded (it asks for "
                f"{found.group(1) if found else 'a Python object that is not a tensor'}), so it was not loaded and "
                "nothing in it ran. Use the checkpoint's safetensors weights instead (model.safetensors), "
                "or re-save it as a plain state dict of tensors where you trust its source"
            ) from None
        raise D2SDError(f"{f}: cannot read PyTorch checkpoint, truncated or corrupt? ({type(e).__name__}: "
                        f"{str(e).splitlines()[0] if str(e) else ''})") from e
    if not isinstance(obj, dict):
        raise D2SDError(f"{f}: expected a state dict, found {type(obj).__name__}")
    # Training checkpoints sometimes wrap the weights: {"state_dict": {...}, "epoch": 3}.
    if not any(isinstance(v, torch.Tensor) for v in obj.values()):
        for key in ("state_dict", "model_state_dict", "model", "module"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    out = {name: _torch_to_mx(t) for name, t in _flatten_state(obj)}
    skipped = [str(k) for k, v in obj.items() if not isinstance(v, (torch.Tensor, dict))]
    if skipped:
        log.note(f"{f}: ignored non-tensor entries: {', '.join(skipped[:5])}")
    if not out:
        raise D2SDError(f"{f}: no tensors in this checkpoint")
    return out


def read_safetensors(f: Path) -> dict:
    try:
        return mx.load(str(f))
    except Exception as e:
        raise D2SDError(f"{f}: cannot read safetensors, truncated or corrupt? ({e})") from e


def read_weights(folder: Path) -> tuple[dict, dict]:
    """All tensors of a checkpoint folder: (name -> mx.array, name -> file name).

    Raises D2SDError on a tensor present in two files, a tensor the index lists but its shard
    lacks (or finds in another shard), and on unreadable files.
    """
    files, wm, idx = weight_files(folder)
    weights, origin = {}, {}
    progress = log.Progress("read", len(files))
    for f in files:
        part = read_safetensors(f) if f.suffix == ".safetensors" else read_pickle(f)
        for name, arr in part.items():
            if name in weights:
                raise D2SDError(f"{folder}: duplicate tensor {name} in {origin[name]} and {f.name}")
            if wm is not None and wm.get(name, f.name) != f.name:
                raise D2SDError(f"{f}: holds tensor {name}, which {idx.name} places in {wm[name]}")
            weights[name], origin[name] = arr, f.name
        progress.step(f.name)
    if wm is not None:
        lost = sorted(set(wm) - set(weights))
        if lost:
            raise D2SDError(f"{idx}: lists tensor(s) missing from their shards: {', '.join(lost[:8])}")
    return weights, origin


def copy_tokenizer(src: Path, dst: Path) -> list[str]:
    """Copy tokenizer (and generation config) files; returns the names copied."""
    import shutil

    copied = []
    for name in TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copy(src / name, dst / name)
            copied.append(name)
    for f in src.glob("*.tiktoken"):
        shutil.copy(f, dst / f.name)
        copied.append(f.name)
    return copied
