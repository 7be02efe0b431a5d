"""Variant ``"autograd"``: raw tensors with ``requires_grad``, gradients from ``backward()``.

With ``z = X w + b`` and row weights ``u`` (``1/N`` each, or the normalized sample weights)::

    L = sum_i u_i (max(z_i, 0) - z_i y_i + log1p(exp(-|z_i|)))   # binary_cross_entropy_with_logits
    L.backward()                     # fills w.grad = X^T u (p - y) and b.grad = sum u (p - y)
    with torch.no_grad():            # the update is not part of the graph
        w -= lr * w.grad;  b -= lr * b.grad      (plain SGD; the full rule: lr_variants._sgd)
    w.grad = b.grad = None           # gradients accumulate: reset them after every step

``torch.addmv(b, X, w)`` computes ``X w + b`` in one operation (one node of the graph).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from lr_variants._backends import TorchArrays
from lr_variants._sgd import SGD, SGDOptions
from lr_variants._validate import F64
from lr_variants.protocol import LossGraph
from lr_variants.textbook._graph import graph_gradients, graph_loss


class AutogradLogisticRegression:
    """Leaf tensors ``w`` (shape ``(D,)``) and ``b`` (shape ``()``) trained with autograd."""

    def __init__(self, w: F64, b: float, *, sgd: SGDOptions, dtype: str, device: str) -> None:
        self.arrays = TorchArrays(dtype, device)
        self.w = self.arrays.convert(w).requires_grad_()
        self.b = self.arrays.convert(np.asarray(b)).requires_grad_()
        # plain SGD: w.add_(w.grad, alpha=-lr), one op per parameter, as torch.optim.SGD does
        self.optimizer = SGD(sgd, self.arrays, add_scaled=_add_scaled)

    def get_params(self) -> tuple[F64, float]:
        return self.arrays.to_numpy(self.w), float(self.b.detach())

    def set_params(self, w: F64, b: float) -> None:
        self.arrays.assign(self.w, w)
        self.arrays.assign(self.b, b)

    def loss_graph(
        self, X: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None = None
    ) -> LossGraph:
        z = torch.addmv(self.b, X, self.w)  # X w + b
        if u is None:
            L = F.binary_cross_entropy_with_logits(z, y)
        else:
            L = F.binary_cross_entropy_with_logits(z, y, reduction="none") @ u
        return LossGraph(L, z, {"w": self.w, "b": self.b})

    @torch.no_grad()
    def probabilities(self, X: torch.Tensor) -> F64:
        return self.arrays.to_numpy(torch.sigmoid(X @ self.w + self.b))

    loss = graph_loss  # L without recording a graph
    gradients = graph_gradients  # torch.autograd.grad(L, (w, b)): nothing accumulates

    def step(self, X: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None = None) -> Any:
        loss = self.loss_graph(X, y, u).loss
        loss.backward()
        gw, gb = self.w.grad, self.b.grad
        assert gw is not None and gb is not None  # backward() reached both leaves
        with torch.no_grad():
            self.optimizer.step([self.w, self.b], [gw, gb])
        self.w.grad = None
        self.b.grad = None
        return loss.detach()


def _add_scaled(p: torch.Tensor, g: torch.Tensor, alpha: float) -> None:
    p.add_(g, alpha=alpha)
