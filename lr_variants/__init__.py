"""lr_variants: binary logistic regression trained several interchangeable ways.

>>> import lr_variants as lv
>>> X, y = lv.two_blobs()
>>> model = lv.create("module", 2, lr=0.1, dtype="float64")
>>> history = lv.train(model, X, y, epochs=100, batch_size=32, seed=42)
>>> lv.accuracy(model, X, y) >= 0.99
True

Every variant starts from the same parameters (:func:`initial_params`), sees the same batches
(:func:`lr_variants.training.batch_plan`) and so follows the same trajectory up to rounding.
Importing this package does not import torch; creating a torch variant does.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from lr_variants._model import Model
from lr_variants._validate import DTYPES, F64, check_choice, check_int, check_real
from lr_variants.data import load_data, two_blobs
from lr_variants.training import History, accuracy, batch_plan, batches, train

__all__ = [
    "VARIANTS",
    "History",
    "Model",
    "accuracy",
    "batch_plan",
    "batches",
    "create",
    "initial_params",
    "load_data",
    "train",
    "two_blobs",
]

VARIANTS: tuple[str, ...] = ("numpy", "autograd", "module")

# variant name -> (module, engine class); imported on first use so torch loads only when needed
_ENGINES: dict[str, tuple[str, str]] = {
    "numpy": ("lr_variants.variants.numpy", "NumpyLogisticRegression"),
    "autograd": ("lr_variants.variants.autograd", "AutogradLogisticRegression"),
    "module": ("lr_variants.variants.module", "ModuleLogisticRegression"),
}
LOSSES: tuple[str, ...] = ("stable", "sigmoid_bce")


def initial_params(n_features: int, seed: int = 0) -> tuple[F64, float]:
    """The initial ``(w, b)`` for every variant: ``U(-1/sqrt(D), 1/sqrt(D))``, the distribution
    ``nn.Linear(D, 1)`` uses by default, drawn with ``np.random.default_rng(seed)`` (``w``
    first, then ``b``) in float64. A model rounds them to its own dtype."""
    n = check_int(n_features, "n_features", 1)
    rng = np.random.default_rng(check_int(seed, "seed", 0))
    bound = 1.0 / np.sqrt(n)
    w = rng.uniform(-bound, bound, size=n)
    return w, float(rng.uniform(-bound, bound))


def create(
    name: str,
    n_features: int,
    *,
    lr: float = 0.1,
    dtype: str = "float32",
    device: str = "cpu",
    seed: int = 0,
    loss: str = "stable",
) -> Model:
    """A new model of variant ``name`` (one of :data:`VARIANTS`) for ``n_features`` features.

    ``lr`` > 0 is the SGD learning rate; ``dtype`` is ``"float32"`` or ``"float64"``; ``device``
    a torch device string (``"cpu"``, ``"cuda"``, ``"cuda:1"``; the numpy variant runs only on
    ``"cpu"``); ``seed`` picks the initial parameters (:func:`initial_params`), identical in
    every variant. ``loss="sigmoid_bce"`` (module variant only) trains on the reference
    article's ``nn.BCELoss()(sigmoid(z), y)`` instead of the stable loss from logits.
    """
    check_choice(name, "name", VARIANTS)
    w, b = initial_params(n_features, seed)
    lr = check_real(lr, "lr", minimum=0.0, strict=True)
    check_choice(dtype, "dtype", DTYPES)
    check_choice(loss, "loss", LOSSES)
    if loss != "stable" and name != "module":
        raise ValueError(f"loss must be 'stable' for the {name} variant; got {loss!r}")
    options: dict[str, Any] = {"lr": lr, "dtype": dtype}
    if name == "numpy":
        if device != "cpu":
            raise ValueError(f"device must be 'cpu' for the numpy variant; got {device!r}")
    else:
        from lr_variants._backends import check_torch_device

        options["device"] = check_torch_device(device)
    if loss != "stable":
        options["loss"] = loss
    module, cls = _ENGINES[name]
    engine = getattr(importlib.import_module(module), cls)(w, b, **options)
    return Model(name, engine, n_features=len(w), dtype=dtype, lr=lr)
