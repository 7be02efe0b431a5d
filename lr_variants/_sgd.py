"""The ``torch.optim.SGD`` update rule, written once for NumPy arrays and torch tensors alike.

For each parameter ``p`` (``w``, then ``b``) with gradient ``g``, as torch's ``_single_tensor_sgd``
does it (which differs from its documentation in places)::

    g <- -g                                   if maximize  (negated *before* weight decay,
                                                            pytorch/pytorch#149476)
    g <- g + weight_decay * p                 if p is decayed (w always, b if decay_bias)
    if momentum != 0:
        buf <- copy(g)                        on the first step: the buffer starts as the
                                              first gradient, not as zero
        buf <- momentum * buf + (1 - dampening) * g   on every later step
        g <- g + momentum * buf  if nesterov, else  g <- buf
    p <- p - lr * g

With weight decay on ``w`` only, the rule is SGD on ``mean BCE + (weight_decay / 2) ||w||^2``
(``+ (weight_decay / 2) b^2`` as well with ``decay_bias``); ``maximize`` ascends the loss.
Only in-place arithmetic operators are used, so the same code updates NumPy arrays and torch
tensors (under ``torch.no_grad()`` where they require grad).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lr_variants._validate import check_real


@dataclass(frozen=True)
class SGDOptions:
    """The hyperparameters of ``torch.optim.SGD``, plus whether the bias is decayed."""

    lr: float = 0.1
    momentum: float = 0.0
    dampening: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    maximize: bool = False
    decay_bias: bool = False

    @property
    def plain(self) -> bool:
        """True when the rule is just ``p <- p - lr * g``."""
        return not (self.momentum or self.weight_decay or self.maximize)


def check_sgd_options(dtype: str = "float64", **options: Any) -> SGDOptions:
    """Validate with torch's conditions (and ``lr > 0``: a zero step would train nothing);
    every number must be representable in ``dtype`` (finite once rounded to it)."""
    known = {f.name for f in dataclasses.fields(SGDOptions)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"unknown SGD option {unknown[0]!r}; the options are {sorted(known)}")
    given = {**dataclasses.asdict(SGDOptions()), **options}
    for name in ("nesterov", "maximize", "decay_bias"):
        if not isinstance(given[name], bool):
            raise TypeError(f"{name} must be a bool; got {given[name]!r}")
    checked = SGDOptions(
        lr=check_real(given["lr"], "lr", minimum=0.0, strict=True),
        momentum=check_real(given["momentum"], "momentum", minimum=0.0),
        dampening=check_real(given["dampening"], "dampening"),
        nesterov=given["nesterov"],
        weight_decay=check_real(given["weight_decay"], "weight_decay", minimum=0.0),
        maximize=given["maximize"],
        decay_bias=given["decay_bias"],
    )
    limit = float(np.finfo(dtype).max)
    for name in ("lr", "momentum", "dampening", "weight_decay"):
        value = getattr(checked, name)
        if abs(value) > limit:
            raise ValueError(
                f"{name} must be representable in {dtype} (|{name}| <= {limit:.4g}); got {value!r}"
            )
    if checked.nesterov and (checked.momentum <= 0 or checked.dampening != 0):
        raise ValueError(
            "nesterov requires momentum > 0 and dampening = 0 (as torch.optim.SGD: 'Nesterov "
            f"momentum requires a momentum and zero dampening'); got momentum={checked.momentum}, "
            f"dampening={checked.dampening}"
        )
    return checked


STATE_KEYS = ("momentum_w", "momentum_b")


class SGD:
    """The update above for parameters ``[w, b]`` held as one backend's arrays, with its state.

    ``step(params, grads)`` updates ``params`` in place. The momentum buffers (one per
    parameter, ``None`` until the first step with momentum) are this object's state:
    [`get_state`][lr_variants._sgd.SGD.get_state] and [`set_state`][lr_variants._sgd.SGD.set_state]
    read and restore them as float64 NumPy arrays through ``arrays`` (the variant's backend:
    ``to_numpy``, ``convert``, ``copy``), so that a restored model continues exactly.
    ``add_scaled(p, g, alpha)``, if given, does ``p <- p + alpha g`` in place in one operation
    (torch: ``p.add_(g, alpha=alpha)``, what ``torch.optim.SGD`` itself runs); plain SGD then costs
    one operation per parameter.
    """

    def __init__(
        self,
        options: SGDOptions,
        arrays: Any,
        add_scaled: Callable[[Any, Any, float], Any] | None = None,
    ) -> None:
        self.options = options
        self.arrays = arrays
        self.add_scaled = add_scaled
        self.buffers: list[Any] = [None, None]

    def get_state(self) -> dict[str, Any]:
        """The momentum buffers that exist, as float64 ``momentum_w`` (shape ``(D,)``) and
        ``momentum_b`` (shape ``()``)."""
        bufs = zip(STATE_KEYS, self.buffers, strict=True)
        return {key: self.arrays.to_numpy(buf) for key, buf in bufs if buf is not None}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore [`get_state`][lr_variants._sgd.SGD.get_state]'s buffers (rounded to the model's
        dtype); a key that is absent means no buffer yet, as in a fresh optimizer."""
        convert = self.arrays.convert
        self.buffers = [None if key not in state else convert(state[key]) for key in STATE_KEYS]

    def step(self, params: Sequence[Any], grads: Sequence[Any]) -> None:
        """Update ``params`` (``[w, b]``) in place from ``grads``."""
        o = self.options
        if o.plain and self.add_scaled is not None:  # p <- p - lr g, one operation each
            for p, g in zip(params, grads, strict=True):
                self.add_scaled(p, g, -o.lr)
            return
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            if o.maximize:
                g = -g
            if o.weight_decay and (i == 0 or o.decay_bias):
                g = g + o.weight_decay * p
            if o.momentum:
                buf = self.buffers[i]
                if buf is None:
                    buf = self.buffers[i] = self.arrays.copy(g)
                else:
                    buf *= o.momentum
                    buf += (1 - o.dampening) * g
                g = g + o.momentum * buf if o.nesterov else buf
            p -= o.lr * g


class TorchSGDState:
    """``torch.optim.SGD``'s momentum buffers, read and restored as [`SGD`][lr_variants._sgd.SGD]
    does its own.

    ``optimizer`` holds ``params`` (``[weight, bias]``, any shapes with ``D`` and ``1``
    elements); its ``state[param]["momentum_buffer"]`` is the buffer torch made.
    """

    def __init__(self, optimizer: Any, params: Sequence[Any], arrays: Any) -> None:
        self.optimizer = optimizer
        self.params = list(params)
        self.arrays = arrays

    def get_state(self) -> dict[str, Any]:
        """The buffers that exist, as float64 ``momentum_w`` ``(D,)`` and ``momentum_b`` ``()``."""
        out = {}
        for key, param in zip(STATE_KEYS, self.params, strict=True):
            buf = self.optimizer.state[param].get("momentum_buffer")
            if buf is not None:
                out[key] = self.arrays.to_numpy(buf).reshape(-1 if key == "momentum_w" else ())
        return out

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore ``get_state``'s buffers, shaped as the parameters; absent: none."""
        for key, param in zip(STATE_KEYS, self.params, strict=True):
            if key in state:
                buf = self.arrays.convert(state[key]).reshape(param.shape)
                self.optimizer.state[param]["momentum_buffer"] = buf
            else:
                self.optimizer.state[param].pop("momentum_buffer", None)
