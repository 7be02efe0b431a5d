"""One version, written in ``lr_variants/_version.py`` (``lr_variants.__version__``): pyproject.toml reads it, ``--version``
prints it installed or not."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest

import lr_variants as lv
from lr_variants.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_pyproject_reads_the_version_from_the_package() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in config["project"] and "version" in config["project"]["dynamic"]
    dynamic = config["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "lr_variants._version.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", lv.__version__)


def test_version_without_package_metadata(capsys, monkeypatch) -> None:
    """A source tree that was never installed has no metadata: --version still knows."""

    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"lr-variants {lv.__version__}\n"


def test_the_installed_metadata_agrees() -> None:
    try:
        installed = importlib.metadata.version("lr_variants")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("lr_variants is not installed here")
    assert installed == lv.__version__
