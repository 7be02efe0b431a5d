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
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import numpy as np

from lr_variants._model import Model
from lr_variants._sgd import check_sgd_options
from lr_variants._validate import DTYPES, F64, check_choice, check_int

VARIANTS: tuple[str, ...] = (
    "numpy",
    "autograd",
    "module",
    "torch_manual",
    "scratch",
    "func",
    "compiled",
    "numba",
)
IMPLS: tuple[str, ...] = ("textbook", "fast")
LOSSES: tuple[str, ...] = ("stable", "sigmoid_bce")
SGD_IMPLS: tuple[str, ...] = ("for-loop", "foreach", "fused")
INITS: tuple[str, ...] = ("uniform", "article")


@dataclass(frozen=True)
class VariantSpec:
    """How to make one variant.

    ``factories`` maps each implementation (``"textbook"``, ``"fast"``) to its factory, or to
    ``"module:attribute"`` naming it (imported on first use); ``devices`` are the device types
    it runs on (``"cpu"`` only: it never imports torch); ``options`` are the extra keyword
    options it accepts, each with its allowed values, the first being the default.
    """

    name: str
    factories: dict[str, str | Callable[..., Any]]
    devices: tuple[str, ...] = ("cpu", "cuda")
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def factory(self, impl: str) -> Callable[..., Any]:
        made = self.factories[impl]
        if isinstance(made, str):
            module, attr = made.split(":")
            made = getattr(importlib.import_module(module), attr)
        assert callable(made)
        return made


_BUILTIN: dict[str, VariantSpec] = {
    spec.name: spec
    for spec in (
        VariantSpec(
            "numpy",
            {
                "textbook": "lr_variants.textbook.numpy:NumpyLogisticRegression",
                "fast": "lr_variants.tuned.numpy_fast:FastNumpyLogisticRegression",
            },
            devices=("cpu",),
        ),
        VariantSpec(
            "autograd", {"textbook": "lr_variants.textbook.autograd:AutogradLogisticRegression"}
        ),
        VariantSpec(
            "module",
            {
                "textbook": "lr_variants.textbook.module:ModuleLogisticRegression",
                "fast": "lr_variants.tuned.module_fast:fast_module",
            },
            options={"loss": LOSSES, "sgd_impl": SGD_IMPLS},
        ),
        VariantSpec(
            "torch_manual",
            {
                "textbook": "lr_variants.textbook.torch_manual:TorchManualLogisticRegression",
                "fast": "lr_variants.tuned.torch_manual_fast:FastTorchManualLogisticRegression",
            },
        ),
        VariantSpec(
            "scratch",
            {"textbook": "lr_variants.textbook.scratch:ScratchLogisticRegression"},
            devices=("cpu",),
        ),
        VariantSpec("func", {"textbook": "lr_variants.textbook.func:FuncLogisticRegression"}),
        VariantSpec(
            "compiled", {"textbook": "lr_variants.textbook.compiled:CompiledLogisticRegression"}
        ),
        VariantSpec(
            "numba",
            {"textbook": "lr_variants.textbook.numba_kernels:NumbaLogisticRegression"},
            devices=("cpu",),
        ),
    )
}


# variants registered in this process (register_variant, from_gradient) or by installed
# packages (the entry-point group below, read once, on first use)
_REGISTERED: dict[str, VariantSpec] = {}
ENTRY_POINT_GROUP = "lr_variants.variants"
_discovered = False


def register_variant(
    name: str, factory: Callable[..., Any], *, devices: tuple[str, ...] = ("cpu",)
) -> str:
    """Register ``factory`` as variant ``name``, usable wherever a built-in name is (``create``,
    ``train``, ``compare``, the estimator, ``save``/``load`` in this process); returns ``name``.

    ``factory(w, b, *, sgd, dtype, device)`` gets float64 initial parameters ``w`` (shape
    ``(D,)``) and ``b`` (a float), the :class:`~lr_variants.SGDOptions`, the dtype name and a
    device string, and returns an object implementing :class:`lr_variants.protocol.Variant`
    (it may own its update, as the module variant does). ``devices``: the device types it runs
    on, from ``("cpu", "cuda")``. Registering a name again replaces the earlier registration;
    a built-in name, or a name that is not a Python identifier, is a ``ValueError``.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string; got {type(name).__name__}")
    if not name.isidentifier():
        raise ValueError(f"name must be a Python identifier such as 'my_variant'; got {name!r}")
    if name in _BUILTIN:
        raise ValueError(f"name must not be a built-in variant {VARIANTS}; got {name!r}")
    if not callable(factory):
        raise TypeError(f"factory must be callable; got {type(factory).__name__}")
    if isinstance(devices, str) or not isinstance(devices, tuple | list):
        raise TypeError(f"devices must be a tuple such as ('cpu',); got {devices!r}")
    if not devices or any(d not in ("cpu", "cuda") for d in devices):
        raise ValueError(f"devices must be drawn from ('cpu', 'cuda'); got {tuple(devices)!r}")
    _REGISTERED[name] = VariantSpec(name, {"textbook": factory}, devices=tuple(devices))
    return name


def from_gradient(fn: Callable[..., Any], name: str) -> str:
    """Register a loss-and-gradient function as variant ``name``; returns ``name``.

    ``fn(w, b, X, y, sample_weight)`` receives NumPy arrays in the model's dtype (``w`` shape
    ``(D,)``, ``b`` a 0-d array, ``X`` shape ``(N, D)``, ``y`` shape ``(N,)``, ``sample_weight``
    shape ``(N,)`` or ``None``) and returns ``(loss, grad_w, grad_b)``: the mean binary
    cross-entropy (the weighted mean ``sum(s l) / sum(s)`` with weights) and its gradient. The
    updates are the library's ``torch.optim.SGD`` rule, so every SGD option works
    (:mod:`lr_variants._gradient`). CPU only; no torch needed.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable; got {type(fn).__name__}")
    from lr_variants._gradient import GradientFunctionVariant

    def factory(w: F64, b: float, **options: Any) -> Any:
        return GradientFunctionVariant(w, b, fn=fn, name=name, **options)

    return register_variant(name, factory, devices=("cpu",))


def is_factory(obj: Callable[..., Any]) -> bool:
    """A variant factory takes keyword ``sgd``; a gradient function takes five positionals."""
    try:
        return "sgd" in inspect.signature(obj).parameters
    except (TypeError, ValueError):  # no signature to read (a builtin): call it a factory
        return True


def _discover() -> None:
    """Register the variants installed packages declare in the entry-point group
    ``lr_variants.variants`` (name = variant name, value = a factory or a gradient function);
    once per process, never at ``import lr_variants``. A broken entry point is skipped here
    and reported when its name is asked for."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _BUILTIN or ep.name in _REGISTERED:
            continue  # a registration in this process wins over an installed one
        try:
            obj = ep.load()
            if is_factory(obj):
                register_variant(ep.name, obj)
            else:
                from_gradient(obj, ep.name)
        except Exception as exc:  # a third party's import error must not break the library
            _BROKEN[ep.name] = f"{ep.value}: {type(exc).__name__}: {exc}"


_BROKEN: dict[str, str] = {}


def variants() -> tuple[str, ...]:
    """Every available variant name: the built-ins (:data:`VARIANTS`), then the registered
    ones (this process's, then installed packages')."""
    _discover()
    return VARIANTS + tuple(_REGISTERED)


def spec(name: str) -> VariantSpec:
    """The :class:`VariantSpec` of variant ``name`` (built-in or registered)."""
    if isinstance(name, str) and name in _BUILTIN:
        return _BUILTIN[name]
    _discover()
    if isinstance(name, str) and name in _BROKEN:
        raise ValueError(f"variant {name!r} is installed but failed to load: {_BROKEN[name]}")
    if isinstance(name, str) and name in _REGISTERED:
        return _REGISTERED[name]
    check_choice(name, "name", variants())
    raise AssertionError("unreachable: check_choice raised")


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
    """A new model of variant ``name`` (one of :func:`variants`) for ``n_features`` features.

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
        dtype,
        lr=lr,
        momentum=momentum,
        dampening=dampening,
        nesterov=nesterov,
        weight_decay=weight_decay,
        maximize=maximize,
        decay_bias=decay_bias,
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
