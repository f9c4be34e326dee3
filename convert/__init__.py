"""Importers: Hugging Face / PyTorch checkpoints (targets and drafters), GGUF, and bundles.

- `convert.from_hf`   CLI: any supported checkpoint → an MLX folder (target, DFlash or VP drafter)
- `convert.hf`        reading HF/PyTorch weight files (safetensors, sharded, .bin/.pt) and hub repos
- `convert.drafter`   writing a drafter folder `d2sd_mlx.drafter.load_drafter` loads
- `convert.bundle`    CLI: bundle.json tying a target to its drafters (`d2sd_mlx.manifest`)
- `convert.make_tiny` tiny random checkpoints in source layouts, for the tests

What the product itself needs to load the embedded default lives in the core and is used from
here: `d2sd_mlx.gguf` (GGUF → mlx-lm folder), `d2sd_mlx.target_folder` (writing a target folder),
`d2sd_mlx.default_target`, `d2sd_mlx.atomic` (temp + rename), `d2sd_mlx.log`.
"""

from d2sd_mlx import blas as _blas

_blas.ensure()  # on Linux, load OpenBLAS before anything imports mlx.core
