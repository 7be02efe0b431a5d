"""The one interface: :class:`Model` (what users hold) over an :class:`Engine` (what a variant is).

A variant is only the math of logistic regression written one way. It never sees unchecked
input: :class:`Model` validates every argument, converts data to the variant's arrays, and turns
results back into NumPy float64 and Python floats. So every variant gets the same checks and the
same error messages, and a rejected call reaches no variant at all.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from lr_variants._sgd import SGDOptions
from lr_variants._validate import (
    F64,
    check_data,
    check_features,
    check_params,
    check_sample_weight,
)


class Arrays(Protocol):
    """A backend: how a variant's arrays are made, reordered and read back."""

    device: Any

    def convert(self, a: F64) -> Any:
        """Float64 NumPy data as this backend's array in the model's dtype and device."""
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


class Engine(Protocol):
    """What each variant implements, on its own arrays, for inputs already validated.

    With ``z = X w + b`` and ``p = sigmoid(z)``, the loss is the mean binary cross-entropy
    ``L = mean(max(z, 0) - z y + log1p(exp(-|z|)))`` and its gradient is
    ``dL/dw = X^T (p - y) / N``, ``dL/db = mean(p - y)``. Given ``weights`` ``s`` (one per row,
    ``>= 0``, on the same backend), every mean is the weighted mean ``sum(s_i a_i) / sum(s)``
    (an all-zero batch gives ``L = 0`` and zero gradients).

    ``get_state`` / ``set_state`` read and restore the optimizer's state (the momentum buffers
    ``momentum_w`` of shape ``(D,)`` and ``momentum_b`` of shape ``()``, present once made) as
    float64 NumPy arrays, so that a restored model continues training exactly.
    """

    arrays: Arrays

    def get_params(self) -> tuple[F64, float]:
        """``(w, b)`` as float64 NumPy array and Python float."""
        ...

    def set_params(self, w: F64, b: float) -> None:
        """Store ``w`` and ``b`` (rounded to the model's dtype)."""
        ...

    def probabilities(self, X: Any) -> F64:
        """``sigmoid(X w + b)`` as float64 NumPy."""
        ...

    def loss(self, X: Any, y: Any, weights: Any = None) -> Any:
        """``L`` at the current parameters, as a backend scalar."""
        ...

    def gradients(self, X: Any, y: Any, weights: Any = None) -> tuple[F64, float]:
        """``(dL/dw, dL/db)`` without changing the parameters or any optimizer state."""
        ...

    def step(self, X: Any, y: Any, weights: Any = None) -> Any:
        """One optimizer step on this batch; returns ``L`` before the update (backend scalar)."""
        ...

    def get_state(self) -> dict[str, F64]:
        """The optimizer's state as float64 arrays (``momentum_w``, ``momentum_b`` once made)."""
        ...

    def set_state(self, state: dict[str, F64]) -> None:
        """Restore :meth:`get_state`'s output (rounded to the model's dtype)."""
        ...


class Model:
    """Binary logistic regression trained by one variant; made by :func:`lr_variants.create`.

    Attributes: ``name`` (the variant), ``n_features``, ``dtype`` (``"float32"`` or
    ``"float64"``), ``device`` (a torch device string, ``"cpu"`` for NumPy), ``sgd`` (the
    optimizer's :class:`~lr_variants.SGDOptions`), ``lr`` (``sgd.lr``), and ``engine`` (the
    variant's own object, e.g. holding the ``nn.Module``).

    ``X`` is anything ``np.asarray`` takes, of shape ``(N, n_features)``; ``y`` has shape ``(N,)``
    and holds only 0 and 1. Every method validates its arguments first and raises ``ValueError``
    (``TypeError`` for a wrong type) without touching the model.
    """

    def __init__(
        self,
        name: str,
        engine: Engine,
        *,
        n_features: int,
        dtype: str,
        sgd: SGDOptions,
        impl: str = "textbook",
        options: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.impl = impl
        self.options: dict[str, Any] = dict(options or {})
        self.engine = engine
        self.n_features = n_features
        self.dtype = dtype
        self.device = str(engine.arrays.device)
        self.sgd = sgd
        self.lr = sgd.lr

    def __repr__(self) -> str:
        return (
            f"Model(name={self.name!r}, n_features={self.n_features}, dtype={self.dtype!r}, "
            f"device={self.device!r}, sgd={self.sgd})"
        )

    def get_params(self) -> tuple[F64, float]:
        """``(w, b)``: float64 array of shape ``(n_features,)`` and a Python float (copies)."""
        return self.engine.get_params()

    def set_params(self, w: Any, b: Any) -> None:
        """Set the parameters; values are rounded to the model's dtype."""
        w64, b64 = check_params(w, b, self.n_features, self.dtype)
        self.engine.set_params(w64, b64)

    def predict_proba(self, X: Any) -> F64:
        """P(y = 1 | x) for every row of ``X``: float64 array of shape ``(N,)``."""
        X64 = check_features(X, self.n_features, dtype=self.dtype)
        return self.engine.probabilities(self.engine.arrays.convert(X64))

    def loss(self, X: Any, y: Any, *, sample_weight: Any = None) -> float:
        """Mean binary cross-entropy at the current parameters; with ``sample_weight`` (shape
        ``(N,)``, finite, ``>= 0``, positive sum) the weighted mean ``sum(s l) / sum(s)``."""
        loss = self.engine.loss(*self.prepare(X, y, sample_weight))
        return float(self.engine.arrays.floats([loss])[0])

    def gradients(self, X: Any, y: Any, *, sample_weight: Any = None) -> tuple[F64, float]:
        """``(dL/dw, dL/db)`` of :meth:`loss`; the model is not changed."""
        return self.engine.gradients(*self.prepare(X, y, sample_weight))

    def step(self, X: Any, y: Any, *, sample_weight: Any = None) -> float:
        """One optimizer step on the batch ``(X, y)`` (weighted by ``sample_weight`` as in
        :meth:`loss`); returns the batch loss before the update."""
        loss = self.engine.step(*self.prepare(X, y, sample_weight))
        return float(self.engine.arrays.floats([loss])[0])

    def save(self, path: Any) -> None:
        """Write the model to ``path`` (exactly that name): variant, hyperparameters, dtype,
        device, parameters and optimizer state, in an ``.npz`` archive that holds no pickled
        object. :func:`lr_variants.load` reads it back; training then continues exactly."""
        from lr_variants.io import save

        save(self, path)

    def prepare(self, X: Any, y: Any, sample_weight: Any = None) -> tuple[Any, ...]:
        """Validate ``(X, y)`` (and ``sample_weight`` if given) and convert them to the variant's
        arrays (dtype and device): ``(X, y)`` or ``(X, y, weights)``."""
        X64, y64 = check_data(X, y, self.n_features, dtype=self.dtype)
        convert = self.engine.arrays.convert
        if sample_weight is None:
            return convert(X64), convert(y64)
        s64 = check_sample_weight(sample_weight, len(y64), self.dtype)
        return convert(X64), convert(y64), convert(s64)
