"""lr_variants.specs.resolve: a variant name passes through; package.module:attribute is
imported from the current directory and registered by the entry points' rule."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import lr_variants as lv
from lr_variants.registry import spec
from lr_variants.specs import resolve

SOURCE = """
import numpy as np
from lr_variants.textbook.numpy import NumpyLogisticRegression

def grad(w, b, X, y, s):
    z = X @ w + b
    u = np.full(len(y), 1.0 / len(y), dtype=X.dtype) if s is None else s
    r = u * (1 / (1 + np.exp(-z)) - y)
    return u @ (np.logaddexp(0, z) - y * z), X.T @ r, r.sum()

def factory(w, b, *, sgd, dtype, device="cpu"):
    return NumpyLogisticRegression(w, b, sgd=sgd, dtype=dtype, device=device)

numpy = grad  # clashes with the built-in name
not_callable = 3
"""


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"specs_mod_{abs(hash(tmp_path)) % 10**8}"
    (tmp_path / f"{name}.py").write_text(SOURCE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    return name


def test_names_pass_through() -> None:
    for name in lv.VARIANTS:
        assert resolve(name) == name


def test_gradient_function_and_factory_are_registered(module: str) -> None:
    grad = resolve(f"{module}:grad")
    assert grad == "grad" and grad in lv.variants()
    assert type(lv.create(grad, 2).engine).__name__ == "GradientFunctionVariant"
    assert resolve(f"{module}:grad") == grad  # same spec, same name
    fac = resolve(f"{module}:factory")
    assert (
        type(
            spec(fac).factory("textbook")(
                *lv.initial_params(2), sgd=lv.SGDOptions(), dtype="float64"
            )
        ).__name__
        == "NumpyLogisticRegression"
    )


def test_a_clashing_name_gets_the_module_prefix(module: str) -> None:
    assert resolve(f"{module}:numpy") == f"{module}_numpy"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("nope", r"variant must be one of .* or package.module:attribute; got 'nope'"),
        ("a-b:c", "variant must be package.module:attribute; got 'a-b:c'"),
        ("{m}:", "variant must be package.module:attribute; got"),
        ("{m}:missing", "has no attribute 'missing'"),
        ("{m}:not_callable", "not_callable is a int, not a variant factory or a gradient"),
        ("no_such_pkg_xyz.mod:f", "cannot import 'no_such_pkg_xyz.mod'"),
    ],
)
def test_bad_specs(module: str, text: str, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        resolve(text.format(m=module))
    assert "\n" not in str(info.value)
    with pytest.raises(TypeError, match="variant must be a string"):
        resolve(3)  # type: ignore[arg-type]
