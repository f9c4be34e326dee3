"""The d2sd terminal chat app (`python -m app.chat`)."""

from d2sd_mlx import blas as _blas

_blas.ensure()  # on Linux, load OpenBLAS before anything imports mlx.core
