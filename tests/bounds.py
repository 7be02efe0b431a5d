"""Rounding-error bounds for the cross-check suite, and the assertions that use them.

The bounds (``loss_error``, ``gradient_error``, ``probability_error``; defined once in
``lr_variants.testing.bounds``, the conformance kit, and ``step_error`` here) are derived in
``docs/testing.md``; in short, for a model of dtype with machine epsilon ``eps``
(2**-23 or 2**-52) and smallest normal ``tiny``, on a batch of ``N`` rows and ``D`` features,
with ``S_i = |x_i|.|w| + |b|``:

* logit:        ``|dz_i| <= (D + 1) (eps S_i + tiny)``
* probability:  ``|dp_i| <= max_{|t - z_i| <= dz_i} sigmoid'(t) dz_i + 4 eps p_i + tiny``
* loss:         ``mean_i(r_i dz_i + 4 eps (|z_i| + 1) + tiny) + (N + 2) eps L``, where
  ``r_i = max |sigmoid(t) - y_i|`` over the same interval (the slope of the loss in z)
* gradient:     ``|X|^T (dp + (N + 4) eps (p + y)) / N + tiny`` (the bias: ``x = 1``)

A comparison with the float64 reference allows the variant's bound plus the reference's own
bound (the same formulas with eps = 2**-52); a comparison of two computations of one exact value
allows the sum of their bounds. Every computation is on the same inputs: the problems hold values
representable in the model's dtype (``tests/strategies.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

# the bounds are the conformance kit's (lr_variants.testing.bounds), so the suite and the kit
# hold users' variants and the built-ins to the same derivation
from lr_variants.testing.bounds import (
    EPS,
    TINY,
    gradient_error,
    logit_error,
    loss_error,
    probability_error,
    vs_reference,
)

__all__ = [
    "EPS",
    "TINY",
    "check_close",
    "check_that",
    "gradient_error",
    "logit_error",
    "loss_error",
    "probability_error",
    "step_error",
    "vs_reference",
]


def step_error(
    Xb: np.ndarray,
    yb: np.ndarray,
    w: np.ndarray,
    b: float,
    g: np.ndarray,
    theta_next: np.ndarray,
    lr: float,
    dtype: str,
) -> float:
    """Bound on the 2-norm of one SGD step's local error ``fl(T(theta)) - T(theta)``,
    ``T(theta) = theta - lr grad L(theta)``: ``lr`` times the gradient's error, plus the
    rounding of ``lr * g`` and of the subtraction (``eps (|theta_next| + lr |g|)``)."""
    tw, tb = gradient_error(Xb, yb, w, b, dtype)
    per = lr * np.append(tw, tb) + EPS[dtype] * (np.abs(theta_next) + lr * np.abs(g)) + TINY[dtype]
    return float(np.linalg.norm(per))


# ======================================================================= assertions


def check_close(
    actual: Any,
    expected: Any,
    tol: Any,
    *,
    variant: str,
    quantity: str,
    dtype: str,
    note: str = "",
) -> None:
    """Assert ``|actual - expected| <= tol`` elementwise (NaN fails), naming the variant, the
    dtype, the quantity, both values, the difference and the tolerance of the worst element."""
    __tracebackhide__ = True
    a, e, t = np.broadcast_arrays(
        np.asarray(actual, np.float64),
        np.asarray(expected, np.float64),
        np.asarray(tol, np.float64),
    )
    diff = np.abs(a - e)
    bad = ~(diff <= t)
    if bad.any():
        ratio = np.where(np.isnan(diff), np.inf, diff / np.maximum(t, 1e-300))
        i = np.unravel_index(int(np.argmax(np.where(bad, ratio, -1.0))), a.shape)
        at = f", element [{', '.join(map(str, i))}]" if a.ndim else ""
        raise AssertionError(
            f"variant {variant!r} ({dtype}): {quantity}{at} = {float(a[i])!r}, "
            f"expected {float(e[i])!r}; "
            f"|difference| {diff[i]:.6g} > tolerance {t[i]:.6g}"
            f" ({int(bad.sum())} of {bad.size} elements out of tolerance){note}"
        )


def check_that(ok: bool, *, variant: str, dtype: str, message: str) -> None:
    __tracebackhide__ = True
    if not ok:
        raise AssertionError(f"variant {variant!r} ({dtype}): {message}")
