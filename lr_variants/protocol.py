"""The variant protocol: what one way of training logistic regression must provide.

A variant is the mathematics of binary logistic regression written one way, on its own arrays
(NumPy arrays, torch tensors on a device, the scratch engine's tensors). With ``z = X w + b``,
``p = sigmoid(z)`` and per-row weights ``u`` (``u_i = 1/N`` when none are given; otherwise
non-negative weights that sum to 1, or all zero)::

    L     = sum_i u_i (max(z_i, 0) - z_i y_i + log1p(exp(-|z_i|)))   # weighted mean BCE
    dL/dw = X^T (u (p - y)),   dL/db = sum(u (p - y))

A variant never sees unchecked input: [`lr_variants.Model`][lr_variants._model.Model] validates
every argument, normalizes sample weights to ``u`` (in float64, scale-invariant over the whole float
range), converts data through the variant's [`Arrays`][lr_variants.protocol.Arrays], and turns
results back into float64 NumPy arrays and Python floats. So every variant gets the same checks and
messages, and a rejected call reaches no variant at all.

A factory ``factory(w, b, *, sgd, dtype, device, **options)`` makes a variant from float64
initial parameters ``w`` (shape ``(D,)``) and ``b`` (a float), the optimizer's
[`SGDOptions`][lr_variants._sgd.SGDOptions] ``sgd``, the dtype name (``"float32"``/``"float64"``)
and a device string. ``step`` applies ``torch.optim.SGD``'s rule with those options: hand-written
variants call [`lr_variants._sgd.SGD`][], the module variant runs ``torch.optim.SGD``
itself. Nothing outside a variant reads its other attributes.

What a variant can do beyond these members is not guessed from the object: it is declared
where the variant is registered
([`lr_variants.Capabilities`][lr_variants.declarations.Capabilities]), and the optional extensions
below are called only where their declaration says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from lr_variants._validate import F64


class Arrays(Protocol):
    """A backend: how a variant's arrays are made, reordered and read back."""

    device: Any

    def convert(self, a: F64) -> Any:
        """Float64 NumPy data as this backend's array in the model's dtype and device."""
        ...

    def to_numpy(self, a: Any) -> F64:
        """One of this backend's arrays as a new float64 NumPy array."""
        ...

    def copy(self, a: Any) -> Any:
        """A copy of one of this backend's arrays."""
        ...

    def rows(self, a: Any, order: np.ndarray) -> Any:
        """The rows of ``a`` in ``order`` (a new array)."""
        ...

    def batches(self, a: Any, slices: list[slice]) -> list[Any]:
        """The rows of each of ``slices`` (consecutive, covering ``a``) as views."""
        ...

    def floats(self, values: list[Any]) -> F64:
        """Scalars produced by the variant (e.g. step losses) as one float64 array."""
        ...


class OptimizerState(Protocol):
    """The optimizer's state (the momentum buffers), readable and restorable exactly."""

    def get_state(self) -> dict[str, F64]:
        """The buffers that exist: float64 ``momentum_w`` (shape ``(D,)``) and ``momentum_b``
        (shape ``()``), present once the optimizer has made them."""
        ...

    def set_state(self, state: dict[str, F64]) -> None:
        """Restore [`get_state`][lr_variants.protocol.OptimizerState.get_state]'s output (rounded to
        the model's dtype); an absent key means no buffer yet, as in a fresh optimizer."""
        ...


class Variant(Protocol):
    """What each variant implements, on its own arrays, for inputs already validated.

    ``X`` and ``y`` arrive as ``arrays.convert`` made them; ``u`` is ``None`` (a plain mean) or
    the batch's normalized weights on the same backend. Losses are returned as backend scalars
    (read back in bulk by ``arrays.floats``, one device synchronisation per epoch).
    """

    arrays: Arrays
    optimizer: OptimizerState

    def get_params(self) -> tuple[F64, float]:
        """``(w, b)`` as a new float64 NumPy array and a Python float."""
        ...

    def set_params(self, w: F64, b: float) -> None:
        """Store ``w`` and ``b`` (rounded to the model's dtype); optimizer state is kept."""
        ...

    def probabilities(self, X: Any) -> F64:
        """``sigmoid(X w + b)`` as float64 NumPy."""
        ...

    def loss(self, X: Any, y: Any, u: Any = None) -> Any:
        """``L`` at the current parameters, as a backend scalar."""
        ...

    def gradients(self, X: Any, y: Any, u: Any = None) -> tuple[F64, float]:
        """``(dL/dw, dL/db)``, changing neither the parameters nor the optimizer's state."""
        ...

    def step(self, X: Any, y: Any, u: Any = None) -> Any:
        """One optimizer step on this batch; returns ``L`` before the update."""
        ...


class EpochVariant(Variant, Protocol):
    """A variant that can run a whole epoch in one call (optional; e.g. a compiled kernel),
    declared with ``Capabilities(whole_epoch=True)``.

    [`lr_variants.train`][lr_variants.training.train] calls
    [`train_epoch`][lr_variants.protocol.EpochVariant.train_epoch] instead of one
    [`step`][lr_variants.protocol.Variant.step] per batch for a variant that declares it, so that
    the Python loop is not the cost. The batches, the SGD rule (every option) and the losses are
    exactly those of the steps it replaces. Data-parallel training runs such a variant per step (its
    declared ``data_parallel``), so that every batch is split across the ranks.
    """

    def train_epoch(self, X: Any, y: Any, u: Any, slices: list[slice]) -> F64:
        """One optimizer step per slice, in order, on ``(X[s], y[s], u[s])``: the epoch's rows
        already reordered (``u`` ``None`` or the per-batch normalized weights); returns the
        batch losses before each update, as a float64 NumPy array of ``len(slices)``."""
        ...


class EpochsVariant(Variant, Protocol):
    """A variant that can run many epochs in one call, reading each batch's rows where they lie
    (optional; e.g. a compiled kernel that gathers rows itself), declared with
    ``Capabilities(in_place_epochs=True)``. [`lr_variants.train`][lr_variants.training.train]
    prefers it to [`EpochVariant.train_epoch`][lr_variants.protocol.EpochVariant.train_epoch]: no
    reordered copy of the data per epoch, and no Python between epochs unless a callback must see
    each one. Same batches, SGD rule and losses as the steps it replaces; data-parallel training
    runs it per step.
    """

    def train_epochs(
        self, X: Any, y: Any, u: Any, slices: list[slice], orders: npt.NDArray[np.int64]
    ) -> F64:
        """For each epoch ``e`` (a row of ``orders``, that epoch's row order), one optimizer
        step per slice, in order, on the rows ``X[orders[e, s]]``, ``y[orders[e, s]]`` (``X``
        and ``y`` as stored: the variant reads the rows where they lie) with the weights
        ``u[e, s]`` (``u``: ``None``, or each epoch's per-batch normalized weights in its batch
        order, shape ``orders.shape``). Returns the batch losses before each update, float64,
        one row of ``len(slices)`` per epoch run; it may stop after the first epoch with a
        non-finite loss (the training loop stops there)."""
        ...


@dataclass(frozen=True)
class LossGraph:
    """One loss evaluation as a recorded graph, for tools that read graphs.

    ``loss`` is ``L`` (a torch tensor with a ``grad_fn``, or a scratch
    ``Tensor``), ``logits`` the node ``z = X w + b`` in the same
    graph, and ``params`` the leaves ``{"w": ..., "b": ...}`` whose gradients ``backward()``
    fills.
    """

    loss: Any
    logits: Any
    params: dict[str, Any]


class GraphVariant(Variant, Protocol):
    """A variant whose gradient comes from a recorded graph (autograd, module, scratch),
    declared with ``Capabilities(loss_graph=True)``."""

    def loss_graph(self, X: Any, y: Any, u: Any = None) -> LossGraph:
        """``L`` on ``(X, y)`` recorded as a graph; nothing is changed."""
        ...


class ModuleVariant(Variant, Protocol):
    """A variant whose model is an ``nn.Module`` stepped by its own torch optimizer, declared
    with ``Capabilities(data_parallel="ddp", owns_optimizer=True)`` (the module variant).

    Data-parallel training wraps ``net`` in ``DistributedDataParallel`` and, per step,
    back-propagates [`loss_from_logits`][lr_variants.protocol.ModuleVariant.loss_from_logits] of
    this rank's rows and steps ``sgd``.
    """

    net: Any  # an nn.Module: X of shape (N, D) -> logits z of shape (N,)
    sgd: Any  # the torch.optim.Optimizer over net's parameters

    def loss_from_logits(self, z: Any, y: Any, u: Any = None) -> Any:
        """``L`` from the logits ``z = net(X)``, recorded in ``z``'s graph (``backward()``
        fills the gradients of ``net``'s parameters); with ``u``, ``sum_i u_i l_i``."""
        ...
