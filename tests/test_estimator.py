"""Sample weights in every variant, and the scikit-learn estimator SGDLogisticRegression.

The sample-weight tests need only lr_variants; the estimator tests need scikit-learn (the
``sklearn`` extra) and are skipped without it.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import reference as ref

import lr_variants as lv

try:
    from sklearn.utils.estimator_checks import parametrize_with_checks

    from lr_variants.estimator import SGDLogisticRegression
except ImportError:  # the sklearn extra is not installed: only the weight tests run
    SGDLogisticRegression = None  # type: ignore[assignment,misc]

needs_sklearn = pytest.mark.skipif(SGDLogisticRegression is None, reason="needs scikit-learn")

# the module variant twice: its default loss and the article's sigmoid + BCELoss form
CASES = [(v, {}) for v in lv.VARIANTS] + [("module", {"loss": "sigmoid_bce"})]
CASE_IDS = [*lv.VARIANTS, "module-sigmoid_bce"]


def _data(n: int = 23, d: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (rng.random(n) < 0.5).astype(float)
    return X, y, rng.integers(0, 5, size=n).astype(float)


def _weighted_reference(X, y, s, w, b) -> tuple[float, np.ndarray, float]:
    """``sum(s l) / sum(s)`` and its gradient, in float64 from the reference formulas."""
    z = ref.logits(X, w, b)
    r = ref.sigmoid(z) - y
    total = s.sum()
    loss = np.sum(s * (np.logaddexp(0.0, z) - y * z)) / total
    return float(loss), X.T @ (s * r) / total, float(np.sum(s * r) / total)


# ---- sample weights in every variant (no scikit-learn needed) -----------------------------


@pytest.mark.parametrize("name,opts", CASES, ids=CASE_IDS)
def test_weighted_loss_and_gradients_match_the_float64_reference(name: str, opts) -> None:
    """Every variant's weighted loss and gradient equal the float64 formula to 1e-12 (float64
    rounding, ~1e-16 per operation over 23 rows), and within float32 rounding in float32."""
    X, y, s = _data()
    for dtype, tol in (("float64", 1e-12), ("float32", 2e-6)):
        model = lv.create(name, 3, dtype=dtype, seed=1, **opts)
        w, b = model.get_params()
        loss, gw, gb = _weighted_reference(X, y, s, w, b)
        assert model.loss(X, y, sample_weight=s) == pytest.approx(loss, rel=tol, abs=tol)
        mw, mb = model.gradients(X, y, sample_weight=s)
        np.testing.assert_allclose(mw, gw, rtol=tol, atol=tol, err_msg=f"{name} {dtype}")
        assert mb == pytest.approx(gb, rel=tol, abs=tol)


@pytest.mark.parametrize("name,opts", CASES, ids=CASE_IDS)
def test_integer_weights_equal_repeated_rows(name: str, opts) -> None:
    """Weight k on a row is that row repeated k times (k = 0: the row removed): loss and gradient
    agree to 1e-12 (only the order of the float64 sums differs)."""
    X, y, s = _data()
    model = lv.create(name, 3, dtype="float64", seed=2, **opts)
    reps = s.astype(int)
    Xr, yr = np.repeat(X, reps, axis=0), np.repeat(y, reps)
    assert model.loss(X, y, sample_weight=s) == pytest.approx(model.loss(Xr, yr), abs=1e-12)
    (gw, gb), (rw, rb) = model.gradients(X, y, sample_weight=s), model.gradients(Xr, yr)
    np.testing.assert_allclose(gw, rw, rtol=0, atol=1e-12)
    assert gb == pytest.approx(rb, abs=1e-12)
    ones = np.ones(len(y))
    assert model.loss(X, y, sample_weight=ones) == pytest.approx(model.loss(X, y), abs=1e-12)


@pytest.mark.parametrize("name", lv.VARIANTS)
def test_weighted_training_and_zero_weight_batches(name: str) -> None:
    """train() reorders the weights with the rows: a weighted step equals the reference's, and
    a batch whose weights are all 0 changes nothing (its loss is 0, its gradient 0)."""
    X, y, _ = _data(8, 2)
    s = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 0.5, 3.0])
    model = lv.create(name, 2, dtype="float64", seed=3, lr=0.5)
    w, b = model.get_params()
    h = lv.train(model, X, y, epochs=2, batch_size=4, shuffle=False, sample_weight=s)
    np.testing.assert_array_equal(h.batch_loss[:, 0], [0.0, 0.0])
    for _ in range(2):  # only the second batch moves the parameters
        _, gw, gb = _weighted_reference(X[4:], y[4:], s[4:], w, b)
        w, b = w - 0.5 * gw, b - 0.5 * gb
    mw, mb = model.get_params()
    np.testing.assert_allclose(mw, w, rtol=1e-13)
    assert mb == pytest.approx(b, rel=1e-13)

    shuffled = lv.create(name, 2, dtype="float64", seed=3)
    plain = lv.create(name, 2, dtype="float64", seed=3)
    lv.train(shuffled, X, y, epochs=3, batch_size=3, seed=4, sample_weight=np.ones(8))
    lv.train(plain, X, y, epochs=3, batch_size=3, seed=4)
    np.testing.assert_allclose(shuffled.get_params()[0], plain.get_params()[0], rtol=1e-13)


BAD_WEIGHTS = [
    ([1.0, 2.0], ValueError, r"sample_weight must have shape \(3,\), one weight per row"),
    ([[1.0, 1.0, 1.0]], ValueError, r"sample_weight must have shape \(3,\).*got shape \(1, 3\)"),
    ([1.0, -1.0, 1.0], ValueError, r"sample_weight must be >= 0; got -1.0 at index 1"),
    ([1.0, np.nan, 1.0], ValueError, r"sample_weight must hold finite float64 values; got nan"),
    ([0.0, 0.0, 0.0], ValueError, r"sample_weight must have a positive sum; got all zeros"),
    (["a", "b", "c"], TypeError, r"sample_weight must hold real numbers"),
]


@pytest.mark.parametrize("weights,error,match", BAD_WEIGHTS)
def test_bad_sample_weight_is_refused(weights: Any, error: type, match: str) -> None:
    X, y = np.zeros((3, 2)), np.array([0.0, 1.0, 1.0])
    model = lv.create("numpy", 2, dtype="float64")
    before = model.get_params()
    for call in (model.loss, model.gradients, model.step):
        with pytest.raises(error, match=match):
            call(X, y, sample_weight=weights)
    with pytest.raises(error, match=match):
        lv.train(model, X, y, sample_weight=weights)
    np.testing.assert_array_equal(model.get_params()[0], before[0])


def test_importing_lr_variants_does_not_import_sklearn() -> None:
    code = (
        "import sys, lr_variants as lv; X, y = lv.two_blobs(10);"
        " lv.train(lv.create('numpy', 2), X, y, epochs=1, sample_weight=[1.0] * 20);"
        " assert 'sklearn' not in sys.modules and 'torch' not in sys.modules, 'imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_estimator_without_sklearn_says_how_to_install() -> None:
    code = "import sys; sys.modules['sklearn'] = None; import lr_variants.estimator"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 1
    assert "lr_variants.estimator needs scikit-learn >= 1.6" in out.stderr
    assert "pip install 'lr_variants[sklearn]'" in out.stderr


# ---- the scikit-learn estimator -----------------------------------------------------------


def _expected_failed_checks(estimator: Any) -> dict[str, str]:
    """Checks SGDLogisticRegression is expected to fail, with the reason: none at present.

    ``check_sample_weight_equivalence_on_dense_data`` (integer weights == repeated rows) passes
    because its data sets (15 rows weighted, ~30 repeated) fit in one batch of 32: full-batch
    gradient descent sees the same weighted mean either way. With smaller batches it would
    fail, and rightly: repeating rows changes how many batches an epoch has and which rows
    share one, so shuffled minibatch SGD takes different steps (it agrees in expectation only).
    """
    return {}


if SGDLogisticRegression is not None:
    # few epochs: each check fits several times; 20 epochs keep every variant's checks short
    # while check_classifiers_train still reaches its accuracy bar
    ESTIMATORS = [SGDLogisticRegression(v, epochs=20) for v in lv.VARIANTS]

    @parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
    def test_sklearn_compatible(estimator: Any, check: Any) -> None:
        check(estimator)


@needs_sklearn
def test_estimator_fits_any_two_labels_and_matches_lr_variants() -> None:
    X, y01 = lv.two_blobs(50)
    labels = np.where(y01 == 1, "spam", "ham")
    clf = SGDLogisticRegression("autograd", epochs=15, momentum=0.5, random_state=0)
    assert clf.fit(X, labels) is clf
    np.testing.assert_array_equal(clf.classes_, ["ham", "spam"])
    assert clf.coef_.shape == (1, 2) and clf.intercept_.shape == (1,)
    assert clf.n_features_in_ == 2 and clf.n_iter_ == 15 and len(clf.loss_curve_) == 15
    proba = clf.predict_proba(X)
    assert proba.shape == (100, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-12)
    assert set(clf.predict(X)) <= {"ham", "spam"} and clf.score(X, labels) >= 0.99
    np.testing.assert_array_equal(clf.predict(X) == "spam", clf.decision_function(X) > 0)

    # the same model lv.create + lv.train make, with the seed drawn from random_state
    seed = int(np.random.RandomState(0).randint(np.iinfo(np.int32).max))
    model = lv.create("autograd", 2, dtype="float64", seed=seed, momentum=0.5)
    history = lv.train(model, X, y01, epochs=15, seed=seed)
    w, b = model.get_params()
    np.testing.assert_array_equal(clf.coef_[0], w)
    assert clf.intercept_[0] == b
    np.testing.assert_array_equal(clf.loss_curve_, history.epoch_loss)


@needs_sklearn
def test_estimator_is_binary_only() -> None:
    from sklearn.utils import get_tags

    assert get_tags(SGDLogisticRegression()).classifier_tags.multi_class is False
    X = np.arange(12.0).reshape(6, 2)
    with pytest.raises(ValueError, match=r"Only binary classification is supported. y must hold"):
        SGDLogisticRegression().fit(X, [0, 1, 2, 0, 1, 2])
    with pytest.raises(ValueError, match=r"exactly 2 classes; got 1 class"):
        SGDLogisticRegression().fit(X, ["a"] * 6)


@needs_sklearn
def test_estimator_sample_weight() -> None:
    """Full batch: integer weights give the model that repeated rows give (in minibatch SGD
    they would not: repeating rows changes the batches). A class with zero total weight is
    refused: logistic regression then has no minimizer."""
    X, y, s = _data(20, 2, seed=5)
    reps = s.astype(int)
    opts: dict[str, Any] = {"batch_size": None, "epochs": 30, "random_state": 1}
    weighted = SGDLogisticRegression(**opts).fit(X, y, sample_weight=s)
    repeated = SGDLogisticRegression(**opts).fit(np.repeat(X, reps, axis=0), np.repeat(y, reps))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-12)
    with pytest.raises(ValueError, match=r"class 0.0 has total weight 0"):
        SGDLogisticRegression().fit(X, y, sample_weight=np.where(y == 0, 0.0, 1.0))


@needs_sklearn
def test_estimator_reports_bad_parameters_at_fit() -> None:
    X, y = lv.two_blobs(5)
    with pytest.raises(ValueError, match=r"variant must be one of .*; got 'jax'"):
        SGDLogisticRegression("jax").fit(X, y)
    with pytest.raises(ValueError, match=r"lr must be > 0.0; got -1.0"):
        SGDLogisticRegression(lr=-1).fit(X, y)
    with pytest.raises(ValueError, match=r"epochs must be >= 0; got -2"):
        SGDLogisticRegression(epochs=-2).fit(X, y)
