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
from lr_variants._sgd import SGDOptions, check_sgd_options
from lr_variants._validate import DTYPES, F64, check_choice, check_int
from lr_variants.data import load_data, two_blobs
from lr_variants.io import load
from lr_variants.solver import SeparationError, Solution, solve
from lr_variants.training import History, accuracy, batch_plan, batches, train

__all__ = [
    "VARIANTS",
    "History",
    "Model",
    "SGDOptions",
    "SeparationError",
    "Solution",
    "accuracy",
    "batch_plan",
    "batches",
    "create",
    "initial_params",
    "load",
    "load_data",
    "solve",
    "train",
    "two_blobs",
]

VARIANTS: tuple[str, ...] = ("numpy", "autograd", "module", "torch_manual", "scratch")

# variant name -> (module, engine class); imported on first use so torch loads only when needed
_ENGINES: dict[str, tuple[str, str]] = {
    "numpy": ("lr_variants.variants.numpy", "NumpyLogisticRegression"),
    "autograd": ("lr_variants.variants.autograd", "AutogradLogisticRegression"),
    "module": ("lr_variants.variants.module", "ModuleLogisticRegression"),
    "torch_manual": ("lr_variants.variants.torch_manual", "TorchManualLogisticRegression"),
    "scratch": ("lr_variants.variants.scratch", "ScratchLogisticRegression"),
}
# host-only: device must be "cpu", torch never imported
_NUMPY_VARIANTS = frozenset({"numpy", "scratch"})
LOSSES: tuple[str, ...] = ("stable", "sigmoid_bce")
SGD_IMPLS: tuple[str, ...] = ("for-loop", "foreach", "fused")
INITS: tuple[str, ...] = ("uniform", "article")


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
    momentum: float = 0.0,
    dampening: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    maximize: bool = False,
    decay_bias: bool = False,
    loss: str = "stable",
    sgd_impl: str = "for-loop",
    init: str = "uniform",
) -> Model:
    """A new model of variant ``name`` (one of :data:`VARIANTS`) for ``n_features`` features.

    ``dtype`` is ``"float32"`` or ``"float64"``; ``device`` a torch device string (``"cpu"``,
    ``"cuda"``, ``"cuda:1"``; the numpy variant runs only on ``"cpu"``); ``seed`` picks the
    initial parameters, identical in every variant: with ``init="uniform"`` (default)
    :func:`initial_params` ``(n_features, seed)``; with ``init="article"`` the weight and bias
    ``nn.Linear(n_features, 1)`` draws right after ``torch.manual_seed(seed)``
    (:func:`lr_variants.article.article_init`, float32 values; imports torch), the reference
    article's initial parameters for ``seed=42`` (``docs/article.md``).

    The optimizer is ``torch.optim.SGD`` with ``lr`` (> 0), ``momentum``, ``dampening``,
    ``nesterov``, ``weight_decay`` and ``maximize`` as torch defines them (the rule is in
    ``lr_variants._sgd``): the module variant passes them to ``torch.optim.SGD``, the others
    apply the same rule by hand. Weight decay applies to ``w`` only unless ``decay_bias``: the
    objective is ``mean BCE + (weight_decay / 2) ||w||^2``. :meth:`Model.set_params` keeps the
    momentum buffers, as ``torch.optim.SGD`` keeps its state when parameters are overwritten in
    place; a new model starts without them.

    Module variant only: ``loss="sigmoid_bce"`` trains on the reference article's
    ``nn.BCELoss()(sigmoid(z), y)`` instead of the stable loss from logits, and ``sgd_impl``
    picks torch's ``"for-loop"`` (default), ``"foreach"`` or ``"fused"`` SGD implementation.
    """
    check_choice(name, "name", VARIANTS)
    if check_choice(init, "init", INITS) == "article":
        from lr_variants.article import article_init

        w, b = article_init(n_features, seed)
    else:
        w, b = initial_params(n_features, seed)
    sgd = check_sgd_options(
        lr=lr,
        momentum=momentum,
        dampening=dampening,
        nesterov=nesterov,
        weight_decay=weight_decay,
        maximize=maximize,
        decay_bias=decay_bias,
    )
    check_choice(dtype, "dtype", DTYPES)
    options: dict[str, Any] = {"sgd": sgd, "dtype": dtype}
    for option, value, choices in (("loss", loss, LOSSES), ("sgd_impl", sgd_impl, SGD_IMPLS)):
        if check_choice(value, option, choices) != choices[0]:
            if name != "module":
                raise ValueError(
                    f"{option} must be {choices[0]!r} for the {name} variant; got {value!r}"
                )
            options[option] = value
    if name in _NUMPY_VARIANTS:
        if device != "cpu":
            raise ValueError(f"device must be 'cpu' for the {name} variant; got {device!r}")
    else:
        from lr_variants._backends import check_torch_device

        options["device"] = check_torch_device(device)
    module, cls = _ENGINES[name]
    engine = getattr(importlib.import_module(module), cls)(w, b, **options)
    return Model(name, engine, n_features=len(w), dtype=dtype, sgd=sgd)


def __getattr__(name: str) -> Any:
    # lv.inspect (backward graphs, for studying autograd) is loaded on first use
    if name == "inspect":
        return importlib.import_module("lr_variants.inspect")
    raise AttributeError(f"module 'lr_variants' has no attribute {name!r}")
