"""Variant ``"module"``: an ``nn.Module`` with ``nn.Linear(D, 1)``, trained by ``torch.optim.SGD``.

This is the reference article's model. The loss is computed from logits by
``nn.BCEWithLogitsLoss`` (stable for any logit) unless ``loss="sigmoid_bce"`` asks for the
article's exact form, ``nn.BCELoss()(sigmoid(z), y)``, which rounds ``sigmoid(z)`` to 0 or 1 for
large ``|z|``, clamps ``log`` at -100, and so departs from the true loss once sigmoid saturates.
Each step is the usual ``zero_grad`` / ``backward`` / ``step``; the optimizer gets the SGD options
as given, with ``w`` and ``b`` in two parameter groups so that weight decay can spare the bias,
and runs torch's ``"for-loop"``, ``"foreach"`` or ``"fused"`` implementation (``sgd_impl``).
With sample weights ``s`` the loss module runs with ``reduction="none"`` and the loss is the
weighted mean ``sum(s l) / sum(s)`` of its per-row values.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from lr_variants._backends import TorchArrays
from lr_variants._sgd import SGDOptions
from lr_variants._validate import F64

SGD_IMPLS = ("for-loop", "foreach", "fused")

# torch.optim's methods under their torch.compile wrappers (see EagerSGD)
_add_param_group = inspect.unwrap(torch.optim.Optimizer.add_param_group)
_zero_grad = inspect.unwrap(torch.optim.Optimizer.zero_grad)
_sgd_step = inspect.unwrap(torch.optim.SGD.step)


class EagerSGD(torch.optim.SGD):
    """``torch.optim.SGD`` run eagerly, without importing ``torch._dynamo`` (1-2 s of start-up).

    torch 2.x wraps three of the methods used here for ``torch.compile``: ``add_param_group``
    (called by ``__init__``) and ``zero_grad`` with ``torch._disable_dynamo``, whose first call
    imports ``torch._dynamo``; and ``SGD.step`` with ``_use_grad_for_differentiable``, which
    imports it on every call, sets grad mode to ``defaults["differentiable"]`` (False) and calls
    ``torch._dynamo.graph_break()`` (a no-op outside compilation). This subclass calls the same
    methods unwrapped (``inspect.unwrap``) and runs ``step`` under ``torch.no_grad()``: the
    same torch code and arithmetic (bit for bit), and ``step`` hooks and the profiler label
    still apply. Not meant for ``torch.compile``; ``state_dict`` and ``load_state_dict`` keep
    their wrappers (and import ``torch._dynamo`` if called).
    """

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        _add_param_group(self, param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        _zero_grad(self, set_to_none)

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        return _sgd_step(self, closure)


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
        self.sgd_impl = sgd_impl
        self.criterion = nn.BCEWithLogitsLoss() if loss == "stable" else nn.BCELoss()
        self.row_criterion = (
            nn.BCEWithLogitsLoss(reduction="none")
            if loss == "stable"
            else nn.BCELoss(reduction="none")
        )
        linear = self.net.linear
        decay = sgd.weight_decay
        self.optimizer = EagerSGD(  # torch.optim.SGD without the torch._dynamo import
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

    def _loss(
        self, X: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        z = self.net(X)
        inputs = z if self.loss_form == "stable" else torch.sigmoid(z)
        if weights is None:
            out: torch.Tensor = self.criterion(inputs, y)
            return out
        # a batch of zero total weight: loss 0 and zero gradients, without a device sync
        u = weights / weights.sum().clamp_min(torch.finfo(weights.dtype).tiny)
        rows: torch.Tensor = self.row_criterion(inputs, y)
        return rows @ u

    @torch.no_grad()
    def probabilities(self, X: torch.Tensor) -> F64:
        return self.arrays.to_numpy(torch.sigmoid(self.net(X)))

    @torch.no_grad()
    def loss(
        self, X: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self._loss(X, y, weights)

    def gradients(
        self, X: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None
    ) -> tuple[F64, float]:
        gw, gb = torch.autograd.grad(
            self._loss(X, y, weights), (self.net.linear.weight, self.net.linear.bias)
        )
        return self.arrays.to_numpy(gw[0]), float(gb[0])

    def step(self, X: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None) -> Any:
        loss = self._loss(X, y, weights)
        self.optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        self.optimizer.step()
        return loss.detach()

    def get_state(self) -> dict[str, F64]:
        """``torch.optim.SGD``'s momentum buffers, ``momentum_w`` (shape ``(D,)``) and
        ``momentum_b`` (shape ``()``), once they exist."""
        out = {}
        for key, param in zip(("momentum_w", "momentum_b"), self._params(), strict=True):
            buf = self.optimizer.state[param].get("momentum_buffer")
            if buf is not None:
                out[key] = self.arrays.to_numpy(buf).reshape(-1 if key == "momentum_w" else ())
        return out

    def set_state(self, state: dict[str, F64]) -> None:
        """Restore :meth:`get_state`'s buffers into the optimizer's state (rounded to the model's
        dtype, shaped as the parameters); absent: none, as in a fresh optimizer."""
        for key, param in zip(("momentum_w", "momentum_b"), self._params(), strict=True):
            if key in state:
                buf = self.arrays.convert(state[key]).reshape(param.shape)
                self.optimizer.state[param]["momentum_buffer"] = buf
            else:
                self.optimizer.state[param].pop("momentum_buffer", None)

    def _params(self) -> tuple[nn.Parameter, nn.Parameter]:
        return self.net.linear.weight, self.net.linear.bias
