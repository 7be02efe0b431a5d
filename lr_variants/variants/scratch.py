"""Variant ``"scratch"``: the ``"autograd"`` variant's recipe on a from-scratch engine.

The parameters are leaf :class:`lr_variants.scratch.Tensor` objects; the forward pass records
``z = X w + b`` and ``L = mean(softplus(z) - z y)`` (``softplus(z) = max(z, 0) +
log1p(exp(-|z|))``, the stable loss, finite for any logit); ``L.backward()`` fills ``w.grad`` and
``b.grad`` with ``X^T (p - y) / N`` and ``mean(p - y)``; the update ``w <- w - lr w.grad``,
``b <- b - lr b.grad`` (``torch.optim.SGD``'s full rule with momentum, weight decay, Nesterov or
``maximize``: ``lr_variants._sgd``) is applied to the arrays in place, and the gradients are
reset (to ``None``) after every step so they never accumulate. With sample weights ``s`` the
loss is ``sum(u l)`` with ``u = s / sum(s)``, and backward() follows it. NumPy only: no torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lr_variants._backends import NumpyArrays
from lr_variants._sgd import SGDOptions, SGDRule
from lr_variants._validate import F64
from lr_variants.scratch import Tensor, binary_cross_entropy_with_logits


class ScratchLogisticRegression:
    """Leaf tensors ``w`` (shape ``(D,)``) and ``b`` (shape ``()``) trained with the scratch
    engine's ``backward()`` (CPU only)."""

    def __init__(
        self, w: F64, b: float, *, sgd: SGDOptions, dtype: str, device: str = "cpu"
    ) -> None:
        self.arrays = NumpyArrays(dtype)
        self.sgd = SGDRule(sgd, copy=np.copy)
        self.w = Tensor(np.zeros(len(w), dtype=self.arrays.dtype), requires_grad=True, name="w")
        self.b = Tensor(np.zeros((), dtype=self.arrays.dtype), requires_grad=True, name="b")
        self.set_params(w, b)

    def get_params(self) -> tuple[F64, float]:
        return self.w.data.astype(np.float64), float(self.b.data)

    def set_params(self, w: F64, b: float) -> None:
        self.w.data[...] = w
        self.b.data[...] = b

    def _logits(self, X: np.ndarray) -> Tensor:
        xw = Tensor(X, name="X") @ self.w
        xw.name = "Xw"
        z = xw + self.b
        z.name = "z"
        return z

    def _loss(self, X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> Tensor:
        u = None
        if weights is not None:  # a batch of zero total weight: loss 0 and zero gradients
            u = weights / np.maximum(weights.sum(), np.finfo(weights.dtype).tiny)
        return binary_cross_entropy_with_logits(self._logits(X), Tensor(y, name="y"), u)

    def probabilities(self, X: np.ndarray) -> F64:
        return self._logits(X).sigmoid().data.astype(np.float64)

    def loss(self, X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> Any:
        return self._loss(X, y, weights).data

    def gradients(
        self, X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None
    ) -> tuple[F64, float]:
        self._loss(X, y, weights).backward()
        gw, gb = self.w.grad, self.b.grad
        assert gw is not None and gb is not None  # backward() reached both leaves
        self.w.grad = self.b.grad = None  # leaves accumulate: leave nothing for the next call
        return gw.astype(np.float64), float(gb)

    def step(self, X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> Any:
        loss = self._loss(X, y, weights)
        loss.backward()
        gw, gb = self.w.grad, self.b.grad
        assert gw is not None and gb is not None
        self.sgd.update([self.w.data, self.b.data], [gw, gb])
        self.w.grad = self.b.grad = None
        return loss.data

    def get_state(self) -> dict[str, F64]:
        """The optimizer's momentum buffers, ``momentum_w`` and ``momentum_b``, once they exist."""
        return self.sgd.get_state(lambda buf: np.array(buf, dtype=np.float64))

    def set_state(self, state: dict[str, F64]) -> None:
        """Restore :meth:`get_state`'s buffers (rounded to the model's dtype); absent: none."""
        self.sgd.set_state(state, lambda buf: np.array(buf, dtype=self.arrays.dtype))
