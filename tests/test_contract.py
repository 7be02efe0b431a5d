"""The contract of issue 2, checked for every variant and dtype."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import reference as ref

import lr_variants as lv

DTYPES = ("float32", "float64")


@pytest.fixture(params=lv.VARIANTS)
def variant(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(20, 3))
    y = (rng.random(20) < 0.5).astype(float)
    return X, y


def test_variants_tuple() -> None:
    assert isinstance(lv.VARIANTS, tuple)
    assert {"numpy", "autograd", "module"} <= set(lv.VARIANTS)


@pytest.mark.parametrize("dtype", DTYPES)
def test_params_types_and_identical_initialisation(variant: str, dtype: str) -> None:
    w, b = lv.create(variant, 5, dtype=dtype, seed=3).get_params()
    assert isinstance(w, np.ndarray) and w.dtype == np.float64 and w.shape == (5,)
    assert type(b) is float
    w0, b0 = lv.initial_params(5, seed=3)
    # identical in every variant: the float64 draw rounded once to the model's dtype
    np.testing.assert_array_equal(w, w0.astype(dtype).astype(np.float64))
    assert b == float(np.array(b0).astype(dtype))
    assert np.all(np.abs(w0) <= 1 / math.sqrt(5)) and abs(b0) <= 1 / math.sqrt(5)


def test_initial_params_depend_only_on_seed() -> None:
    a, b = lv.initial_params(4, seed=1), lv.initial_params(4, seed=1)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(lv.initial_params(4, seed=2)[0], a[0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_set_get_round_trip(variant: str, dtype: str) -> None:
    model = lv.create(variant, 3, dtype=dtype)
    model.set_params([0.5, -1.25, 2.0], 0.75)  # exactly representable in float32
    w, b = model.get_params()
    np.testing.assert_array_equal(w, [0.5, -1.25, 2.0])
    assert b == 0.75
    w[0] = 99.0  # get_params returns a copy
    assert model.get_params()[0][0] == 0.5


@pytest.mark.parametrize("dtype", DTYPES)
def test_predict_loss_gradients_step(variant: str, dtype: str, batch) -> None:
    X, y = batch
    model = lv.create(variant, 3, dtype=dtype, lr=0.5)
    w, b = model.get_params()
    p = model.predict_proba(X)
    assert isinstance(p, np.ndarray) and p.shape == (20,) and p.dtype == np.float64
    assert np.all((p >= 0) & (p <= 1))
    loss = model.loss(X, y)
    assert type(loss) is float
    gw, gb = model.gradients(X, y)
    assert gw.dtype == np.float64 and gw.shape == (3,) and type(gb) is float
    np.testing.assert_array_equal(model.get_params()[0], w)  # gradients change nothing
    step_loss = model.step(X, y)
    assert type(step_loss) is float
    tol = 1e-6 if dtype == "float32" else 1e-14
    assert step_loss == pytest.approx(loss, rel=tol)  # the loss before the update
    w1, b1 = model.get_params()
    # one SGD step: w - lr * grad
    np.testing.assert_allclose(w1, w - 0.5 * gw, rtol=tol, atol=tol)
    assert b1 == pytest.approx(b - 0.5 * gb, rel=tol, abs=tol)


def test_accuracy_threshold() -> None:
    model = lv.create("numpy", 1, dtype="float64")
    model.set_params([1.0], 0.0)
    X = np.array([[-2.0], [-1.0], [1.0], [3.0]])
    # p > 0.5 exactly where x > 0
    assert lv.accuracy(model, X, [0, 0, 1, 1]) == 1.0
    assert lv.accuracy(model, X, [0, 1, 1, 1]) == 0.75


def test_loss_from_logits_is_stable(variant: str) -> None:
    """Logits of +-1e4 in float32: the loss is finite and exact (|z| per wrong sample)."""
    model = lv.create(variant, 1, dtype="float32")
    model.set_params([1e4], 0.0)
    X, y = np.array([[1.0], [-1.0]]), np.array([0.0, 1.0])
    assert model.loss(X, y) == pytest.approx(1e4, rel=1e-6)
    gw, _ = model.gradients(X, y)
    assert np.isfinite(gw).all() and gw[0] == pytest.approx(1.0, rel=1e-6)


def test_sigmoid_bce_option_is_the_articles_form() -> None:
    """loss="sigmoid_bce" is nn.BCELoss on sigmoid: at saturation the log is clamped at -100."""
    stable = lv.create("module", 1, dtype="float32")
    article = lv.create("module", 1, dtype="float32", loss="sigmoid_bce")
    X, y = np.array([[1.0], [-1.0], [0.3]]), np.array([1.0, 0.0, 1.0])
    for m in (stable, article):
        m.set_params([0.7], -0.2)
    assert article.loss(X, y) == pytest.approx(stable.loss(X, y), rel=1e-6)
    for m in (stable, article):
        m.set_params([1e4], 0.0)
    X2, y2 = np.array([[-1.0]]), np.array([1.0])
    assert stable.loss(X2, y2) == pytest.approx(1e4, rel=1e-6)
    assert article.loss(X2, y2) == 100.0
    assert article.gradients(X2, y2)[0][0] == 0.0  # the gradient vanishes at saturation


def test_import_does_not_load_torch() -> None:
    code = "import lr_variants, sys; lr_variants.create('numpy', 2); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_float64_agrees_with_reference(variant: str) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(scale=3.0, size=(50, 4))
    y = (rng.random(50) < 0.4).astype(float)
    model = lv.create(variant, 4, dtype="float64", seed=5)
    w, b = model.get_params()
    # float64 with O(10) terms: a few ulps of the largest term, 1e-13 relative is ample
    assert model.loss(X, y) == pytest.approx(ref.loss(X, y, w, b), rel=1e-13)
    gw, gb = model.gradients(X, y)
    rgw, rgb = ref.gradients(X, y, w, b)
    np.testing.assert_allclose(gw, rgw, rtol=1e-12, atol=1e-15)
    assert gb == pytest.approx(rgb, rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(model.predict_proba(X), ref.sigmoid(ref.logits(X, w, b)), rtol=1e-14)
