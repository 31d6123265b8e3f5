"""The package's layers (``diffusion_lightning/__init__.py``): each imports only from those before it."""

import ast
import subprocess
import sys

from .conftest import ROOT

PACKAGE = ROOT / "diffusion_lightning"
ORDER = ["__init__", "errors", "diffusion", "networks", "data", "training", "sweeps", "inference", "bench"]
FACE = {("__init__", "inference"): ["diffusion_lightning/__init__.py"]}  # load_run, imported when first used


def layer_imports() -> dict[tuple[str, str], list[str]]:
    """(importing layer, imported layer) → the files that import across, for every import of the package by
    itself, absolute or relative, at module level or inside a function."""
    found: dict[tuple[str, str], list[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        layer = parts[0]
        package = ["diffusion_lightning", *parts[:-1]]  # the package that holds the file
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package[: len(package) - node.level + 1]
                names = [[*base, *(node.module or "").split(".")]] if node.module else [[*base, a.name] for a in
                                                                                       node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")]
            elif isinstance(node, ast.Import):
                names = [alias.name.split(".") for alias in node.names]
            else:
                continue
            for name in names:
                if name[0] == "diffusion_lightning":
                    target = name[1] if len(name) > 1 and name[1] else "__init__"
                    target = "__init__" if target == "__version__" else target
                    if target != layer:
                        found.setdefault((layer, target), []).append(str(path.relative_to(ROOT)))
    return found


def test_each_layer_imports_only_those_before_it():
    imports = layer_imports()
    assert ("training", "diffusion") in imports and ("bench", "training") in imports  # the walk sees imports
    upward = {pair: files for pair, files in imports.items() if ORDER.index(pair[1]) >= ORDER.index(pair[0])}
    assert upward == FACE, upward


def test_the_package_face_loads_nothing_until_used():
    code = ("import sys, diffusion_lightning as d; before = 'torch' in sys.modules; d.load_run; "
            "print(before, 'torch' in sys.modules, d.Run.__name__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True", "Run"]
