"""Variant ``"module"``: an ``nn.Module`` with ``nn.Linear(D, 1)``, trained by ``torch.optim.SGD``.

This is the reference article's model. The loss is computed from logits by
``nn.BCEWithLogitsLoss`` (stable for any logit) unless ``loss="sigmoid_bce"`` asks for the
article's exact form, ``nn.BCELoss()(sigmoid(z), y)``, which rounds ``sigmoid(z)`` to 0 or 1 for
large ``|z|``, clamps ``log`` at -100, and so departs from the true loss once sigmoid saturates.
Each step is the usual ``zero_grad`` / ``backward`` / ``step``; the optimizer gets the SGD options
as given, with ``w`` and ``b`` in two parameter groups so that weight decay can spare the bias,
and runs torch's ``"for-loop"``, ``"foreach"`` or ``"fused"`` implementation (``sgd_impl``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lr_variants._backends import TorchArrays
from lr_variants._sgd import SGDOptions
from lr_variants._validate import F64

SGD_IMPLS = ("for-loop", "foreach", "fused")


class LogisticRegression(nn.Module):
    """``x -> x w + b`` with ``nn.Linear(n_features, 1)``; returns logits of shape ``(N,)``."""

    def __init__(
        self, n_features: int, *, dtype: torch.dtype | None = None, device: Any = None
    ) -> None:
        super().__init__()
        self.linear = nn.Linear(n_features, 1, dtype=dtype, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z: torch.Tensor = self.linear(x)
        return z.squeeze(-1)


class ModuleLogisticRegression:
    """``LogisticRegression`` + a loss module + ``torch.optim.SGD``."""

    def __init__(
        self,
        w: F64,
        b: float,
        *,
        sgd: SGDOptions,
        dtype: str,
        device: str,
        loss: str = "stable",
        sgd_impl: str = "for-loop",
    ) -> None:
        self.arrays = TorchArrays(dtype, device)
        # skip_init: no draw from torch's global generator; the parameters are set just below
        self.net = nn.utils.skip_init(  # type: ignore[no-untyped-call]
            LogisticRegression, len(w), dtype=self.arrays.dtype, device=self.arrays.device
        )
        self.set_params(w, b)
        self.loss_form = loss
        self.criterion = nn.BCEWithLogitsLoss() if loss == "stable" else nn.BCELoss()
        linear = self.net.linear
        decay = sgd.weight_decay
        self.optimizer = torch.optim.SGD(
            [
                {"params": [linear.weight], "weight_decay": decay},
                {"params": [linear.bias], "weight_decay": decay if sgd.decay_bias else 0.0},
            ],
            lr=sgd.lr,
            momentum=sgd.momentum,
            dampening=sgd.dampening,
            nesterov=sgd.nesterov,
            maximize=sgd.maximize,
            foreach=sgd_impl == "foreach",
            fused=sgd_impl == "fused",
        )

    def get_params(self) -> tuple[F64, float]:
        return self.arrays.to_numpy(self.net.linear.weight[0]), float(
            self.net.linear.bias.detach()[0]
        )

    def set_params(self, w: F64, b: float) -> None:
        self.arrays.assign(self.net.linear.weight, w)
        self.arrays.assign(self.net.linear.bias, b)

    def _loss(self, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        z = self.net(X)
        out: torch.Tensor = self.criterion(z if self.loss_form == "stable" else torch.sigmoid(z), y)
        return out

    @torch.no_grad()
    def probabilities(self, X: torch.Tensor) -> F64:
        return self.arrays.to_numpy(torch.sigmoid(self.net(X)))

    @torch.no_grad()
    def loss(self, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self._loss(X, y)

    def gradients(self, X: torch.Tensor, y: torch.Tensor) -> tuple[F64, float]:
        gw, gb = torch.autograd.grad(
            self._loss(X, y), (self.net.linear.weight, self.net.linear.bias)
        )
        return self.arrays.to_numpy(gw[0]), float(gb[0])

    def step(self, X: torch.Tensor, y: torch.Tensor) -> Any:
        loss = self._loss(X, y)
        self.optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        self.optimizer.step()
        return loss.detach()
