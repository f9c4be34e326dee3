import os

import pytest

import d2sd_mlx  # noqa: F401  before any test module imports mlx.core: on Linux this loads OpenBLAS (d2sd_mlx/blas.py)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True, scope="session")
def _calibration_home(tmp_path_factory):
    """Cost-model calibrations of the tests' throwaway models go to a temporary D2SD_HOME, never ~/.cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("D2SD_HOME", str(tmp_path_factory.mktemp("d2sd_home")))
    yield
    mp.undo()
