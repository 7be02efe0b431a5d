"""The package's layout: imports run one way (no cycle, even through imports made inside
functions), nothing inside the package imports the package root, and importing the package
loads neither torch nor any optional extra."""

from __future__ import annotations

import ast
import re
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


# ---------------------------------------------------------------- docs/architecture.md's order


def _documented_order() -> list[str]:
    """The modules and packages docs/architecture.md lists under "The layout", top to bottom."""
    text = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    block = text[text.index("    lr_variants/\n") : text.index("\nRepository tooling")]
    order, package = [], "lr_variants"
    for line in block.splitlines()[1:]:
        found = re.match(r"^( {6}| {8})(\w+(?:\.py|/))(?: |$)", line)
        if not found:
            continue  # a description's continuation line
        indent, name = len(found[1]), found[2]
        parent = "lr_variants" if indent == 6 else package
        module = f"{parent}.{name.removesuffix('/').removesuffix('.py')}"
        module = "lr_variants" if module == "lr_variants.__init__" else module
        order.append(module)
        if indent == 6 and name.endswith("/"):
            package = module
    return order


def _subpackage(module: str) -> str | None:
    """The package of the package (``lr_variants.explain``) that ``module`` sits in, if any."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 else None


def test_every_module_imports_only_modules_listed_below_it() -> None:
    """Each module imports only modules docs/architecture.md lists below it. A module is placed
    by its own entry or, if it has none, by its package's; within a package, an unlisted
    module's imports and a package listed as a whole (cli/, testing/) are not ordered."""
    order = _documented_order()
    position = {name: k for k, name in enumerate(order)}

    def entry(module: str) -> str:
        parts = module.split(".")
        for k in range(len(parts), 1, -1):
            if ".".join(parts[:k]) in position:
                return ".".join(parts[:k])
        pytest.fail(f"{module} is not listed in docs/architecture.md's layout")

    wrong = []
    for module, deps in GRAPH.items():
        if module == "lr_variants":
            continue
        for dep in deps - {"lr_variants"}:
            mine, theirs = entry(module), entry(dep)
            if mine == theirs:
                continue  # one entry: siblings in a package listed as a whole
            inside = _subpackage(module)
            if inside and inside == _subpackage(dep) and (mine != module or theirs != dep):
                continue  # an unlisted module inside a listed package: not ordered
            if position[theirs] < position[mine]:
                wrong.append(f"{module} imports {dep}, listed above it")
    assert wrong == []


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
