"""The import graph of the project's packages, read from the source (ast; nothing is imported).

    python scripts/import_graph.py [ROOT] [--package d2sd_mlx] [--edges]

Prints the edges between modules of `--package` (imports inside functions included: a lazy
import is still a dependency), the edges from it to the project's other top-level folders
(`convert`, `app`, `scripts`, `tests`, `metal_kernels`, its own `train`), and every import circle
(strongly connected component of more than one module). Exit status 1 when there is a circle.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

PROJECT_FOLDERS = ("d2sd_mlx", "metal_kernels", "app", "convert", "scripts", "tests")


def module_name(root: Path, file: Path) -> str:
    parts = list(file.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(root: Path, file: Path) -> list[tuple[str, list[str]]]:
    """What `file` imports, relative imports resolved: (module, [module.name for each name]) per
    statement; `import a.b` gives ("a.b", [])."""
    mod = module_name(root, file)
    package = mod if file.name == "__init__.py" else mod.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module
            out.append((prefix, [f"{prefix}.{a.name}" for a in node.names]))
    return out


def _targets(prefix: str, names: list[str], modules: set[str]) -> set[str]:
    """The modules one import statement depends on: `from pkg import mod` is pkg.mod, `from pkg.mod
    import name` is pkg.mod."""
    subs = {m for m in (_longest_module(n, modules) for n in names) if m and m != _longest_module(prefix, modules)}
    if subs and len(subs) == len(names):
        return subs
    top = _longest_module(prefix, modules)
    return subs | ({top} if top else set())


def graph(root: Path, package: str) -> tuple[dict[str, set[str]], set[tuple[str, str]]]:
    """(edges inside `package`, edges from `package` to the project's other folders and to its
    own `train` tool from outside it)."""
    files = sorted((root / package).rglob("*.py"))
    modules = {module_name(root, f) for f in files}
    project = modules | {module_name(root, f) for d in PROJECT_FOLDERS if (root / d).is_dir() for f in (root / d).rglob("*.py")}
    inside: dict[str, set[str]] = {m: set() for m in modules}
    outside: set[tuple[str, str]] = set()
    train = f"{package}.train"
    for f in files:
        src = module_name(root, f)
        for target in {t for prefix, names in imports_of(root, f) for t in _targets(prefix, names, project)}:
            if target == src:
                continue
            if target in modules:
                inside[src].add(target)
                if target.startswith(train) and not src.startswith(train):
                    outside.add((src, target))
            else:
                outside.add((src, target))
    return inside, outside


def _longest_module(name: str, modules: set[str]) -> str | None:
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in modules:
            return ".".join(parts[:n])
    return None


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("root", nargs="?", default=str(Path(__file__).resolve().parent.parent), help="project root")
    p.add_argument("--package", default="d2sd_mlx")
    p.add_argument("--edges", action="store_true", help="list every edge inside the package")
    a = p.parse_args(argv)
    inside, outside = graph(Path(a.root), a.package)
    n_edges = sum(len(v) for v in inside.values())
    print(f"{a.package}: {len(inside)} modules, {n_edges} edges")
    if a.edges:
        for src in sorted(inside):
            for dst in sorted(inside[src]):
                print(f"  {src} -> {dst}")
    print("edges to other project folders:")
    for src, dst in sorted(outside):
        print(f"  {src} -> {dst}")
    found = cycles(inside)
    print(f"circles: {len(found)}")
    for c in found:
        print("  " + " <-> ".join(c))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
