"""A variant made from a loss-and-gradient function
([`lr_variants.from_gradient`][lr_variants.registry.from_gradient]).

The function ``fn(w, b, X, y, sample_weight) -> (loss, grad_w, grad_b)`` is the whole variant:
it receives NumPy arrays in the model's dtype (``w`` and ``b`` as copies, so it cannot change the
model's state; ``X``, ``y`` and ``sample_weight`` as read-only views, since ``X`` and ``y`` may be
the caller's own arrays, which a write would corrupt: a write raises ``ValueError``) and
returns ``L`` and ``(dL/dw, dL/db)``; the update is the library's ``torch.optim.SGD`` rule
([`lr_variants._sgd.SGD`][]), so every SGD option works. ``sample_weight`` is ``None`` or the
batch's weights normalized to sum to 1 (``u``): the weighted mean ``sum(u l)`` is the same as
``sum(s l) / sum(s)``; a batch of zero total weight never reaches ``fn``. NumPy only: no torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lr_variants._contain import PluginError, first_line
from lr_variants._sgd import SGDOptions
from lr_variants._validate import F64
from lr_variants.textbook.numpy import NumpyLogisticRegression

GradientFunction = Callable[..., tuple[Any, Any, Any]]


class GradientFunctionVariant:
    """Arrays ``w`` (shape ``(D,)``) and ``b`` (shape ``()``); loss and gradient from ``fn``,
    the plug-in's function as ``returning_arrays`` wraps it (three NumPy arrays, read inside the
    contained call)."""

    def __init__(
        self,
        w: F64,
        b: float,
        *,
        fn: GradientFunction,
        name: str,
        sgd: SGDOptions,
        dtype: str,
        device: str = "cpu",
    ) -> None:
        self.fn, self.name = fn, name
        # parameters, probabilities and the SGD rule are the textbook numpy variant's
        base = NumpyLogisticRegression(w, b, sgd=sgd, dtype=dtype)
        self.arrays, self.optimizer, self.w, self.b = base.arrays, base.optimizer, base.w, base.b
        self.get_params, self.set_params = base.get_params, base.set_params
        self.probabilities = base.probabilities

    def loss(self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None = None) -> Any:
        return self._call(X, y, u)[0]

    def gradients(
        self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None = None
    ) -> tuple[F64, float]:
        _, gw, gb = self._call(X, y, u)
        return gw.astype(np.float64), float(gb)

    def step(self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None = None) -> Any:
        loss, gw, gb = self._call(X, y, u)
        self.optimizer.step([self.w, self.b], [gw, gb])
        return loss

    def _call(
        self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None
    ) -> tuple[Any, np.ndarray, np.ndarray]:
        """``fn`` on copies of the parameters and read-only views of the data, its results
        checked and cast to the model's dtype. A batch of zero total weight contributes nothing
        (loss 0, zero gradients) and is not passed to ``fn``, whose ``s / sum(s)`` would be
        0/0."""
        dtype = self.arrays.dtype
        if u is not None and not u.any():
            zero = np.zeros((), dtype=dtype)
            return zero, np.zeros_like(self.w), zero
        try:
            out = self.fn(self.w.copy(), self.b.copy(), _read_only(X), _read_only(y), _read_only(u))
        except PluginError as exc:  # fn is contained (lr_variants._contain)
            if not (isinstance(exc.original, ValueError) and "read-only" in exc.error):
                raise
            raise ValueError(
                f"the gradient function of variant {self.name!r} must not write into X, y or "
                f"sample_weight (read-only: they may be the caller's own data); it tried: "
                f"{exc.error}"
            ) from None
        loss, gw, gb = out  # three NumPy arrays: fn is wrapped by returning_arrays
        for what, value, shape in (("loss", loss, ()), ("grad_w", gw, self.w.shape)):
            if value.shape != shape or value.dtype.kind not in "iuf":
                raise PluginError(
                    self.name,
                    "gradient",
                    f"it must return {what} as real numbers of shape {shape}; got {value.dtype} "
                    f"of shape {value.shape}",
                )
        if gb.size != 1 or gb.dtype.kind not in "iuf":
            raise PluginError(
                self.name,
                "gradient",
                f"it must return grad_b as one real number; got {gb.dtype} of shape {gb.shape}",
            )
        return loss.astype(dtype), gw.astype(dtype), gb.reshape(()).astype(dtype)


def returning_arrays(name: str, fn: Callable[..., Any]) -> Callable[..., tuple[Any, ...]]:
    """``fn`` with its result read into NumPy arrays in the same call, so that reading it (an
    ``__array__`` or ``__len__`` of the plug-in's own, which may raise, exit or hang) is
    contained with the call (``lr_variants._contain``)."""

    def read(*args: Any) -> tuple[Any, ...]:
        out = fn(*args)
        if not isinstance(out, tuple) or len(out) != 3:
            raise PluginError(
                name, "gradient", f"it must return (loss, grad_w, grad_b); got {_what(out)}"
            )
        try:
            return tuple(np.asarray(v) for v in out)
        except Exception as exc:  # a tensor that requires grad, an object NumPy cannot read
            raise PluginError(
                name,
                "gradient",
                f"it must return NumPy arrays or numbers; got {_what(out)}: {first_line(exc)}",
            ) from exc

    return read


def _what(out: Any) -> str:
    """What a gradient function returned, in a few words: ``tuple (ndarray, Tensor, float)``."""
    if isinstance(out, tuple):
        return f"tuple ({', '.join(type(v).__name__ for v in out)})"
    return type(out).__name__


def _read_only(a: np.ndarray | None) -> np.ndarray | None:
    """A view of ``a`` that cannot be written through (``a`` itself stays as it was)."""
    if a is None:
        return None
    view = a.view()
    view.flags.writeable = False
    return view
