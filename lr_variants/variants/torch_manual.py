"""Variant ``"torch_manual"``: the NumPy variant's hand-written gradients, in torch, on any device.

No autograd: the parameters are plain tensors (``requires_grad=False``), so torch records no
graph, and the gradient is the formula itself::

    z = X w + b,   p = sigmoid(z)
    L = binary_cross_entropy_with_logits(z, y)   # mean(max(z,0) - z y + log1p(e^-|z|))
    dL/dw = X^T (p - y) / N,   dL/db = mean(p - y)

Set beside ``"autograd"`` it measures what autograd costs; run on CUDA it shows the same
arithmetic on a GPU. The update is ``torch.optim.SGD``'s rule written by hand
(``lr_variants._sgd``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lr_variants._backends import TorchArrays
from lr_variants._sgd import SGDOptions, SGDRule
from lr_variants._validate import F64


class TorchManualLogisticRegression:
    """Plain tensors ``w`` (shape ``(D,)``) and ``b`` (shape ``()``), closed-form gradients."""

    def __init__(self, w: F64, b: float, *, sgd: SGDOptions, dtype: str, device: str) -> None:
        self.arrays = TorchArrays(dtype, device)
        self.sgd = SGDRule(sgd, copy=torch.clone)
        self.w = torch.zeros(len(w), dtype=self.arrays.dtype, device=self.arrays.device)
        self.b = torch.zeros([], dtype=self.arrays.dtype, device=self.arrays.device)
        self.set_params(w, b)

    def get_params(self) -> tuple[F64, float]:
        return self.arrays.to_numpy(self.w), float(self.b)

    def set_params(self, w: F64, b: float) -> None:
        self.arrays.assign(self.w, w)
        self.arrays.assign(self.b, b)

    def probabilities(self, X: torch.Tensor) -> F64:
        return self.arrays.to_numpy(torch.sigmoid(X @ self.w + self.b))

    def loss(self, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(X @ self.w + self.b, y)

    def _loss_and_gradients(
        self, X: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z = X @ self.w + self.b
        r = torch.sigmoid(z) - y
        return F.binary_cross_entropy_with_logits(z, y), (r @ X) / len(y), r.mean()

    def gradients(self, X: torch.Tensor, y: torch.Tensor) -> tuple[F64, float]:
        _, gw, gb = self._loss_and_gradients(X, y)
        return self.arrays.to_numpy(gw), float(gb)

    def step(self, X: torch.Tensor, y: torch.Tensor) -> Any:
        loss, gw, gb = self._loss_and_gradients(X, y)
        self.sgd.update([self.w, self.b], [gw, gb])
        return loss
