"""Variant ``"module"``: an ``nn.Module`` with ``nn.Linear(D, 1)``, trained by ``torch.optim.SGD``.

The reference article's model, trained as a user writes it::

    z = net(X)                          # nn.Linear: X w + b, logits of shape (N,)
    loss = criterion(z, y)              # nn.BCEWithLogitsLoss: mean BCE from logits
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()                    # torch.optim.SGD(net.parameters(), lr=...)

``loss="sigmoid_bce"`` uses the article's exact form, ``nn.BCELoss()(torch.sigmoid(z), y)``,
which rounds ``sigmoid(z)`` to 0 or 1 for large ``|z|``, clamps ``log`` at -100, and so departs
from the true loss once sigmoid saturates. ``w`` and ``b`` sit in two parameter groups so that
weight decay can spare the bias; ``sgd_impl`` picks torch's ``"for-loop"``, ``"foreach"`` or
``"fused"`` implementation. With row weights ``u`` the criterion runs with
``reduction="none"`` and the loss is ``sum(u l)``. Its tuned twin,
``lr_variants.tuned.module_fast``, starts faster.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lr_variants._backends import TorchArrays
from lr_variants._sgd import SGDOptions, TorchSGDState
from lr_variants._validate import F64
from lr_variants.protocol import LossGraph
from lr_variants.textbook._graph import graph_gradients, graph_loss


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


def sgd_groups(net: LogisticRegression, sgd: SGDOptions) -> list[dict[str, Any]]:
    """``torch.optim.SGD``'s parameter groups: the weight decayed, the bias only with
    ``decay_bias``."""
    decay = sgd.weight_decay
    return [
        {"params": [net.linear.weight], "weight_decay": decay},
        {"params": [net.linear.bias], "weight_decay": decay if sgd.decay_bias else 0.0},
    ]


def sgd_options(sgd: SGDOptions, sgd_impl: str) -> dict[str, Any]:
    """The keyword arguments of ``torch.optim.SGD`` for ``sgd`` and an implementation."""
    return {
        "lr": sgd.lr,
        "momentum": sgd.momentum,
        "dampening": sgd.dampening,
        "nesterov": sgd.nesterov,
        "maximize": sgd.maximize,
        "foreach": sgd_impl == "foreach",
        "fused": sgd_impl == "fused",
    }


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
        optimizer_class: Any = None,
    ) -> None:
        self.arrays = TorchArrays(dtype, device)
        # skip_init: no draw from torch's global generator; the parameters are set just below
        self.net = nn.utils.skip_init(  # type: ignore[no-untyped-call]
            LogisticRegression, len(w), dtype=self.arrays.dtype, device=self.arrays.device
        )
        self.set_params(w, b)
        self.criterion_input = (lambda z: z) if loss == "stable" else torch.sigmoid
        reduction = "mean", "none"
        make = nn.BCEWithLogitsLoss if loss == "stable" else nn.BCELoss
        self.criterion, self.row_criterion = (make(reduction=r) for r in reduction)
        sgd_class = optimizer_class or torch.optim.SGD
        self.sgd = sgd_class(sgd_groups(self.net, sgd), **sgd_options(sgd, sgd_impl))
        self.optimizer = TorchSGDState(self.sgd, self.net.parameters(), self.arrays)

    def get_params(self) -> tuple[F64, float]:
        linear = self.net.linear
        return self.arrays.to_numpy(linear.weight[0]), float(linear.bias.detach()[0])

    def set_params(self, w: F64, b: float) -> None:
        self.arrays.assign(self.net.linear.weight, w)
        self.arrays.assign(self.net.linear.bias, b)

    def loss_from_logits(
        self, z: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None = None
    ) -> torch.Tensor:
        inputs = self.criterion_input(z)  # the logits, or sigmoid(z) for nn.BCELoss
        L: torch.Tensor = (
            self.criterion(inputs, y) if u is None else self.row_criterion(inputs, y) @ u
        )
        return L

    def loss_graph(
        self, X: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None = None
    ) -> LossGraph:
        z = self.net(X)
        linear = self.net.linear
        return LossGraph(self.loss_from_logits(z, y, u), z, {"w": linear.weight, "b": linear.bias})

    @torch.no_grad()
    def probabilities(self, X: torch.Tensor) -> F64:
        return self.arrays.to_numpy(torch.sigmoid(self.net(X)))

    loss = graph_loss  # L without recording a graph
    gradients = graph_gradients  # torch.autograd.grad(L, (weight, bias)): nothing accumulates

    def step(self, X: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None = None) -> Any:
        loss = self.loss_graph(X, y, u).loss
        self.sgd.zero_grad()
        loss.backward()
        self.sgd.step()
        return loss.detach()
