"""Variant ``"scratch"``: the ``"autograd"`` variant's recipe on a from-scratch engine.

The parameters are leaf ``lr_variants.scratch.Tensor`` objects; the forward pass records
``z = X w + b`` and ``L = sum_i u_i (softplus(z_i) - z_i y_i)`` (``softplus(z) = max(z, 0) +
log1p(exp(-|z|))``, the stable loss; ``u_i = 1/N``, or the normalized sample weights)::

    L.backward()                     # fills w.grad = X^T u (p - y) and b.grad = sum u (p - y)
    w.data -= lr * w.grad;  b.data -= lr * b.grad  (plain SGD; the full rule: lr_variants._sgd)
    w.grad = b.grad = None           # gradients accumulate: reset them after every step

NumPy only: no torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lr_variants._backends import NumpyArrays
from lr_variants._sgd import SGD, SGDOptions
from lr_variants._validate import F64
from lr_variants.protocol import LossGraph
from lr_variants.scratch import Tensor, binary_cross_entropy_with_logits


class ScratchLogisticRegression:
    """Leaf tensors ``w`` (shape ``(D,)``) and ``b`` (shape ``()``) trained with the scratch
    engine's ``backward()`` (CPU only)."""

    def __init__(
        self, w: F64, b: float, *, sgd: SGDOptions, dtype: str, device: str = "cpu"
    ) -> None:
        self.arrays = NumpyArrays(dtype)
        self.w = Tensor(self.arrays.convert(w), requires_grad=True, name="w")
        self.b = Tensor(self.arrays.convert(np.asarray(b)), requires_grad=True, name="b")
        self.optimizer = SGD(sgd, self.arrays)

    def get_params(self) -> tuple[F64, float]:
        return self.w.data.astype(np.float64), float(self.b.data)

    def set_params(self, w: F64, b: float) -> None:
        self.w.data[...] = w
        self.b.data[...] = b

    def loss_graph(self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None = None) -> LossGraph:
        xw = Tensor(X, name="X") @ self.w
        xw.name = "Xw"
        z = xw + self.b
        z.name = "z"
        L = binary_cross_entropy_with_logits(z, Tensor(y, name="y"), u)
        return LossGraph(L, z, {"w": self.w, "b": self.b})

    def probabilities(self, X: np.ndarray) -> F64:
        return (Tensor(X) @ self.w + self.b).sigmoid().data.astype(np.float64)

    def loss(self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None = None) -> Any:
        return self.loss_graph(X, y, u).loss.data

    def gradients(
        self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None = None
    ) -> tuple[F64, float]:
        gw, gb = self._backward(self.loss_graph(X, y, u).loss)
        return gw.astype(np.float64), float(gb)

    def step(self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None = None) -> Any:
        loss = self.loss_graph(X, y, u).loss
        self.optimizer.step([self.w.data, self.b.data], self._backward(loss))
        return loss.data

    def _backward(self, loss: Tensor) -> tuple[np.ndarray, np.ndarray]:
        """``backward()``, then the leaves' gradients, reset so none accumulates."""
        loss.backward()
        gw, gb = self.w.grad, self.b.grad
        assert gw is not None and gb is not None  # backward() reached both leaves
        self.w.grad = self.b.grad = None
        return gw, gb
