"""Variant ``"numpy"``: forward pass, loss and gradient written out by hand in NumPy.

With ``z = X w + b`` and ``p = sigmoid(z)``::

    L     = mean(max(z, 0) - z y + log1p(exp(-|z|)))   # = mean BCE(y, p), stable for any z
    dL/dz = (p - y) / N
    dL/dw = X^T (p - y) / N
    dL/db = mean(p - y)
    w <- w - lr dL/dw,   b <- b - lr dL/db    (plain SGD; lr_variants._sgd has the full rule)

Both ``L`` and ``p`` are built from ``e = exp(-|z|)``, which never overflows. This module
imports no torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lr_variants._backends import NumpyArrays
from lr_variants._sgd import SGDOptions, SGDRule
from lr_variants._validate import F64


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + e)`` for ``z >= 0`` and ``e / (1 + e)`` for ``z < 0``, with ``e = exp(-|z|)``.

    Neither branch can overflow, and for very negative ``z`` the result keeps full relative
    precision instead of being computed as ``1 - (something near 1)``.
    """
    e = np.exp(-np.abs(z))
    p: np.ndarray = np.where(z >= 0, 1.0, e) / (1.0 + e)
    return p


def sigmoid_and_loss(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, Any]:
    """``(sigmoid(z), mean(max(z, 0) - z y + log1p(e)))``, sharing ``e = exp(-|z|)``."""
    e = np.exp(-np.abs(z))
    p = np.where(z >= 0, 1.0, e) / (1.0 + e)
    return p, np.mean(np.maximum(z, 0) - z * y + np.log1p(e))


class NumpyLogisticRegression:
    """Hand-written gradients and update on NumPy arrays (CPU only)."""

    def __init__(self, w: F64, b: float, *, sgd: SGDOptions, dtype: str) -> None:
        self.arrays = NumpyArrays(dtype)
        self.sgd = SGDRule(sgd, copy=np.copy)
        self.w = np.zeros(len(w), dtype=self.arrays.dtype)
        self.b = np.zeros((), dtype=self.arrays.dtype)
        self.set_params(w, b)

    def get_params(self) -> tuple[F64, float]:
        return self.w.astype(np.float64), float(self.b)

    def set_params(self, w: F64, b: float) -> None:
        self.w[...] = w
        self.b[...] = b

    def probabilities(self, X: np.ndarray) -> F64:
        return sigmoid(X @ self.w + self.b).astype(np.float64)

    def loss(self, X: np.ndarray, y: np.ndarray) -> Any:
        return sigmoid_and_loss(X @ self.w + self.b, y)[1]

    def _loss_and_gradients(self, X: np.ndarray, y: np.ndarray) -> tuple[Any, np.ndarray, Any]:
        p, loss = sigmoid_and_loss(X @ self.w + self.b, y)
        r = p - y
        return loss, (r @ X) / len(y), r.mean()

    def gradients(self, X: np.ndarray, y: np.ndarray) -> tuple[F64, float]:
        _, gw, gb = self._loss_and_gradients(X, y)
        return gw.astype(np.float64), float(gb)

    def step(self, X: np.ndarray, y: np.ndarray) -> Any:
        loss, gw, gb = self._loss_and_gradients(X, y)
        self.sgd.update([self.w, self.b], [gw, gb])
        return loss
