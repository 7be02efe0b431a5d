"""The module variant tuned for start-up (``create("module", ..., impl="fast")``).

The same ``nn.Module``, loss and ``torch.optim.SGD`` arithmetic, bit for bit, with
``EagerSGD`` in place of ``torch.optim.SGD``: it runs torch's own SGD code without importing
``torch._dynamo``, which the first ``torch.optim.SGD`` in a process imports (a start-up cost,
not a training one).
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

from lr_variants._validate import F64
from lr_variants.textbook.module import ModuleLogisticRegression

# torch.optim's methods under their torch.compile wrappers (see EagerSGD)
_add_param_group = inspect.unwrap(torch.optim.Optimizer.add_param_group)
_zero_grad = inspect.unwrap(torch.optim.Optimizer.zero_grad)
_sgd_step = inspect.unwrap(torch.optim.SGD.step)


class EagerSGD(torch.optim.SGD):
    """``torch.optim.SGD`` run eagerly, without importing ``torch._dynamo`` at start-up.

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


def fast_module(w: F64, b: float, **options: Any) -> ModuleLogisticRegression:
    """The module variant with ``EagerSGD`` as its optimizer (``options`` as for
    ``ModuleLogisticRegression``)."""
    return ModuleLogisticRegression(w, b, optimizer_class=EagerSGD, **options)
