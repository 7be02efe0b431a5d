"""The one training loop and the one batching function every variant shares."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from lr_variants._model import Model
from lr_variants._validate import F64, check_data, check_int


@dataclass(frozen=True)
class History:
    """What :func:`train` observed.

    ``batch_loss[e, k]`` is the loss of batch ``k`` of epoch ``e`` before its update;
    ``epoch_loss[e]`` is their mean weighted by batch size (the mean per-sample loss seen in
    epoch ``e``); ``seconds`` is the wall time of the loop, data preparation excluded.
    """

    epoch_loss: F64
    batch_loss: F64
    batch_sizes: np.ndarray
    seconds: float

    @property
    def n_steps(self) -> int:
        return int(self.batch_loss.size)


def batch_plan(
    n_samples: int, *, epochs: int, batch_size: int, seed: int, shuffle: bool = True
) -> tuple[list[slice], Iterator[np.ndarray | None]]:
    """The batches every variant trains on: ``(slices, orders)``.

    ``slices`` cut ``n_samples`` rows into consecutive batches of ``batch_size`` (the last one
    holds what is left). ``orders`` yields, per epoch, the row order: with ``shuffle``, a fresh
    permutation from one ``np.random.default_rng(seed)``, so the whole sequence depends only on
    ``(n_samples, epochs, batch_size, seed)``; without it (or when one batch holds every row,
    whose gradient does not depend on the order), ``None``: the rows as stored.
    Batch ``k`` of epoch ``e`` is ``order_e[slices[k]]``.
    """
    slices = [slice(i, min(i + batch_size, n_samples)) for i in range(0, n_samples, batch_size)]
    rng = np.random.default_rng(seed)
    reorder = shuffle and len(slices) > 1
    orders = (rng.permutation(n_samples) if reorder else None for _ in range(epochs))
    return slices, orders


def batches(
    n_samples: int, *, epochs: int, batch_size: int, seed: int, shuffle: bool = True
) -> Iterator[np.ndarray]:
    """The row indices of every training step, in order: what :func:`train` feeds each variant."""
    slices, orders = batch_plan(
        n_samples, epochs=epochs, batch_size=batch_size, seed=seed, shuffle=shuffle
    )
    for order in orders:
        rows = np.arange(n_samples) if order is None else order
        for s in slices:
            yield rows[s]


def train(
    model: Model,
    X: Any,
    y: Any,
    *,
    epochs: int = 100,
    batch_size: int | None = 32,
    seed: int = 42,
    shuffle: bool = True,
) -> History:
    """Minibatch training: ``epochs`` passes over ``(X, y)`` in batches of ``batch_size`` rows
    (``None``: the whole data set, i.e. full-batch gradient descent), as :func:`batch_plan`
    cuts them, one ``model`` optimizer step per batch.

    Data are validated, converted to the model's dtype and moved to its device once; each epoch
    reorders the rows once and then takes contiguous slices, and each step's loss stays on the
    device until the epoch ends. Raises ``FloatingPointError`` if an epoch's loss is not finite
    (training diverged; lower ``lr`` or standardize ``X``), with the model left at that point.
    """
    epochs = check_int(epochs, "epochs", 0)
    seed = check_int(seed, "seed", 0)
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle must be a bool; got {shuffle!r}")
    X64, y64 = check_data(X, y, model.n_features, dtype=model.dtype)
    n = len(y64)
    size = n if batch_size is None else min(check_int(batch_size, "batch_size", 1), n)

    arrays = model.engine.arrays
    Xa, ya = arrays.convert(X64), arrays.convert(y64)
    slices, orders = batch_plan(n, epochs=epochs, batch_size=size, seed=seed, shuffle=shuffle)
    sizes = np.array([s.stop - s.start for s in slices])
    batch_loss = np.empty((epochs, len(slices)))

    start = time.perf_counter()
    for epoch, order in enumerate(orders):
        Xe, ye = (Xa, ya) if order is None else (arrays.rows(Xa, order), arrays.rows(ya, order))
        batch_loss[epoch] = arrays.floats([model.engine.step(Xe[s], ye[s]) for s in slices])
        finite = np.isfinite(batch_loss[epoch])
        if not finite.all():
            k = int(np.argmin(finite))
            raise FloatingPointError(
                f"training diverged: the loss became {batch_loss[epoch, k]} in epoch {epoch + 1}"
                f" (step {k + 1}) with lr={model.lr}; lower lr or standardize X"
            )
    seconds = time.perf_counter() - start
    epoch_loss = batch_loss @ sizes / n
    return History(epoch_loss, batch_loss, sizes, seconds)


def accuracy(model: Model, X: Any, y: Any) -> float:
    """Fraction of rows where ``predict_proba > 0.5`` equals ``y``."""
    X64, y64 = check_data(X, y, model.n_features, dtype=model.dtype)
    return float(np.mean((model.predict_proba(X64) > 0.5) == (y64 == 1.0)))
