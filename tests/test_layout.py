"""The package's layout: imports run one way (no cycle, even through imports made inside
functions), nothing inside the package imports the package root, and importing the package
loads neither torch nor any optional extra."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lr_variants"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:`` (imports for type
    annotations only, which never run)."""
    out: list[ast.AST] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        out.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and ast.unparse(child.test) == "TYPE_CHECKING":
                stack.extend(child.orelse)
            else:
                stack.append(child)
    return out


def _imports(name: str) -> set[str]:
    """Every lr_variants module ``name`` imports when it runs, at module level or inside a
    function."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            # `from pkg import sub` imports the submodule when there is one
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
            ]
        else:
            continue
        found |= {t for t in targets if t in MODULES and t != name}
    return found


GRAPH = {name: _imports(name) for name in MODULES}


def test_nothing_inside_the_package_imports_the_package_root() -> None:
    offenders = sorted(
        n for n, deps in GRAPH.items() if "lr_variants" in deps and n != "lr_variants.__main__"
    )
    assert offenders == []


def test_imports_form_no_cycle() -> None:
    """A depth-first search over the import graph finds no edge back to a module still open."""
    state: dict[str, int] = {}  # 1: open, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for dep in sorted(GRAPH[name]):
            if dep == "lr_variants":
                continue  # the root imports everything; checked above
            if state.get(dep) == 1:
                pytest.fail("import cycle: " + " -> ".join([*path, name, dep]))
            if dep not in state:
                visit(dep, [*path, name])
        state[name] = 2

    for name in sorted(GRAPH):
        if name not in state and name != "lr_variants":
            visit(name, [])


@pytest.mark.parametrize("extra", ["torch", "sklearn", "matplotlib", "tqdm", "hypothesis", "numba"])
def test_importing_the_package_loads_no_heavy_or_optional_module(extra: str) -> None:
    code = f"import sys, lr_variants; print({extra!r} in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("module", ["lr_variants.sgd", "lr_variants.arrays"])
def test_public_building_blocks_are_the_builtins_own_and_load_no_torch(module: str) -> None:
    """The SGD rule and the backends plug-ins build on are the objects the built-in variants
    use (one implementation), and importing them loads no torch."""
    code = (
        f"import sys, {module} as m, lr_variants._sgd as s, lr_variants._backends as b; "
        "same = all(getattr(m, n) is getattr(s, n, getattr(b, n, None)) for n in m.__all__ "
        "if n != 'Arrays'); print(same, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]
