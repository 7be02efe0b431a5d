"""Variant ``"torch_manual"``: the numpy variant's hand-written gradients, in torch, on any device.

No autograd: the parameters are plain tensors (``requires_grad=False``), torch records no graph,
and the gradient is the formula itself. With ``z = X w + b``, ``p = sigmoid(z)`` and row weights
``u`` (``1/N`` each, or the normalized sample weights)::

    L     = sum_i u_i BCE_with_logits(z_i, y_i)   # max(z,0) - z y + log1p(e^-|z|)
    dL/dz = u (p - y)
    dL/dw = X^T dL/dz,   dL/db = sum(dL/dz)
    w <- w - lr dL/dw,   b <- b - lr dL/db        (plain SGD; the full rule: lr_variants._sgd)

Beside ``"autograd"`` it measures what autograd costs; on CUDA it shows the same arithmetic on a
GPU. Its tuned twin is ``lr_variants.tuned.torch_manual_fast``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from lr_variants._backends import TorchArrays
from lr_variants._sgd import SGD, SGDOptions
from lr_variants._validate import F64


class TorchManualLogisticRegression:
    """Plain tensors ``w`` (shape ``(D,)``) and ``b`` (shape ``()``), gradients by hand."""

    def __init__(self, w: F64, b: float, *, sgd: SGDOptions, dtype: str, device: str) -> None:
        self.arrays = TorchArrays(dtype, device)
        self.w = self.arrays.convert(w)
        self.b = self.arrays.convert(np.asarray(b))
        self.optimizer = SGD(sgd, self.arrays)

    def get_params(self) -> tuple[F64, float]:
        return self.arrays.to_numpy(self.w), float(self.b)

    def set_params(self, w: F64, b: float) -> None:
        self.arrays.assign(self.w, w)
        self.arrays.assign(self.b, b)

    def probabilities(self, X: torch.Tensor) -> F64:
        return self.arrays.to_numpy(torch.sigmoid(X @ self.w + self.b))

    def loss(self, X: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None = None) -> Any:
        return _loss(X @ self.w + self.b, y, u)

    def gradients(
        self, X: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None = None
    ) -> tuple[F64, float]:
        gw, gb = _gradients(X, X @ self.w + self.b, y, u)
        return self.arrays.to_numpy(gw), float(gb)

    def step(self, X: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None = None) -> Any:
        z = X @ self.w + self.b  # the forward pass, once: the loss and the gradient share it
        loss = _loss(z, y, u)
        self.optimizer.step([self.w, self.b], _gradients(X, z, y, u))
        return loss


def _loss(z: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None) -> torch.Tensor:
    """Mean binary cross-entropy from the logits ``z``, or ``sum(u l)`` with weights ``u``."""
    if u is None:
        return F.binary_cross_entropy_with_logits(z, y)
    return F.binary_cross_entropy_with_logits(z, y, reduction="none") @ u


def _gradients(
    X: torch.Tensor, z: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(X^T dz, sum(dz))`` with ``dz = (sigmoid(z) - y) / N`` (or ``u (sigmoid(z) - y)``)."""
    dz = torch.sigmoid(z) - y
    dz = dz / y.shape[0] if u is None else dz * u
    return X.T @ dz, dz.sum()
