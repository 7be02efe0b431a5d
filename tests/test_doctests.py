"""The examples in the package's docstrings run and print what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "lr_variants",
    "lr_variants.compare",
    "lr_variants.scratch",
    "lr_variants.explain",
    "lr_variants.plot",
    "lr_variants.estimator",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    if name in ("lr_variants.plot", "lr_variants.estimator"):
        pytest.importorskip("matplotlib" if name.endswith("plot") else "sklearn")
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
