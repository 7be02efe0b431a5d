"""Variant ``"func"``: torch.func as JAX users write it, a pure loss and a transformed gradient.

The parameters are a dict ``params = {"w": w, "b": b}`` of plain tensors (no ``requires_grad``,
no ``.grad``, no graph kept between calls). The loss is a pure function of its arguments, and
``torch.func.grad_and_value`` turns it into a function returning the gradient dict beside the
loss, as ``jax.value_and_grad`` does. With ``z = X w + b`` and row weights ``u`` (``1/N`` each,
or the normalized sample weights)::

    L(params, X, y, u) = sum_i u_i softplus(s_i z_i),  s = 1 - 2y   # = BCE of sigmoid(z)
    grads, L = grad_and_value(L)(params, X, y, u)       # grads["w"] = X^T u (p - y), ...
    params["w"] -= lr * grads["w"];  params["b"] -= lr * grads["b"]
                                       (plain SGD; the full rule: lr_variants._sgd)

With ``s = +1`` for ``y = 0`` and ``-1`` for ``y = 1``, ``softplus(s z)`` is ``-log(1 - p)``
or ``-log p`` (``p = sigmoid(z)``): each row's cross-entropy with no cancellation (the form
``softplus(z) - y z`` loses ``|z| eps`` to it). ``softplus`` returns ``x`` itself above its
``threshold``, set to 37, where ``log(1 + e^x) - x = e^-37 < 2^-53`` (torch's default, 20, is
short of float64's precision). Few primitive operations also matter here: torch.func dispatches
every one (forward and backward) through its transform layer, which costs more than their
arithmetic on small batches.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import grad_and_value

from lr_variants._backends import TorchArrays
from lr_variants._sgd import SGD, SGDOptions
from lr_variants._validate import F64

Params = dict[str, torch.Tensor]


def loss_fn(params: Params, X: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None) -> Any:
    """``L(params)``: the (weighted) mean of ``softplus((1 - 2y) z)``, ``z = X w + b``; pure."""
    z = torch.addmv(params["b"], X, params["w"])
    terms = F.softplus((1 - 2 * y) * z, threshold=37.0)
    return terms.mean() if u is None else terms @ u


value_and_grads = grad_and_value(loss_fn)  # (params, X, y, u) -> (grads dict, L)


class FuncLogisticRegression:
    """A dict of plain tensors ``{"w": (D,), "b": ()}``, gradients by ``torch.func``."""

    def __init__(self, w: F64, b: float, *, sgd: SGDOptions, dtype: str, device: str) -> None:
        self.arrays = TorchArrays(dtype, device)
        self.params: Params = {
            "w": self.arrays.convert(w),
            "b": self.arrays.convert(np.asarray(b)),
        }
        self.optimizer = SGD(sgd, self.arrays, add_scaled=_add_scaled)

    def get_params(self) -> tuple[F64, float]:
        return self.arrays.to_numpy(self.params["w"]), float(self.params["b"])

    def set_params(self, w: F64, b: float) -> None:
        self.arrays.assign(self.params["w"], w)
        self.arrays.assign(self.params["b"], b)

    def probabilities(self, X: torch.Tensor) -> F64:
        return self.arrays.to_numpy(torch.sigmoid(X @ self.params["w"] + self.params["b"]))

    def loss(self, X: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None = None) -> Any:
        return loss_fn(self.params, X, y, u)

    def gradients(
        self, X: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None = None
    ) -> tuple[F64, float]:
        grads, _ = value_and_grads(self.params, X, y, u)
        return self.arrays.to_numpy(grads["w"]), float(grads["b"])

    def step(self, X: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None = None) -> Any:
        grads, loss = value_and_grads(self.params, X, y, u)
        # the same rule as every variant, on the dict's tensors (in place: no graph holds them)
        self.optimizer.step([self.params["w"], self.params["b"]], [grads["w"], grads["b"]])
        return loss


def _add_scaled(p: torch.Tensor, g: torch.Tensor, alpha: float) -> None:
    p.add_(g, alpha=alpha)
