"""Hostile but legitimate input to the API: weights at the edges of the float range, arrays of
every layout and origin, values the model's dtype cannot hold, runs too long to record, and
training that diverges in its very last step.

Each family below is a promise the library makes; each case here failed before the promise was
kept (a silent wrong answer, a raw torch error, or a model returned with non-finite parameters).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import lr_variants as lv

IMPLEMENTATIONS = [(name, impl) for name in lv.VARIANTS for impl in lv.impls(name)]
X = np.array([[0.5, -1.0], [1.5, 2.0], [-0.5, 0.25], [2.0, -0.75]])
Y = np.array([0.0, 1.0, 1.0, 0.0])


def make(name: str, impl: str, dtype: str = "float64", **options: Any) -> lv.Model:
    return lv.create(name, 2, dtype=dtype, impl=impl, seed=3, **options)


# ============================================================ sample weights: scale-free


@pytest.mark.parametrize(("name", "impl"), IMPLEMENTATIONS)
@pytest.mark.parametrize(
    ("dtype", "scale"),
    [("float32", 3e38), ("float32", 1e-46), ("float64", 1e308), ("float64", 1e-320)],
)
def test_constant_weights_at_any_scale_give_the_unweighted_loss(
    name: str, impl: str, dtype: str, scale: float
) -> None:
    """Equal weights of any size, even ones the model's dtype would round to 0 or inf, give the
    unweighted loss and gradient (only s / sum(s) matters)."""
    model = make(name, impl, dtype)
    weights = np.full(len(Y), scale)
    # two roundings of the same float32/float64 sums in different orders: a few ulps of ~0.7
    tol = 1e-6 if dtype == "float32" else 1e-15
    assert model.loss(X, Y, sample_weight=weights) == pytest.approx(model.loss(X, Y), abs=tol)
    gw, gb = model.gradients(X, Y, sample_weight=weights)
    ew, eb = model.gradients(X, Y)
    np.testing.assert_allclose(np.append(gw, gb), np.append(ew, eb), atol=tol, rtol=0)


@given(exponent=st.integers(-320, 307), which=st.sampled_from(["numpy", "torch_manual"]))
def test_weights_are_scale_invariant_over_the_float64_range(exponent: int, which: str) -> None:
    """s and c s give the same weighted loss for any c > 0 the float64 range holds."""
    model = make(which, "textbook")
    s = np.array([1.0, 2.0, 0.5, 4.0])
    reference = model.loss(X, Y, sample_weight=s)
    scaled = s * 10.0**exponent if exponent > -300 else s * 1e-300 * 10.0 ** (exponent + 300)
    assert np.all(scaled > 0)
    assume_tol = 1e-14 if exponent > -308 else 1e-3  # subnormal weights keep fewer digits
    assert model.loss(X, Y, sample_weight=scaled) == pytest.approx(reference, rel=assume_tol)


def test_training_with_huge_weights_matches_unit_weights() -> None:
    runs = []
    for weight in (1.0, 3e38):
        model = make("numpy", "textbook", "float32")
        lv.train(model, X, Y, epochs=3, batch_size=2, sample_weight=np.full(len(Y), weight))
        runs.append(np.append(*model.get_params()))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_estimator_with_tiny_weights_matches_unit_weights() -> None:
    pytest.importorskip("sklearn")
    from lr_variants.estimator import SGDLogisticRegression

    fits = [
        SGDLogisticRegression("numpy", epochs=3, random_state=0).fit(
            X, Y, sample_weight=np.full(len(Y), weight)
        )
        for weight in (1.0, 1e-320)
    ]
    np.testing.assert_array_equal(fits[0].coef_, fits[1].coef_)


# ============================================================ arrays of any layout and origin


def layouts() -> dict[str, tuple[Any, Any]]:
    """The same four rows as X and Y, held in different ways (X[::-1] reversed back, etc.)."""
    rev_X, rev_Y = X[::-1].copy()[::-1], Y[::-1].copy()[::-1]  # negative strides, same values
    ro_X, ro_Y = X.copy(), Y.copy()
    ro_X.flags.writeable = ro_Y.flags.writeable = False
    wide = np.zeros((4, 4))
    wide[:, ::2] = X
    return {
        "negative strides": (rev_X, rev_Y),
        "read-only": (ro_X, ro_Y),
        "Fortran order": (np.asfortranarray(X), Y),
        "column stride 2": (wide[:, ::2], Y),
        "float32 input": (X.astype(np.float32), Y.astype(np.float32)),
        "int labels": (X, Y.astype(np.int64)),
        "tensors": (torch.tensor(X), torch.tensor(Y)),
        "tensors requiring grad": (
            torch.tensor(X, requires_grad=True),
            torch.tensor(Y, requires_grad=True),
        ),
        "masked, none masked": (np.ma.masked_array(X), np.ma.masked_array(Y)),
        "lists": (X.tolist(), Y.tolist()),
    }


@pytest.mark.parametrize(("name", "impl"), IMPLEMENTATIONS)
@pytest.mark.parametrize("layout", list(layouts()))
def test_every_layout_gives_the_same_results(name: str, impl: str, layout: str) -> None:
    Xl, Yl = layouts()[layout]
    model = make(name, impl)
    assert model.loss(Xl, Yl) == model.loss(X, Y)
    np.testing.assert_array_equal(model.predict_proba(Xl), model.predict_proba(X))
    gl, ge = model.gradients(Xl, Yl), model.gradients(X, Y)
    np.testing.assert_array_equal(np.append(*gl), np.append(*ge))
    lv.train(model, Xl, Yl, epochs=2, batch_size=3, sample_weight=np.flip(np.arange(1.0, 5.0)))
    assert np.isfinite(model.get_params()[0]).all()


@pytest.mark.parametrize("name", ["numpy", "autograd"])
def test_parameters_from_tensors_and_views(name: str) -> None:
    model = make(name, "textbook")
    model.set_params(
        torch.tensor([0.5, -0.25], requires_grad=True), torch.tensor(0.1, dtype=torch.float64)
    )
    w, b = model.get_params()
    np.testing.assert_array_equal(w, [0.5, -0.25])
    assert b == 0.1
    model.set_params(np.array([9.0, -0.25, 0.5])[::-2][::-1], 0.1)  # a strided view of 2
    np.testing.assert_array_equal(model.get_params()[0], [9.0, 0.5])


def test_the_estimator_accepts_reversed_views() -> None:
    pytest.importorskip("sklearn")
    from lr_variants.estimator import SGDLogisticRegression

    for name in lv.VARIANTS:
        est = SGDLogisticRegression(name, epochs=2, random_state=0).fit(X[::-1], Y[::-1])
        assert est.predict_proba(X[::-1]).shape == (4, 2)


@pytest.mark.parametrize(("name", "impl"), IMPLEMENTATIONS)
def test_reversed_parameters_and_buffers_are_copied(name: str, impl: str) -> None:
    """A negatively strided ``w`` (or momentum buffer) is accepted by every variant: the torch
    variants copied torch's own "negative strides are not supported" message through."""
    model = make(name, impl, momentum=0.9)
    model.set_params(np.array([9.0, -0.25, 0.5])[::-2], 0.1)  # reversed, stride -2
    np.testing.assert_array_equal(model.get_params()[0], [0.5, 9.0])
    model.step(X, Y)
    state = {k: np.array(v)[::-1] if np.ndim(v) else v for k, v in model.get_state().items()}
    model.set_state(state)
    np.testing.assert_array_equal(model.get_state()["momentum_w"], state["momentum_w"])


def _writes(into: str) -> Any:
    """A gradient function that writes into its ``into`` argument, then returns zeros."""

    def gradient(w: Any, b: Any, X: Any, y: Any, s: Any) -> tuple[Any, Any, Any]:
        {"X": X, "y": y, "s": s}[into][...] = 7.0
        return 0.0, np.zeros_like(w), 0.0

    return gradient


@pytest.mark.parametrize("into", ["X", "y", "s"])
def test_a_gradient_function_cannot_write_into_the_callers_data(into: str) -> None:
    """``from_gradient``: the function gets read-only views of ``X``, ``y`` and the weights
    (in float64 ``X`` and ``y`` were the caller's own arrays): a write is a ValueError naming
    the variant, through ``loss``, ``gradients``, full-batch ``train`` and the estimator, and
    the caller's arrays are unchanged."""
    name = f"writes_{into}"
    lv.from_gradient(_writes(into), name)
    Xc, Yc, S = X.copy(), Y.copy(), np.array([1.0, 2.0, 1.0, 1.0])
    calls: list[Any] = [
        lambda m: m.loss(Xc, Yc, sample_weight=S),
        lambda m: m.gradients(Xc, Yc, sample_weight=S),
        lambda m: lv.train(m, Xc, Yc, epochs=1, batch_size=None, sample_weight=S),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=f"variant '{name}' must not write into X, y"):
            call(lv.create(name, 2, dtype="float64"))
    pytest.importorskip("sklearn")
    from lr_variants.estimator import SGDLogisticRegression

    with pytest.raises(ValueError, match="read-only"):
        SGDLogisticRegression(name, dtype="float64", batch_size=None).fit(Xc, Yc, sample_weight=S)
    np.testing.assert_array_equal(Xc, X)
    np.testing.assert_array_equal(Yc, Y)
    np.testing.assert_array_equal(S, [1.0, 2.0, 1.0, 1.0])


BAD_ARRAYS = [
    (
        "X",
        np.ma.masked_array(X, mask=[[0, 1], [0, 0], [0, 0], [0, 0]]),
        ValueError,
        "X must have no masked entries; *",
    ),
    (
        "X",
        np.array([[1, None]] * 4, dtype=object),
        TypeError,
        r"X must hold real numbers; got an array of dtype object",
    ),
    ("w", np.array([True, False]), TypeError, r"w must hold real numbers \(not bools\)"),
    ("b", True, TypeError, r"b must hold real numbers \(not bools\)"),
]


@pytest.mark.parametrize(("arg", "value", "exc", "match"), BAD_ARRAYS)
def test_arrays_that_would_lose_information_are_refused(
    arg: str, value: Any, exc: type, match: str
) -> None:
    model = make("numpy", "textbook")
    before = model.get_params()
    with pytest.raises(exc, match=match.replace("; *", "")):
        if arg == "X":
            model.loss(value, Y)
        else:
            model.set_params(*((value, 0.0) if arg == "w" else (np.zeros(2), value)))
    np.testing.assert_array_equal(model.get_params()[0], before[0])


# ============================================================ numbers the model cannot hold

CREATE_LIMITS = [
    ({"lr": 10**400}, ValueError, r"lr must be a finite real number; got an integer of 401 digits"),
    ({"lr": 1e39}, ValueError, r"lr must be representable in float32"),
    ({"weight_decay": 1e39}, ValueError, r"weight_decay must be representable in float32"),
    ({"momentum": 1e39}, ValueError, r"momentum must be representable in float32"),
]


@pytest.mark.parametrize(("kwargs", "exc", "match"), CREATE_LIMITS)
def test_hyperparameters_must_fit_the_dtype(kwargs: dict[str, Any], exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        lv.create("torch_manual", 2, dtype="float32", **kwargs)


def test_float64_accepts_what_float32_cannot_hold() -> None:
    assert lv.create("numpy", 2, dtype="float64", lr=1e39).lr == 1e39


def test_a_run_too_long_to_record_is_refused_before_it_starts() -> None:
    model = make("numpy", "textbook")
    with pytest.raises(ValueError, match=r"epochs x batches per epoch must be at most"):
        lv.train(model, X, Y, epochs=100_000_000, batch_size=1)
    with pytest.raises(ValueError, match=r"epochs x batches"):
        lv.train(model, X, Y, epochs=10**30, batch_size=1)


# ============================================================ divergence in the last step


@pytest.mark.parametrize(("name", "impl"), IMPLEMENTATIONS)
def test_train_never_returns_non_finite_parameters(name: str, impl: str) -> None:
    """The loss before the only step is finite; the update overflows float32. train() must say
    so instead of returning a model holding inf (which save would write and load refuse)."""
    model = make(name, impl, "float32", lr=1e38)
    Xbig = X * 1e3
    with pytest.raises(FloatingPointError, match=r"training diverged"):
        with np.errstate(all="ignore"):
            lv.train(model, Xbig, Y, epochs=1, batch_size=None)
