"""Turn the Sphinx roles in lr_variants' docstrings into cross-references the site renders.

The API page (``docs/reference.md``) is rendered by mkdocstrings, which links
``[`create`][lr_variants.registry.create]`` (mkdocs-autorefs' syntax) but prints a Sphinx role
such as ``:func:`create``` as it stands. This script rewrites every role of :data:`ROLES` in
the docstrings of ``lr_variants/`` (module, class, function and attribute docstrings):

- a target that the site documents becomes ``[`shown`][identifier]``, or ``[`identifier`][]``
  when the text shown is the identifier itself; ``identifier`` is the anchor of the object's
  section on the site (read from the site's ``objects.inv``), so ``lr_variants.create`` links to
  ``lr_variants.registry.create``;
- any other target (private modules, helpers not on the site, torch or NumPy names) becomes a
  plain code span, in double backticks as elsewhere in the docstrings.

The text shown is the role's text: ``:func:`~lr_variants.Model``` shows ``Model``,
``:meth:`save <lr_variants.Model.save>``` shows ``save``. A target is looked up the way a reader
of the docstring would: in the enclosing class, then the module, then as a full dotted name,
then in the ``lr_variants`` package; the object found is named by its defining module and
qualified name, which the site's inventory maps to an anchor. A line that grows past
:data:`LINE_LENGTH` is broken at a space and the rest carried into the next line of the same
paragraph.

    python tools/docstring_refs.py --check   # exit 1 listing every role left (the test suite)
    python tools/docstring_refs.py --write   # rewrite the files; builds the site for its inventory

Run ``--write`` again after merging branches that add roles; it changes nothing when there are
none.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import os
import re
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "lr_variants"
LINE_LENGTH = 100  # ruff's line-length (pyproject.toml)
# the Python-domain roles of Sphinx, and the few generic ones a docstring could hold
ROLES = ("func", "class", "meth", "data", "mod", "attr", "exc", "obj", "const", "any")
ROLE = re.compile(r":(?:py:)?(?P<role>" + "|".join(ROLES) + r"):`(?P<body>[^`]+)`")
# any role at all (what --check refuses): :name: or :domain:name: directly before a backtick
ANY_ROLE = re.compile(r"(?<![\w:]):(?:[a-z]+:)?[a-z]+:`")
MISSING = object()


@dataclass(frozen=True)
class Docstring:
    """One docstring: its file, source lines (1-based, inclusive) and scope."""

    path: Path
    first: int
    last: int
    module: str
    classes: tuple[str, ...]  # the enclosing classes, outermost first
    indent: int  # the column of its opening quotes: its body's indentation


def module_name(path: Path) -> str:
    """``lr_variants.x.y`` for ``lr_variants/x/y.py`` (a file elsewhere: its stem)."""
    if not path.resolve().is_relative_to(REPO):
        return path.stem
    parts = path.resolve().relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def docstrings(path: Path) -> Iterator[Docstring]:
    """Every string statement of ``path``: module, class and function docstrings, and the
    attribute docstrings that follow an assignment (mkdocstrings renders those too)."""
    tree = ast.parse(path.read_text(), str(path))
    name = module_name(path)

    def walk(node: ast.AST, classes: tuple[str, ...]) -> Iterator[Docstring]:
        for child in ast.iter_child_nodes(node):
            if (
                isinstance(child, ast.Expr)
                and isinstance(child.value, ast.Constant)
                and isinstance(child.value.value, str)
            ):
                assert child.end_lineno is not None
                yield Docstring(
                    path, child.lineno, child.end_lineno, name, classes, child.col_offset
                )
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, (*classes, child.name))
            else:
                yield from walk(child, classes)

    yield from walk(tree, ())


def files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def where(path: Path) -> str:
    resolved = path.resolve()
    return str(resolved.relative_to(REPO) if resolved.is_relative_to(REPO) else path)


# ---- --check ---------------------------------------------------------------------------------


def leftover(paths: list[Path] | None = None) -> list[str]:
    """``file:line: text`` for every Sphinx role left in a docstring of ``paths`` (default:
    every module of ``lr_variants/``)."""
    found = []
    for path in files() if paths is None else paths:
        lines = path.read_text().splitlines()
        for doc in docstrings(path):
            for number in range(doc.first, doc.last + 1):
                line = lines[number - 1]
                if ANY_ROLE.search(line):
                    found.append(f"{where(path)}:{number}: {line.strip()}")
    return found


# ---- the site's inventory --------------------------------------------------------------------


def read_inventory(path: Path) -> dict[str, str]:
    """``objects.inv`` (Sphinx inventory, version 2) as {name: anchor}: the anchor of a name
    that the site shows under another (an alias, ``lr_variants.create``) is the other's."""
    data = path.read_bytes()
    header = data.split(b"\n", 4)
    if not header[0].startswith(b"# Sphinx inventory version 2"):
        raise SystemExit(f"{path}: not a Sphinx inventory (version 2)")
    body = zlib.decompress(header[4]).decode()
    anchors = {}
    for line in body.splitlines():
        found = re.match(r"(\S+) (\S+) -?\d+ (\S*) ", line)
        if found is None:
            continue
        name, _, uri = found.groups()
        anchor = uri.split("#", 1)[1] if "#" in uri else ""
        anchors[name] = name if anchor in ("", "$") else anchor.replace("$", name)
    return anchors


def build_inventory(into: Path) -> Path:
    """Build the site (not strictly: the references may not resolve yet) into ``into``."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    cmd = [sys.executable, "-m", "mkdocs", "build", "--quiet", "--site-dir", str(into)]
    subprocess.run(cmd, cwd=REPO, env=env, check=True)
    return into / "objects.inv"


# ---- resolving a role's target ---------------------------------------------------------------


def lookup(dotted: str) -> object:
    """The object named ``dotted`` (a module, then attributes), or :data:`MISSING`."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            obj = getattr(obj, part, MISSING)
            if obj is MISSING:
                return MISSING
        return obj
    return MISSING


def canonical(obj: object, found_as: str) -> str:
    """The name of ``obj`` where it is defined (found under the dotted name ``found_as``)."""
    if isinstance(obj, ModuleType):
        return obj.__name__
    if isinstance(obj, property) and obj.fget is not None:
        obj = obj.fget
    target = inspect.unwrap(obj) if callable(obj) else obj
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None)
    if (
        (inspect.isclass(target) or inspect.isroutine(target))
        and isinstance(module, str)
        and isinstance(qualname, str)
        and "<locals>" not in qualname
    ):
        return f"{module}.{qualname}"
    owner, _, name = found_as.rpartition(".")
    parent = lookup(owner) if owner else MISSING
    return f"{canonical(parent, owner)}.{name}" if parent is not MISSING else found_as


def resolve(target: str, doc: Docstring, anchors: dict[str, str]) -> str | None:
    """The site's anchor for ``target`` as read in ``doc``, or None (not on the site)."""
    scopes = [".".join((doc.module, *doc.classes[:n])) for n in range(len(doc.classes), -1, -1)]
    for found_as in [f"{scope}.{target}" for scope in scopes] + [target, f"lr_variants.{target}"]:
        obj = lookup(found_as)
        if obj is MISSING:
            continue
        for name in (canonical(obj, found_as), found_as):
            if name in anchors:
                return anchors[name]
        return None
    return None


def replacement(match: re.Match[str], doc: Docstring, anchors: dict[str, str]) -> str:
    body = match["body"].strip()
    titled = re.fullmatch(r"(?P<title>.+?)\s*<(?P<target>[^<>]+)>", body)
    if titled:
        shown, target = titled["title"], titled["target"].lstrip("~!")
    else:
        target = body.lstrip("~!")
        shown = target.rsplit(".", 1)[-1] if body.startswith("~") else target
    anchor = resolve(target, doc, anchors)
    if anchor is None:
        return f"``{shown}``"
    return f"[`{shown}`][]" if shown == anchor else f"[`{shown}`][{anchor}]"


# ---- rewriting -------------------------------------------------------------------------------

LIST_ITEM = re.compile(r"\s*(?:[-*+]|\d+[.)])\s")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _split_at(line: str, limit: int) -> int | None:
    """The last space at or before ``limit`` that is outside code spans and after the line's
    indentation and first word, or None."""
    start = _indent(line)
    best = None
    ticks = 0
    for i, char in enumerate(line):
        if char == "`":
            ticks += 1
        elif char == " " and i > start and i <= limit and ticks % 2 == 0:
            if line[start:i].strip():
                best = i
    return best


def reflow(lines: list[str], first: int, last: int, body_indent: int) -> int:
    """Break the lines ``first..last`` (0-based, inclusive) of ``lines`` longer than
    :data:`LINE_LENGTH` in place, carrying the rest into the next line of the paragraph (or a
    new line). Returns the new index of the docstring's last line."""
    i = first
    while i <= last:
        line = lines[i]
        cut = _split_at(line, LINE_LENGTH) if len(line) > LINE_LENGTH else None
        if cut is None:
            i += 1
            continue
        if i == first:
            indent = body_indent
        elif item := LIST_ITEM.match(line):
            indent = _indent(line) + len(item[0].strip()) + 1
        else:
            indent = _indent(line)
        head, rest = line[:cut].rstrip(), line[cut + 1 :].lstrip()
        lines[i] = head
        after = lines[i + 1] if i + 1 <= last else None
        joins = (
            after is not None
            and after.strip()
            and _indent(after) == indent
            and not LIST_ITEM.match(after)
            and not after.lstrip().startswith((">>>", "...", '"""', "'''"))
            and not rest.endswith(('"""', "'''"))
        )
        if joins:
            assert after is not None
            lines[i + 1] = f"{' ' * indent}{rest} {after.lstrip()}"
        else:
            lines.insert(i + 1, f"{' ' * indent}{rest}")
            last += 1
        i += 1
    return last


def rewrite(path: Path, anchors: dict[str, str], report: list[str]) -> bool:
    """Rewrite the roles in ``path``'s docstrings; whether the file changed."""
    text = path.read_text()
    lines = text.splitlines()
    shift = 0
    for doc in docstrings(path):
        first, last = doc.first - 1 + shift, doc.last - 1 + shift
        changed = False
        for i in range(first, last + 1):

            def sub(match: re.Match[str], doc: Docstring = doc, number: int = i) -> str:
                new = replacement(match, doc, anchors)
                kind = "link" if new.startswith("[") else "code"
                report.append(f"{where(path)}:{number + 1}: {match[0]} -> {new} ({kind})")
                return new

            new = ROLE.sub(sub, lines[i])
            changed |= new != lines[i]
            lines[i] = new
        if changed:
            new_last = reflow(lines, first, last, doc.indent)
            shift += new_last - last
    new_text = "\n".join(lines) + ("\n" if text.endswith("\n") else "")
    if new_text != text:
        path.write_text(new_text)
        return True
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--check", action="store_true", help="list the roles left; exit 1 if any")
    group.add_argument("--write", action="store_true", help="rewrite the roles in place")
    parser.add_argument(
        "--inventory",
        type=Path,
        help="the site's objects.inv (default: build the site into a temporary folder)",
    )
    parser.add_argument("--verbose", action="store_true", help="with --write: each replacement")
    args = parser.parse_args(argv)
    if args.check:
        found = leftover()
        for line in found:
            print(line)
        print(f"{len(found)} Sphinx role(s) left in lr_variants/ docstrings", file=sys.stderr)
        return 1 if found else 0
    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory() as tmp:
        inventory = args.inventory or build_inventory(Path(tmp) / "site")
        anchors = read_inventory(inventory)
    report: list[str] = []
    changed = [path for path in files() if rewrite(path, anchors, report)]
    if args.verbose:
        print("\n".join(report))
    links = sum(line.endswith("(link)") for line in report)
    print(
        f"{len(report)} role(s) rewritten in {len(changed)} file(s): {links} link(s), "
        f"{len(report) - links} code span(s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
