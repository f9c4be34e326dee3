"""The import graph (scripts/import_graph.py, read from the source): no circles inside d2sd_mlx, the
core imports none of the tools (convert, train, app, scripts, tests), metal_kernels only d2sd_mlx.blas."""

from pathlib import Path

import pytest
from script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ig():
    return load_script("import_graph")


def test_no_import_circles_in_the_core(ig):
    inside, _ = ig.graph(ROOT, "d2sd_mlx")
    assert len(inside) > 30 and sum(map(len, inside.values())) > 50  # the graph was read
    assert ig.cycles(inside) == []


def test_the_core_imports_no_tool(ig):
    _, outside = ig.graph(ROOT, "d2sd_mlx")
    wrong = [(a, b) for a, b in outside if not b.startswith("metal_kernels")]
    assert wrong == []  # neither convert/app/scripts/tests, nor d2sd_mlx.train from outside it


def test_metal_kernels_only_needs_the_blas_loader(ig):
    _, outside = ig.graph(ROOT, "metal_kernels")
    assert {b for _, b in outside} == {"d2sd_mlx.blas"}


def test_a_circle_is_found(ig, tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .c import x\n")
    (pkg / "c.py").write_text("from pkg.a import y\n")
    inside, _ = ig.graph(tmp_path, "pkg")
    assert ig.cycles(inside) == [["pkg.a", "pkg.b", "pkg.c"]]
