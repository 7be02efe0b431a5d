"""Rounding-error bounds: how far a correct computation in a dtype may be from the exact value.

For a model of dtype with machine epsilon ``eps`` (``2**-23`` float32, ``2**-52`` float64) and
smallest normal ``tiny``, on a batch of ``N`` rows and ``D`` features, with row weights ``u``
(``1/N`` each, or the normalized sample weights) and ``S_i = |x_i|.|w| + |b|``:

* logit:        ``|dz_i| <= (D + 1) (eps S_i + tiny)``
* probability:  ``|dp_i| <= max_{|t - z_i| <= dz_i} sigmoid'(t) dz_i + 4 eps p_i + tiny``
* loss:         ``sum_i u_i (r_i dz_i + 4 eps (|z_i| + 1) + tiny) + (N + k) eps L``, where
  ``r_i = max |sigmoid(t) - y_i|`` over the same interval (the loss's slope in z)
* gradient:     ``|X|^T (u (dp + (N + k + 2) eps (p + y))) + tiny`` (the bias: ``x = 1``)

``k = 2`` without weights (the sum's ``N - 1`` additions and the division) and ``k = 3`` with
them (the rounding of ``u`` to the dtype adds one ``eps`` per term). So the float32 bound is
relative to the size of the terms, not of the result, and grows like ``eps N``: a sum that
cancels may lose all its relative accuracy and still be correct.

A comparison with the float64 reference allows the variant's bound plus the reference's own
(the same formula with float64's eps): ``vs_reference``. ``trajectory_error`` carries
the per-step bounds through the SGD rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lr_variants._validate import F64
from lr_variants.testing import reference as ref
from lr_variants.testing.reference import SGDRule

EPS: dict[str, float] = {"float32": 2.0**-23, "float64": 2.0**-52}
TINY: dict[str, float] = {k: float(np.finfo(k).tiny) for k in EPS}


def logit_error(X: F64, w: F64, b: float, dtype: str) -> F64:
    """Bound on ``|fl(X w + b) - (X w + b)|`` per row: a dot product of D terms plus the bias,
    summed in any order, errs by at most ``gamma_{D+1} S_i`` (Higham, Thm 3.1; ``gamma_n =
    n u / (1 - n u) <= n eps`` with ``u = eps / 2``), plus ``(D + 1) tiny`` for products that
    underflow to subnormals, where relative bounds fail."""
    S = np.abs(X) @ np.abs(w) + abs(b)
    out: F64 = (X.shape[1] + 1) * (EPS[dtype] * S + TINY[dtype])
    return out


def _slope_max(z: F64, dz: F64) -> F64:
    """``max sigmoid'(t)`` over ``|t - z| <= dz``: ``sigmoid'`` is even and falls with ``|t|``."""
    t = np.maximum(np.abs(z) - dz, 0.0)
    out: F64 = ref.sigmoid(t) * ref.sigmoid(-t)
    return out


def probability_error(X: F64, w: F64, b: float, dtype: str) -> F64:
    """Bound on ``|p_hat_i - p_i|``: the logit's error through the steepest slope within reach
    (mean value theorem), the sigmoid's own rounding (a few ulps, relative), and ``tiny`` for
    results in the subnormal range."""
    z, dz = ref.logits(X, w, b), logit_error(X, w, b, dtype)
    p = ref.sigmoid(z)
    out: F64 = np.minimum(_slope_max(z, dz) * dz, 1.0) + 4 * EPS[dtype] * p + TINY[dtype]
    return out


def _row_weights(n: int, u: F64 | None) -> tuple[F64, int]:
    """The weights ``u`` (``1/N`` each when ``None``) and the ``k`` of the module docstring."""
    if u is None:
        return np.full(n, 1.0 / n), 2
    return np.asarray(u, np.float64), 3


def loss_error(X: F64, y: F64, w: F64, b: float, dtype: str, u: F64 | None = None) -> float:
    """Bound on ``|L_hat - L|`` for the stable loss computed in ``dtype``.

    Per row: the logit's error times the loss's largest slope in z within reach
    (``dl/dz = sigmoid(z) - y``), plus the evaluation of ``max(z, 0) - z y + log1p(e^-|z|)``
    (or any equivalent stable form), whose terms are at most ``|z|`` and ``log 2``:
    ``4 eps (|z| + 1)`` with a factor 2 to spare. The (weighted) mean of N non-negative terms
    adds ``(N + k) eps L``.
    """
    eps, n = EPS[dtype], len(y)
    uu, k = _row_weights(n, u)
    z, dz = ref.logits(X, w, b), logit_error(X, w, b, dtype)
    slope = np.where(y == 1.0, ref.sigmoid(dz - z), ref.sigmoid(z + dz))
    per_row = slope * dz + 4 * eps * (np.abs(z) + 1.0) + TINY[dtype]
    return float(uu @ per_row + (n + k) * eps * ref.loss(X, y, w, b, u))


def gradient_error(
    X: F64, y: F64, w: F64, b: float, dtype: str, u: F64 | None = None
) -> tuple[F64, float]:
    """Bound on ``|g_hat - g|`` for ``g = X^T (u (p - y))`` (per feature) and ``sum(u (p - y))``.

    The residual ``p_hat - y`` errs by ``dp`` plus its rounding; the weighted sum of N products
    ``x_ij r_i`` by ``(N + k + 2) eps sum u_i |x_ij| |r_i|``, plus ``tiny`` for products and
    results in the subnormal range. ``|r_i|`` is bounded by ``p_i + y_i``, not by
    ``|p_i - y_i|``: where ``p ~ y = 1`` the residual is computed by cancellation and its
    absolute error is that of ``p``, about ``eps``.
    """
    n = len(y)
    uu, k = _row_weights(n, u)
    p = ref.sigmoid(ref.logits(X, w, b))
    a = uu * (probability_error(X, w, b, dtype) + (n + k + 2) * EPS[dtype] * (p + y))
    tw: F64 = np.abs(X).T @ a + TINY[dtype]
    return tw, float(np.sum(a)) + TINY[dtype]


def vs_reference(bound: Callable[..., Any], *args: Any, dtype: str, **kwargs: Any) -> Any:
    """A bound for comparing a ``dtype`` computation with the float64 reference: the variant's
    error bound plus the reference's own (the same formula with float64's eps)."""
    mine, theirs = bound(*args, dtype, **kwargs), bound(*args, "float64", **kwargs)
    if isinstance(mine, tuple):
        return tuple(m + t for m, t in zip(mine, theirs, strict=True))
    return mine + theirs


def smoothness(X: F64) -> float:
    """An upper bound on the Lipschitz constant (2-norm) of the gradient of the (weighted) mean
    logistic loss on any subset of the rows of ``X``: the Hessian is ``Xt^T diag(u p (1 - p))
    Xt`` with ``Xt = [X, 1]``, ``sum u = 1`` and ``p (1 - p) <= 1/4``, so
    ``L <= max_i (|x_i|^2 + 1) / 4``."""
    return float(np.max(np.sum(X * X, axis=1)) + 1.0) / 4.0


def trajectory_error(
    rule: SGDRule,
    lipschitz: float,
    grad_errors: list[float],
    magnitudes: list[tuple[float, float, float]],
    dtype: str,
) -> F64:
    """Bounds ``e_k`` on the 2-norm distance between a ``dtype`` run of ``rule`` and the float64
    reference run after each step ``k``, both started from the same (dtype-representable)
    parameters with dtype-representable hyperparameters.

    With ``delta`` the gradient's distance (``<= (lipschitz + wd) e_k + G_k``, ``G_k`` the
    2-norm of step k's ``gradient_error`` against the reference), ``beta`` the momentum
    buffer's (``delta`` on the first step, then ``m beta + |1 - dampening| delta + R_buf``)
    and the direction's ``beta``, ``delta + m beta`` (nesterov) or ``delta`` (no momentum)::

        e_{k+1} = e_k + lr |direction error| + R_k

    ``R_k = 4 (eps + eps64) (|p_{k+1}| + lr |d_k| + lr (|g_k| + wd |p_k|) + lr B_k) + tiny``
    and ``R_buf = 2 (eps + eps64) B_k`` with ``B_k = m |buf_{k-1}| + |g_k|`` (0 without
    momentum) cover the rounding of the rule's few operations, each ``eps / 2`` relative on
    terms of those sizes, with a factor 2 to spare; ``magnitudes[k]`` holds those 2-norms
    ``(|p_{k+1}| + lr |d_k|, lr (|g_k| + wd |p_k|), B_k)``. The recursion does not
    assume the step contracts (it holds for ``maximize`` too), so it is loose by at most
    ``(1 + lr L / (1 - m))^k``; the runs of the conformance suite keep ``lr L <= 1/16``.
    """
    eps = EPS[dtype] + EPS["float64"]
    m, wd = rule.momentum, rule.weight_decay
    e, beta = 0.0, None
    out = []
    for G, (mag_p, mag_g, mag_buf) in zip(grad_errors, magnitudes, strict=True):
        delta = (lipschitz + wd) * e + G
        rounding = 4 * eps * (mag_p + mag_g + rule.lr * mag_buf) + TINY[dtype]
        if m:
            if beta is None:
                beta = delta
            else:
                beta = m * beta + abs(1 - rule.dampening) * delta + 2 * eps * mag_buf
            direction = delta + m * beta if rule.nesterov else beta
        else:
            direction = delta
        e = e + rule.lr * direction + rounding
        out.append(e)
    return np.array(out)
