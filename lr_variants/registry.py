"""The variant table and :func:`create`: which variants exist, and how a model of one is made.

A variant is a factory ``factory(w, b, *, sgd, dtype, device, **options)`` that returns an
object implementing :class:`lr_variants.protocol.Variant`; :func:`create` validates every
argument, draws the initial parameters, calls the factory and wraps the result in a
:class:`~lr_variants.Model`. Built-in variants are imported on first use, so NumPy-only work
never imports torch.

Built-in variants come in two implementations: ``impl="textbook"`` (default), the recipe as a
person writes it, and, for ``numpy``, ``torch_manual`` and ``module``, ``impl="fast"``: the same
mathematics tuned for speed (``lr_variants.tuned``), checked against the textbook recipe by the
test suite and timed beside it by the benchmarks.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lr_variants._model import Model
from lr_variants._sgd import check_sgd_options
from lr_variants._validate import DTYPES, F64, check_choice, check_int

VARIANTS: tuple[str, ...] = ("numpy", "autograd", "module", "torch_manual", "scratch")
IMPLS: tuple[str, ...] = ("textbook", "fast")
LOSSES: tuple[str, ...] = ("stable", "sigmoid_bce")
SGD_IMPLS: tuple[str, ...] = ("for-loop", "foreach", "fused")
INITS: tuple[str, ...] = ("uniform", "article")


@dataclass(frozen=True)
class VariantSpec:
    """How to make one variant.

    ``factories`` maps each implementation (``"textbook"``, ``"fast"``) to ``"module:attribute"``
    of its factory, imported on first use; ``devices`` are the device types it runs on
    (``"cpu"`` only: it never imports torch); ``options`` are the extra keyword options it
    accepts, each with its allowed values, the first being the default.
    """

    name: str
    factories: dict[str, str]
    devices: tuple[str, ...] = ("cpu", "cuda")
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def factory(self, impl: str) -> Callable[..., Any]:
        module, attr = self.factories[impl].split(":")
        made: Callable[..., Any] = getattr(importlib.import_module(module), attr)
        return made


_BUILTIN: dict[str, VariantSpec] = {
    spec.name: spec
    for spec in (
        VariantSpec(
            "numpy",
            {
                "textbook": "lr_variants.variants.numpy:NumpyLogisticRegression",
                "fast": "lr_variants.tuned.numpy_fast:FastNumpyLogisticRegression",
            },
            devices=("cpu",),
        ),
        VariantSpec(
            "autograd", {"textbook": "lr_variants.variants.autograd:AutogradLogisticRegression"}
        ),
        VariantSpec(
            "module",
            {
                "textbook": "lr_variants.variants.module:ModuleLogisticRegression",
                "fast": "lr_variants.tuned.module_fast:fast_module",
            },
            options={"loss": LOSSES, "sgd_impl": SGD_IMPLS},
        ),
        VariantSpec(
            "torch_manual",
            {
                "textbook": "lr_variants.variants.torch_manual:TorchManualLogisticRegression",
                "fast": "lr_variants.tuned.torch_manual_fast:FastTorchManualLogisticRegression",
            },
        ),
        VariantSpec(
            "scratch",
            {"textbook": "lr_variants.variants.scratch:ScratchLogisticRegression"},
            devices=("cpu",),
        ),
    )
}


def spec(name: str) -> VariantSpec:
    """The :class:`VariantSpec` of variant ``name``."""
    check_choice(name, "name", VARIANTS)
    return _BUILTIN[name]


def impls(name: str) -> tuple[str, ...]:
    """The implementations variant ``name`` offers: ``("textbook",)`` or
    ``("textbook", "fast")``."""
    return tuple(spec(name).factories)


def initial_params(n_features: int, seed: int = 0) -> tuple[F64, float]:
    """The initial ``(w, b)`` for every variant: ``U(-1/sqrt(D), 1/sqrt(D))``, the distribution
    ``nn.Linear(D, 1)`` uses by default, drawn with ``np.random.default_rng(seed)`` (``w``
    first, then ``b``) in float64. A model rounds them to its own dtype."""
    n = check_int(n_features, "n_features", 1)
    rng = np.random.default_rng(check_int(seed, "seed", 0))
    bound = 1.0 / np.sqrt(n)
    w = rng.uniform(-bound, bound, size=n)
    return w, float(rng.uniform(-bound, bound))


def check_device(device: Any, name: str, devices: tuple[str, ...]) -> str:
    """``device`` as a device string the variant ``name`` runs on and this machine has."""
    if "cuda" not in devices:
        if device != "cpu":
            raise ValueError(f"device must be 'cpu' for the {name} variant; got {device!r}")
        return "cpu"
    from lr_variants._backends import check_torch_device

    return check_torch_device(device)


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
    impl: str = "textbook",
) -> Model:
    """A new model of variant ``name`` (one of :data:`VARIANTS`) for ``n_features`` features.

    ``dtype`` is ``"float32"`` or ``"float64"``; ``device`` a torch device string (``"cpu"``,
    ``"cuda"``, ``"cuda:1"``; the numpy and scratch variants run only on ``"cpu"``); ``seed``
    picks the initial parameters, identical in every variant: with ``init="uniform"`` (default)
    :func:`initial_params` ``(n_features, seed)``; with ``init="article"`` the weight and bias
    ``nn.Linear(n_features, 1)`` draws right after ``torch.manual_seed(seed)``
    (:func:`lr_variants.article.article_init`, float32 values; imports torch), the reference
    article's initial parameters for ``seed=42``.

    The optimizer is ``torch.optim.SGD`` with ``lr`` (> 0), ``momentum``, ``dampening``,
    ``nesterov``, ``weight_decay`` and ``maximize`` as torch defines them (the rule is in
    ``lr_variants._sgd``): the module variant passes them to ``torch.optim.SGD``, the others
    apply the same rule by hand. Weight decay applies to ``w`` only unless ``decay_bias``: the
    objective is ``mean BCE + (weight_decay / 2) ||w||^2``. :meth:`Model.set_params` keeps the
    momentum buffers, as ``torch.optim.SGD`` keeps its state when parameters are overwritten in
    place; a new model starts without them. Every hyperparameter must be representable in
    ``dtype`` (``lr = 1e39`` overflows float32).

    ``impl`` picks the implementation: ``"textbook"`` (default) or, where :func:`impls` lists
    it, ``"fast"`` (same mathematics, tuned; ``docs/architecture.md``).

    Module variant only: ``loss="sigmoid_bce"`` trains on the reference article's
    ``nn.BCELoss()(sigmoid(z), y)`` instead of the stable loss from logits, and ``sgd_impl``
    picks torch's ``"for-loop"`` (default), ``"foreach"`` or ``"fused"`` SGD implementation.
    """
    variant = spec(name)
    check_choice(impl, "impl", IMPLS)
    if impl not in variant.factories:
        raise ValueError(
            f"impl must be one of {tuple(variant.factories)} for the {name} variant; got {impl!r}"
        )
    n = check_int(n_features, "n_features", 1)
    check_choice(dtype, "dtype", DTYPES)
    sgd = check_sgd_options(
        lr=lr,
        momentum=momentum,
        dampening=dampening,
        nesterov=nesterov,
        weight_decay=weight_decay,
        maximize=maximize,
        decay_bias=decay_bias,
        dtype=dtype,
    )
    options: dict[str, Any] = {}
    for option, value in (("loss", loss), ("sgd_impl", sgd_impl)):
        choices = variant.options.get(option)
        if choices is None:  # an option this variant does not have must stay at its default
            default = LOSSES[0] if option == "loss" else SGD_IMPLS[0]
            check_choice(value, option, LOSSES if option == "loss" else SGD_IMPLS)
            if value != default:
                raise ValueError(
                    f"{option} must be {default!r} for the {name} variant; got {value!r}"
                )
        else:
            options[option] = check_choice(value, option, choices)
    check_choice(init, "init", INITS)
    dev = check_device(device, name, variant.devices)
    if init == "article":
        from lr_variants.article import article_init

        w, b = article_init(n, seed)
    else:
        w, b = initial_params(n, seed)
    engine = variant.factory(impl)(w, b, sgd=sgd, dtype=dtype, device=dev, **options)
    return Model(name, engine, n_features=n, dtype=dtype, sgd=sgd, impl=impl, options=options)
