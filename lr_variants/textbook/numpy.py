"""Variant ``"numpy"``: forward pass, loss, gradient and update written out by hand in NumPy.

With ``z = X w + b``, ``p = sigmoid(z)`` and row weights ``u`` (``1/N`` each, or the batch's
normalized sample weights)::

    L     = sum_i u_i (max(z_i, 0) - z_i y_i + log1p(exp(-|z_i|)))   # mean BCE, stable
    dL/dz = u (p - y)
    dL/dw = X^T dL/dz,   dL/db = sum(dL/dz)
    w <- w - lr dL/dw,   b <- b - lr dL/db      (plain SGD; the full rule: lr_variants._sgd)

The loss is the binary cross-entropy ``-(y log p + (1 - y) log(1 - p))`` rewritten so that no
term overflows or cancels for large ``|z|`` (``docs/math.md`` derives it). This module imports no
torch; its tuned twin is ``lr_variants.tuned.numpy_fast``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lr_variants._backends import NumpyArrays
from lr_variants._sgd import SGD, SGDOptions
from lr_variants._validate import F64


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + e)`` for ``z >= 0`` and ``e / (1 + e)`` for ``z < 0``, with ``e = exp(-|z|)``:
    neither branch overflows, and for very negative ``z`` the result keeps full relative
    precision instead of being computed as ``1 - (something near 1)``."""
    e = np.exp(-np.abs(z))
    p: np.ndarray = np.where(z >= 0, 1.0, e) / (1.0 + e)
    return p


class NumpyLogisticRegression:
    """Arrays ``w`` (shape ``(D,)``) and ``b`` (shape ``()``), gradients by hand (CPU only)."""

    def __init__(
        self, w: F64, b: float, *, sgd: SGDOptions, dtype: str, device: str = "cpu"
    ) -> None:
        self.arrays = NumpyArrays(dtype)
        self.w = np.array(w, dtype=self.arrays.dtype)
        self.b = np.array(b, dtype=self.arrays.dtype)
        self.optimizer = SGD(sgd, self.arrays)

    def get_params(self) -> tuple[F64, float]:
        return self.w.astype(np.float64), float(self.b)

    def set_params(self, w: F64, b: float) -> None:
        self.w[...] = w
        self.b[...] = b

    def probabilities(self, X: np.ndarray) -> F64:
        return sigmoid(X @ self.w + self.b).astype(np.float64)

    def loss(self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None = None) -> Any:
        return _loss(X @ self.w + self.b, y, u)

    def gradients(
        self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None = None
    ) -> tuple[F64, float]:
        gw, gb = _gradients(X, X @ self.w + self.b, y, u)
        return gw.astype(np.float64), float(gb)

    def step(self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None = None) -> Any:
        z = X @ self.w + self.b  # the forward pass, once: the loss and the gradient share it
        loss = _loss(z, y, u)
        self.optimizer.step([self.w, self.b], _gradients(X, z, y, u))
        return loss


def _loss(z: np.ndarray, y: np.ndarray, u: np.ndarray | None) -> Any:
    """``L = mean(max(z, 0) - z y + log1p(exp(-|z|)))``, or ``sum(u l)`` with weights ``u``."""
    losses = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    return losses.mean() if u is None else losses @ u


def _gradients(
    X: np.ndarray, z: np.ndarray, y: np.ndarray, u: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """``(dL/dw, dL/db) = (X^T dz, sum(dz))`` with ``dz = (sigmoid(z) - y) / N`` (or
    ``u (sigmoid(z) - y)``)."""
    dz = sigmoid(z) - y
    dz = dz / len(y) if u is None else dz * u
    return X.T @ dz, dz.sum()
