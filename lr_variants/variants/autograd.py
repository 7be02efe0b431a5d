"""Variant ``"autograd"``: raw tensors with ``requires_grad``, gradients from ``backward()``.

The forward pass builds ``L = binary_cross_entropy_with_logits(X w + b, y)`` from torch ops
(the stable ``mean(max(z, 0) - z y + log1p(exp(-|z|)))``); ``L.backward()`` fills ``w.grad``
and ``b.grad`` with ``X^T (p - y) / N`` and ``mean(p - y)``; the update
``w <- w - lr w.grad``, ``b <- b - lr b.grad`` is written by hand under ``torch.no_grad()``, and
the gradients are reset (to ``None``) after every step so they never accumulate. With
momentum, weight decay, Nesterov or ``maximize``, the update is ``torch.optim.SGD``'s rule
written by hand (``lr_variants._sgd``). With sample weights ``s`` the loss is the weighted mean
``sum(s l) / sum(s)`` of the per-row losses (``reduction="none"``), and backward() follows it.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lr_variants._backends import TorchArrays
from lr_variants._sgd import SGDOptions, SGDRule
from lr_variants._validate import F64


class AutogradLogisticRegression:
    """Leaf tensors ``w`` (shape ``(D,)``) and ``b`` (shape ``()``) trained with autograd."""

    def __init__(self, w: F64, b: float, *, sgd: SGDOptions, dtype: str, device: str) -> None:
        self.arrays = TorchArrays(dtype, device)
        # plain SGD: w.add_(w.grad, alpha=-lr), one op per parameter, as torch.optim.SGD does
        self.sgd = SGDRule(sgd, copy=torch.clone, add_scaled=_add_scaled)
        self.w = torch.zeros(len(w), dtype=self.arrays.dtype, device=self.arrays.device)
        self.b = torch.zeros([], dtype=self.arrays.dtype, device=self.arrays.device)
        self.set_params(w, b)
        self.w.requires_grad_()
        self.b.requires_grad_()

    def get_params(self) -> tuple[F64, float]:
        return self.arrays.to_numpy(self.w), float(self.b.detach())

    def set_params(self, w: F64, b: float) -> None:
        self.arrays.assign(self.w, w)
        self.arrays.assign(self.b, b)

    def _loss(
        self, X: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        z = torch.addmv(self.b, X, self.w)  # X w + b, one op (and one node in the graph)
        if weights is None:
            return F.binary_cross_entropy_with_logits(z, y)
        # a batch of zero total weight: loss 0 and zero gradients, without a device sync
        u = weights / weights.sum().clamp_min(torch.finfo(weights.dtype).tiny)
        return F.binary_cross_entropy_with_logits(z, y, reduction="none") @ u

    @torch.no_grad()
    def probabilities(self, X: torch.Tensor) -> F64:
        return self.arrays.to_numpy(torch.sigmoid(X @ self.w + self.b))

    @torch.no_grad()
    def loss(
        self, X: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self._loss(X, y, weights)

    def gradients(
        self, X: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None
    ) -> tuple[F64, float]:
        # autograd.grad returns the gradients instead of accumulating them into .grad
        gw, gb = torch.autograd.grad(self._loss(X, y, weights), (self.w, self.b))
        return self.arrays.to_numpy(gw), float(gb)

    def step(self, X: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None) -> Any:
        loss = self._loss(X, y, weights)
        loss.backward()  # type: ignore[no-untyped-call]
        gw, gb = self.w.grad, self.b.grad
        assert gw is not None and gb is not None  # backward() reached both leaves
        with torch.no_grad():
            self.sgd.update([self.w, self.b], [gw, gb])
        self.w.grad = None
        self.b.grad = None
        return loss.detach()

    def get_state(self) -> dict[str, F64]:
        """The optimizer's momentum buffers, ``momentum_w`` and ``momentum_b``, once they exist."""
        return self.sgd.get_state(self.arrays.to_numpy)

    def set_state(self, state: dict[str, F64]) -> None:
        """Restore :meth:`get_state`'s buffers (rounded to the model's dtype); absent: none."""
        self.sgd.set_state(state, self.arrays.convert)


def _add_scaled(p: torch.Tensor, g: torch.Tensor, alpha: float) -> None:
    p.add_(g, alpha=alpha)
