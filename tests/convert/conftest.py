import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


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
