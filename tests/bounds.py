"""Rounding-error bounds for the cross-check suite, and the assertions that use them.

The bounds (``loss_error``, ``gradient_error``, ``probability_error``, ``step_error``) are
derived in ``docs/testing.md``; in short, for a model of dtype with machine epsilon ``eps``
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

from collections.abc import Callable
from typing import Any

import numpy as np
import reference as ref
from strategies import DTYPES

EPS: dict[str, float] = {"float32": 2.0**-23, "float64": 2.0**-52}
TINY: dict[str, float] = {k: float(np.finfo(k).tiny) for k in DTYPES}


def logit_error(X: np.ndarray, w: np.ndarray, b: float, dtype: str) -> np.ndarray:
    """Bound on ``|fl(X w + b) - (X w + b)|`` per row: a dot product of D terms plus the bias,
    summed in any order, errs by at most ``gamma_{D+1} S_i`` (Higham, Thm 3.1; ``gamma_n =
    n u / (1 - n u) <= n eps`` with ``u = eps / 2``), plus ``(D + 1) tiny`` for products that
    underflow to subnormals, where relative bounds fail."""
    S = np.abs(X) @ np.abs(w) + abs(b)
    out: np.ndarray = (X.shape[1] + 1) * (EPS[dtype] * S + TINY[dtype])
    return out


def _slope_max(z: np.ndarray, dz: np.ndarray) -> np.ndarray:
    """``max sigmoid'(t)`` over ``|t - z| <= dz``: ``sigmoid'`` is even and falls with ``|t|``."""
    t = np.maximum(np.abs(z) - dz, 0.0)
    out: np.ndarray = ref.sigmoid(t) * ref.sigmoid(-t)
    return out


def probability_error(X: np.ndarray, w: np.ndarray, b: float, dtype: str) -> np.ndarray:
    """Bound on ``|p_hat_i - p_i|``: the logit's error through the steepest slope within reach
    (mean value theorem), the sigmoid's own rounding (a few ulps, relative), and ``tiny`` for
    results in the subnormal range."""
    z, dz = ref.logits(X, w, b), logit_error(X, w, b, dtype)
    p = ref.sigmoid(z)
    out: np.ndarray = np.minimum(_slope_max(z, dz) * dz, 1.0) + 4 * EPS[dtype] * p + TINY[dtype]
    return out


def loss_error(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, dtype: str) -> float:
    """Bound on ``|L_hat - L|`` for the stable loss computed in ``dtype``.

    Per row: the logit's error times the loss's largest slope in z within reach
    (``dl/dz = sigmoid(z) - y``), plus the evaluation of ``max(z, 0) - z y + log1p(e^-|z|)``
    (or torch's equivalent), whose terms are at most ``|z|`` and ``log 2``: ``4 eps (|z| + 1)``
    with a factor 2 to spare. The mean of N non-negative terms adds ``(N + 2) eps L``.
    """
    eps, n = EPS[dtype], len(y)
    z, dz = ref.logits(X, w, b), logit_error(X, w, b, dtype)
    slope = np.where(y == 1.0, ref.sigmoid(dz - z), ref.sigmoid(z + dz))
    per_row = slope * dz + 4 * eps * (np.abs(z) + 1.0) + TINY[dtype]
    return float(np.mean(per_row) + (n + 2) * eps * ref.loss(X, y, w, b))


def gradient_error(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, dtype: str
) -> tuple[np.ndarray, float]:
    """Bound on ``|g_hat - g|`` for ``g = X^T (p - y) / N`` (per feature) and ``mean(p - y)``.

    The residual ``p_hat - y`` errs by ``dp`` plus its rounding; the sum of N products
    ``x_ij r_i`` (and the scaling by ``1/N``) by ``(N + 2) eps sum |x_ij| |r_i|``, plus ``tiny``
    for products and results in the subnormal range. ``|r_i|`` is
    bounded by ``p_i + y_i``, not by ``|p_i - y_i|``: where ``p ~ y = 1`` the residual is
    computed by cancellation and its absolute error is that of ``p``, about ``eps``.
    """
    n = len(y)
    a = probability_error(X, w, b, dtype) + (n + 4) * EPS[dtype] * (
        ref.sigmoid(ref.logits(X, w, b)) + y
    )
    # + tiny: products x_ij r_i and the result itself may round in the subnormal range
    return np.abs(X).T @ a / n + TINY[dtype], float(np.mean(a)) + TINY[dtype]


def vs_reference(bound: Callable[..., Any], *args: Any, dtype: str) -> Any:
    """A bound for comparing a ``dtype`` computation with the float64 reference: the variant's
    error bound plus the reference's own (the same formula with float64's eps)."""
    mine, theirs = bound(*args, dtype), bound(*args, "float64")
    if isinstance(mine, tuple):
        return tuple(m + t for m, t in zip(mine, theirs, strict=True))
    return mine + theirs


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
