"""Variant ``"compiled"``: the whole training step under ``torch.compile``.

The step is one Python function: the forward pass, the backward pass
(``torch.func.grad_and_value`` of a pure loss, which the compiler traces), and the SGD update
(the library's rule, ``lr_variants._sgd``, traced too). The loss is the func variant's pure
``loss_fn`` (``lr_variants.textbook.func``): compiling it is what ``jax.jit`` adds to JAX code.
With ``z = X w + b`` and row weights ``u`` (``1/N`` each, or the normalized sample weights)::

    L     = sum_i u_i softplus((1 - 2 y_i) z_i)          # = BCE of sigmoid(z), stable
    dL/dw = X^T u (p - y),   dL/db = sum u (p - y)       # derived by the compiler's autograd
    w <- w - lr dL/dw,  b <- b - lr dL/db   (plain SGD; the full rule: lr_variants._sgd)

``torch.compile`` captures the step as a graph (TorchDynamo), derives its backward
(AOTAutograd) and generates code for the whole of it (Inductor: C++ on the CPU, which needs a
C++ compiler; Triton on CUDA). The first call compiles (seconds); later calls run the generated
code after checking the guards (dtype, shapes, options) the graph was made under.

One graph for every batch size: the batch dimension is marked dynamic
(``torch._dynamo.maybe_mark_dynamic``) before the first call, so the last, shorter batch of an
epoch (1,000 rows in batches of 32: 31 x 32 + 8) runs the same code instead of compiling a
second graph (a size of 1 is still specialized by the compiler: one more graph if it occurs).
On CUDA the step is compiled with ``mode="reduce-overhead"`` (CUDA graphs replay the whole
step as one launch; recorded once per batch size). That path has not been run here: the
library's CUDA code is checked only where a GPU is present.

``compile_seconds`` and ``compiles`` on the variant object count the time and number of the
calls that compiled a graph, so compile time is reported apart from the training loop (a
model's variant object is ``model.engine``). ``loss`` and ``probabilities`` run eagerly (no
training step in them); ``gradients`` runs the compiled gradient alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch._dynamo.utils import counters
from torch.func import grad_and_value

from lr_variants._backends import TorchArrays
from lr_variants._sgd import SGD, SGDOptions
from lr_variants._validate import F64
from lr_variants.textbook.func import Params, loss_fn


def train_step(
    theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None, optimizer: SGD
) -> torch.Tensor:
    """Forward, backward and update of one batch on ``theta = (w, b)``; returns ``L`` before
    the update."""
    params = {"w": theta[:-1], "b": theta[-1]}
    grads, loss = grad_and_value(loss_fn)(params, X, y, u)
    optimizer.step([params["w"], params["b"]], [grads["w"], grads["b"]])
    out: torch.Tensor = loss
    return out


def loss_and_grads(
    theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None
) -> tuple[Params, torch.Tensor]:
    """``(gradient dict, L)`` at ``theta = (w, b)``, nothing changed."""
    return grad_and_value(loss_fn)({"w": theta[:-1], "b": theta[-1]}, X, y, u)


# compiled once per process and device type; the compiler caches one graph per guard set
# (dtype, D, options) on each function, shared by every model
_COMPILED: dict[tuple[str, str], Callable[..., Any]] = {}


def compiled(fn: Callable[..., Any], device_type: str) -> Callable[..., Any]:
    """``torch.compile(fn)``, with CUDA graphs on CUDA, made once per function and device."""
    key = (fn.__name__, device_type)
    if key not in _COMPILED:
        mode = "reduce-overhead" if device_type == "cuda" else None
        _COMPILED[key] = torch.compile(fn, mode=mode)
    return _COMPILED[key]


class CompiledLogisticRegression:
    """A dict of plain tensors ``{"w": (D,), "b": ()}``, each step one compiled call."""

    def __init__(self, w: F64, b: float, *, sgd: SGDOptions, dtype: str, device: str) -> None:
        self.arrays = TorchArrays(dtype, device)
        # one tensor theta = (w, b) that owns its memory, w and b views into it: the compiled
        # step updates theta (a 0-d float64 tensor given to a compiled graph as an input to
        # update in place was left unchanged: measured, torch 2.13 on the CPU)
        self.theta = self.arrays.convert(np.append(w, b)).clone()
        self.params: Params = {"w": self.theta[:-1], "b": self.theta[-1]}
        self.optimizer = SGD(sgd, self.arrays)
        kind = self.arrays.device.type
        self._step = compiled(train_step, kind)
        self._grads = compiled(loss_and_grads, kind)
        self.compile_seconds = 0.0
        self.compiles = 0

    def get_params(self) -> tuple[F64, float]:
        theta = self.arrays.to_numpy(self.theta)
        return theta[:-1], float(theta[-1])

    def set_params(self, w: F64, b: float) -> None:
        self.arrays.assign(self.theta, np.append(w, b))  # w and b are views of theta

    def probabilities(self, X: torch.Tensor) -> F64:
        z = torch.addmv(self.params["b"], X, self.params["w"])
        return self.arrays.to_numpy(torch.sigmoid(z))

    def loss(self, X: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None = None) -> Any:
        return loss_fn(self.params, X, y, u)

    def gradients(
        self, X: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None = None
    ) -> tuple[F64, float]:
        grads, _ = self._run(self._grads, self.theta, X, y, u)
        return self.arrays.to_numpy(grads["w"]), float(grads["b"])

    def step(self, X: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None = None) -> Any:
        loss = self._run(self._step, self.theta, X, y, u, self.optimizer)
        # a CUDA graph's output lives in its static buffer, which the next replay overwrites:
        # copy it, as train() keeps every loss until the epoch ends
        return loss.clone() if self.arrays.device.type == "cuda" else loss

    def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` with the batch dimension marked dynamic; a call that compiled a graph
        adds its time to ``compile_seconds``."""
        for a in args[1:4]:
            if isinstance(a, torch.Tensor):
                torch._dynamo.maybe_mark_dynamic(a, 0)
        graphs = counters["stats"]["unique_graphs"]
        start = time.perf_counter()
        out = fn(*args)
        if counters["stats"]["unique_graphs"] != graphs:
            self.compiles += counters["stats"]["unique_graphs"] - graphs
            self.compile_seconds += time.perf_counter() - start
        return out
