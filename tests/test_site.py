"""The documentation site: docstrings use the cross-reference syntax the site renders (no Sphinx
roles, ``tools/docstring_refs.py``), and the built API page shows no raw role and no reference
left unresolved."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))

import docstring_refs as refs  # noqa: E402

RAW_ROLE = re.compile(r":(?:py:)?(?:" + "|".join(refs.ROLES) + r"):(?:<code>|`)")
# mkdocs-autorefs leaves an unresolved [`x`][id] or [`x`][] as it stands
UNRESOLVED = re.compile(r"\]\[(?:[A-Za-z_][\w.]*)?\]")


def test_no_docstring_in_the_package_uses_a_sphinx_role() -> None:
    left = refs.leftover()
    assert not left, "run `python tools/docstring_refs.py --write`:\n" + "\n".join(left)


def test_the_check_finds_roles_in_every_kind_of_docstring(tmp_path: Path) -> None:
    module = tmp_path / "mod.py"
    module.write_text(
        '"""Module :mod:`x`."""\n\n'
        "LIMIT = 3\n"
        '"""Attribute :data:`LIMIT`."""\n\n\n'
        "class A:\n"
        '    """Class, see :py:class:`A`."""\n\n'
        "    def f(self) -> None:\n"
        '        """Method :meth:`f`; not a role: ratio: `1`."""\n'
        "        # a comment :func:`g` is no docstring\n"
    )
    found = refs.leftover([module])
    assert [line.split(":")[1] for line in found] == ["1", "4", "8", "11"]


def test_write_links_what_the_site_documents_and_spans_the_rest(tmp_path: Path) -> None:
    module = tmp_path / "mod.py"
    long = "x " * 40
    module.write_text(
        f'"""{long}:func:`lr_variants.create` and :class:`~lr_variants.Model`, not\n'
        "on the site: :func:`os.path.join`, :meth:`save <lr_variants.Model.save>`.\n"
        '"""\n'
    )
    anchors = {
        "lr_variants.registry.create": "lr_variants.registry.create",
        "lr_variants._model.Model": "lr_variants._model.Model",
    }
    report: list[str] = []
    assert refs.rewrite(module, anchors, report)
    text = module.read_text()
    assert "[`lr_variants.create`][lr_variants.registry.create]" in text
    assert "[`Model`][lr_variants._model.Model]" in text
    assert "``os.path.join``" in text and "``save``" in text
    assert not refs.leftover([module])
    assert all(len(line) <= refs.LINE_LENGTH for line in text.splitlines())
    words = text.replace('"""', "").split()
    assert words[:40] == ["x"] * 40 and words[-1] == "``save``."  # nothing lost or reordered
    assert not refs.rewrite(module, anchors, [])  # a second run changes nothing


@pytest.mark.skipif(
    subprocess.run([sys.executable, "-c", "import mkdocs"], capture_output=True).returncode,
    reason="needs the docs extra (mkdocs)",
)
def test_the_built_site_shows_no_raw_role_and_no_unresolved_reference(tmp_path: Path) -> None:
    site = tmp_path / "site"
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)]
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    pages = sorted(site.rglob("*.html"))
    assert any(p.parent.name == "reference" for p in pages)
    problems = []
    for page in pages:
        html = page.read_text()
        for pattern in (RAW_ROLE, UNRESOLVED):
            problems += [f"{page.relative_to(site)}: {m[0]}" for m in pattern.finditer(html)]
        assert "<autoref" not in html, page
    assert not problems, "\n".join(problems)
    reference = (site / "reference" / "index.html").read_text()
    # the rewritten references are links on the API page
    assert 'href="#lr_variants.registry.create"' in reference
