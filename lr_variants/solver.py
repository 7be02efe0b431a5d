"""Exact reference solver: L2-penalized logistic regression by Newton's method, NumPy only.

With ``Xt = [X, 1]`` (ones LAST, so ``theta = (w..., b)``), ``z = Xt theta``, ``p = sigmoid(z)``,
``N`` rows and ``P = diag(1, ..., 1, 0)`` (the intercept is not penalized)::

    f(theta) = mean_i [max(z_i, 0) - z_i y_i + log1p(exp(-|z_i|))] + (weight_decay / 2) ||w||^2
    g(theta) = Xt^T (p - y) / N + weight_decay P theta
    H(theta) = Xt^T diag(p (1 - p)) Xt / N + weight_decay P
    step:      delta = -H^-1 g (Cholesky);  theta <- theta + t delta, t the first of 1, 1/2, ...
               with f(theta + t delta) <= f(theta) + 1e-4 t g.delta (Armijo)

Converged when ``||g||_inf <= tol`` (the infinity norm: every coordinate of ``g`` is that small).

Separation (``weight_decay = 0``). Let ``a_i = (2 y_i - 1) Xt_i``, so ``A theta`` holds the
margins. A finite minimizer exists iff no direction ``d`` has ``A d >= 0`` and ``A d != 0``
(Albert & Anderson, 1984): along such a ``d`` no loss term grows and some fall to 0.
[`SeparationError`][lr_variants.solver.SeparationError] is raised on exhibiting such a ``d`` (a
certificate), never on the size of the coefficients:

* complete: an iterate with every margin ``> 0`` (beyond rounding) separates; Newton finds one,
  as ``f < log(2)/N`` forces it;
* quasi-complete (some points stay on the hyperplane): a separated point's loss is
  ~``exp(-margin)``, whose Newton step is ~one unit of margin however far out, so ``delta`` keeps
  moving those margins by O(1) while the rest (``R``) settle. ``d`` = ``delta`` projected onto
  the null space of ``A_R`` has ``A_R d = 0`` by construction: if every other margin of ``d`` is
  ``> 0``, ``d`` is a certificate. ``R`` is guessed as the points moved by at most ``kappa`` times
  the largest move, for a few ``kappa``: a poor guess can miss a certificate, never forge one.

Steps are tried once ``||g||_inf <= 1e-8`` (while the separated points' gradient still stands
above rounding) and, to let ``R`` settle, for up to 50 Newton steps past the returned iterate,
until no margin moves more than 1e-6 (a finite minimum: Newton converges quadratically there).
If instead the path still diverges after those steps, or ``H`` underflows to singular on the
way, ``SeparationError`` is raised too, saying no certificate was found.

With ``weight_decay > 0`` only ``b`` is unpenalized: a minimizer exists iff ``y`` holds both
classes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lr_variants._validate import F64, check_data, check_int, check_params, check_real

__all__ = ["SeparationError", "Solution", "solve"]

Iterate = tuple[F64, F64, F64 | None]  # theta, g, Newton step (None where H is singular)

_EPS = float(np.finfo(np.float64).eps)
_PROBE_STEPS = 50
_PROBE_BELOW = 1e-8
_SETTLED = 1e-6  # log-odds
_KAPPAS = (1e-2, 1e-4, 1e-6, 1e-8, 1e-10, 1e-12)
_NO_CERTIFICATE = (
    f"apparently separated (no certificate found, but Newton's method still moves margins"
    f" {_PROBE_STEPS} steps past convergence, or the Hessian underflowed on the way)"
)


class SeparationError(ValueError):
    """The data are separated, so the unpenalized likelihood has no finite maximum."""


def _separated(how: str) -> str:
    return (
        f"the data are {how}: no finite maximum-likelihood estimate exists; pass weight_decay > 0"
    )


@dataclass(frozen=True)
class Solution:
    """The minimizer ``(w, b)`` after ``n_iter`` Newton steps; ``loss = f``, ``grad_norm =
    ||g||_inf``, ``converged = grad_norm <= tol`` and ``hessian = H`` there (ordered ``(w..., b)``);
    with ``weight_decay == 0``, ``standard_errors = sqrt(diag(inv(N H)))`` (as statsmodels' Logit
    reports them), else None."""

    w: F64
    b: float
    loss: float
    grad_norm: float
    n_iter: int
    converged: bool
    hessian: F64
    standard_errors: F64 | None


def _penalty(weight_decay: float | None, l2: float | None) -> float:
    """The L2 penalty given as ``weight_decay`` or by its alias ``l2`` (default 0), checked."""
    if weight_decay is not None and l2 is not None:
        raise ValueError(
            "pass weight_decay or its alias l2, not both; "
            f"got weight_decay={weight_decay!r} and l2={l2!r}"
        )
    if l2 is not None:
        return check_real(l2, "l2", minimum=0.0)
    return check_real(0.0 if weight_decay is None else weight_decay, "weight_decay", minimum=0.0)


def solve(
    X: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    weight_decay: float | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
    l2: float | None = None,
) -> Solution:
    """Minimize ``f`` (module docstring) by damped Newton from ``theta = 0``.

    ``weight_decay`` is the L2 penalty on ``w`` (default 0), as in
    [`lr_variants.create`][lr_variants.registry.create] and ``--weight-decay``; ``l2`` is its
    former name, still accepted (not both).

    Raises [`SeparationError`][lr_variants.solver.SeparationError] when no finite minimizer
    exists; ``ValueError`` when it is not unique (``weight_decay == 0`` and ``[X, 1]``
    rank-deficient: a constant or repeated column) or ``H`` is numerically singular, and
    ``ValueError``/``TypeError`` for a bad argument. ``converged`` is False if ``max_iter`` steps
    ran out (or ``f`` stopped decreasing) first.
    """
    weight_decay = _penalty(weight_decay, l2)
    X64, y64 = check_data(X, y)
    tol = check_real(tol, "tol", minimum=0.0, strict=True)
    max_iter = check_int(max_iter, "max_iter", 1)
    Xt = np.column_stack([X64, np.ones(len(y64))])
    _check_well_posed(Xt, y64, weight_decay)
    A = (2.0 * y64 - 1.0)[:, None] * Xt
    path = _newton_path(Xt, y64, weight_decay)
    for n_iter, (theta, g, step) in enumerate(path):
        if weight_decay == 0.0:
            _raise_if_separating(A, theta)
            if step is not None and np.abs(g).max() <= _PROBE_BELOW:
                _raise_if_certified(A, theta, step)
        if np.abs(g).max() <= tol or n_iter == max_iter or step is None:
            break
    if (
        weight_decay == 0.0 and n_iter > 0
    ):  # at n_iter == 0, g = 0 (the minimum) or H is singular from X
        _follow_path(A, theta, step, path)
    hessian = _hessian(Xt, theta, weight_decay)
    if _newton_step(hessian, g) is None:
        raise ValueError(
            "the Hessian is numerically singular at the solution; pass weight_decay > 0"
        )
    se = np.sqrt(np.diag(np.linalg.inv(len(y64) * hessian))) if weight_decay == 0.0 else None
    return Solution(
        w=theta[:-1].copy(),
        b=float(theta[-1]),
        loss=_objective(Xt, y64, theta, weight_decay),
        grad_norm=float(np.abs(g).max()),
        n_iter=n_iter,
        converged=bool(np.abs(g).max() <= tol),
        hessian=hessian,
        standard_errors=se,
    )


def objective(
    X: npt.ArrayLike,
    y: npt.ArrayLike,
    w: npt.ArrayLike,
    b: float,
    *,
    weight_decay: float | None = None,
    l2: float | None = None,
) -> float:
    """``f(w, b) = mean BCE + (weight_decay / 2) ||w||^2`` in float64: what
    [`solve`][lr_variants.solver.solve] minimizes (``l2``: the alias of ``weight_decay``)."""
    X64, y64 = check_data(X, y)
    w64, b64 = check_params(w, b, X64.shape[1], "float64")
    theta = np.append(w64, b64)
    Xt = np.column_stack([X64, np.ones(len(y64))])
    return _objective(Xt, y64, theta, _penalty(weight_decay, l2))


def _check_well_posed(Xt: F64, y: F64, weight_decay: float) -> None:
    if y.min() == y.max():  # b runs off to -inf or +inf, and weight_decay does not hold b back
        raise SeparationError(
            f"y holds one class only (every label is {y[0]:g}), so the intercept has no finite "
            "optimum whatever weight_decay is; both classes are needed"
        )
    rank = int(np.linalg.matrix_rank(Xt))
    if weight_decay == 0.0 and rank < Xt.shape[1]:
        raise ValueError(
            f"X plus an intercept column has rank {rank} < {Xt.shape[1]} (a constant, repeated or"
            " nearly collinear column, or too few rows): the Hessian is singular and the"
            " minimizer not unique; remove the column or pass weight_decay > 0"
        )


def _newton_path(Xt: F64, y: F64, weight_decay: float) -> Iterator[Iterate]:
    """Damped-Newton iterates from ``theta = 0``, until ``H`` is singular or ``f`` stops
    decreasing."""
    theta = np.zeros(Xt.shape[1])
    while True:
        g = _gradient(Xt, y, theta, weight_decay)
        step = _newton_step(_hessian(Xt, theta, weight_decay), g)
        yield theta, g, step
        moved = None if step is None else _line_search(Xt, y, theta, weight_decay, g, step)
        if moved is None:
            return
        theta = moved


def _sigmoid_pair(z: F64) -> tuple[F64, F64]:
    """``(sigmoid(z), sigmoid(-z))``, free of overflow and of the cancellation in ``1 - p``."""
    e = np.exp(-np.abs(z))
    big, small = 1.0 / (1.0 + e), e / (1.0 + e)
    return np.where(z >= 0, big, small), np.where(z >= 0, small, big)


def _objective(Xt: F64, y: F64, theta: F64, weight_decay: float) -> float:
    z = Xt @ theta
    loss = np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z)))
    return float(loss.mean() + 0.5 * weight_decay * theta[:-1] @ theta[:-1])


def _gradient(Xt: F64, y: F64, theta: F64, weight_decay: float) -> F64:
    p, q = _sigmoid_pair(Xt @ theta)
    # p - y as -q where y = 1: a separated point keeps its tiny residual instead of rounding to 0
    g: F64 = Xt.T @ np.where(y == 1.0, -q, p) / len(y)
    g[:-1] += weight_decay * theta[:-1]
    return g


def _hessian(Xt: F64, theta: F64, weight_decay: float) -> F64:
    p, q = _sigmoid_pair(Xt @ theta)
    H: F64 = (Xt.T * (p * q)) @ Xt / len(Xt)
    H = 0.5 * (H + H.T)  # the product is symmetric only up to rounding; make it exactly so
    H[:-1, :-1] += weight_decay * np.eye(len(theta) - 1)
    return H


def _newton_step(H: F64, g: F64) -> F64 | None:
    """``-H^-1 g``, or None if the Cholesky factorization finds ``H`` not positive definite."""
    try:
        L = np.linalg.cholesky(H)
    except np.linalg.LinAlgError:
        return None
    step: F64 = -np.linalg.solve(L.T, np.linalg.solve(L, g))
    return step


def _line_search(Xt: F64, y: F64, theta: F64, weight_decay: float, g: F64, step: F64) -> F64 | None:
    f0, slope = _objective(Xt, y, theta, weight_decay), float(g @ step)
    slack = 8.0 * _EPS * max(abs(f0), 1.0)  # f is flat to rounding at the optimum: let it be
    for halvings in range(60):
        trial: F64 = theta + 0.5**halvings * step
        if _objective(Xt, y, trial, weight_decay) <= f0 + 1e-4 * 0.5**halvings * slope + slack:
            return trial
    return None


def _rounding(A: F64, theta: F64) -> F64:
    """A bound on the rounding error of each margin ``A_i theta``."""
    out: F64 = 64 * _EPS * (np.abs(A) @ np.abs(theta))
    return out


def _raise_if_separating(A: F64, theta: F64) -> None:
    # a margin within rounding of 0 may belong to a point ON the hyperplane: not a separation
    if np.all(A @ theta > _rounding(A, theta)):
        raise SeparationError(_separated("perfectly separated"))


def _settled(A: F64, theta: F64, step: F64) -> bool:
    return bool(np.abs(A @ step).max() <= max(_SETTLED, 100 * _rounding(A, theta).max()))


def _raise_if_certified(A: F64, theta: F64, step: F64) -> None:
    if _settled(A, theta, step):
        return
    moves = A @ step
    scale = float(np.linalg.norm(A, axis=1).max())
    for kappa in _KAPPAS:
        rest = moves <= kappa * moves.max()
        d = _project_to_null_space(A[rest], step)
        margins = A[~rest] @ d
        # A[rest] @ d is zero only up to rounding: demand margins far above that level
        if margins.size and margins.min() > 1e6 * _EPS * scale * np.linalg.norm(d):
            how = f"separated, at least quasi-completely ({rest.sum()} points on the hyperplane)"
            raise SeparationError(_separated(how))


def _follow_path(A: F64, theta: F64, step: F64 | None, path: Iterator[Iterate]) -> None:
    for _ in range(_PROBE_STEPS):
        if step is None:  # H fine before, singular now: weights p (1 - p) underflowed
            raise SeparationError(_separated(_NO_CERTIFICATE))
        if _settled(A, theta, step):
            return
        _raise_if_certified(A, theta, step)
        if (following := next(path, None)) is None:  # f stopped decreasing: a minimum
            return
        theta, _, step = following
        _raise_if_separating(A, theta)
    raise SeparationError(_separated(_NO_CERTIFICATE))


def _project_to_null_space(M: F64, v: F64) -> F64:
    # extra zero rows keep the null space but make the thin SVD return a basis of all R^(D+1)
    M = np.vstack([M, np.zeros((M.shape[1], M.shape[1]))])
    _, s, vt = np.linalg.svd(M, full_matrices=False)
    null = vt[int((s > s.max() * max(M.shape) * _EPS).sum()) :]
    out: F64 = null.T @ (null @ v)
    return out
