"""The variant table and [`create`][lr_variants.registry.create]: which variants exist, what each
declares it can do, and how a model of one is made.

A variant is a factory ``factory(w, b, *, sgd, dtype, device, **options)`` that returns an
object implementing [`lr_variants.protocol.Variant`][], registered with its
[`Capabilities`][lr_variants.declarations.Capabilities] (what it can do, as data:
[`capabilities`][lr_variants.registry.capabilities]); [`create`][lr_variants.registry.create]
validates every argument against that declaration, draws the initial parameters, calls the factory
and wraps the result in a [`Model`][lr_variants._model.Model]. Built-in variants are imported on
first use, so NumPy-only work never imports torch.

Built-in variants come in two implementations: ``impl="textbook"`` (default), the recipe as a
person writes it, and, for ``numpy``, ``torch_manual``, ``module`` and ``numba``,
``impl="fast"``: the same mathematics tuned for speed (``lr_variants.tuned``), checked against
the textbook recipe by the test suite and timed beside it by the benchmarks.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import numpy as np

from lr_variants._model import Model
from lr_variants._sgd import check_sgd_options
from lr_variants._validate import DTYPES, F64, check_choice, check_int
from lr_variants.declarations import EXTRA_OPTIONS, UNSUPPORTABLE, Capabilities, declared_by

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
LOSSES: tuple[str, ...] = EXTRA_OPTIONS["loss"]
SGD_IMPLS: tuple[str, ...] = EXTRA_OPTIONS["sgd_impl"]
INITS: tuple[str, ...] = ("uniform", "article")


@dataclass(frozen=True)
class VariantSpec:
    """How to make one variant, and what it declares it can do.

    ``factories`` maps each implementation (``"textbook"``, ``"fast"``) to its factory, or to
    ``"module:attribute"`` naming it (imported on first use); ``capabilities`` is its
    declaration ([`Capabilities`][lr_variants.declarations.Capabilities]), shared by its
    implementations.
    """

    name: str
    factories: dict[str, str | Callable[..., Any]]
    capabilities: Capabilities = field(default_factory=Capabilities)

    @property
    def devices(self) -> tuple[str, ...]:
        """The device types it runs on (``capabilities.devices``)."""
        return self.capabilities.devices

    @property
    def options(self) -> Mapping[str, tuple[str, ...]]:
        """The extra create() options it accepts, each with its values, the default first
        (``capabilities.options``)."""
        return self.capabilities.options

    def factory(self, impl: str) -> Callable[..., Any]:
        made = self.factories[impl]
        if isinstance(made, str):
            module, attr = made.split(":")
            made = getattr(importlib.import_module(module), attr)
        assert callable(made)
        return made


# what the built-in variants declare: every one's loss and gradient are sums over u_i
_CPU = Capabilities(linear_in_u=True)
_ANY_DEVICE = Capabilities(linear_in_u=True, devices=("cpu", "cuda"))
_GRAPH = dataclasses.replace(_ANY_DEVICE, loss_graph=True)  # autograd: torch records a graph
_BUILTIN: dict[str, VariantSpec] = {
    spec.name: spec
    for spec in (
        VariantSpec(
            "numpy",
            {
                "textbook": "lr_variants.textbook.numpy:NumpyLogisticRegression",
                "fast": "lr_variants.tuned.numpy_fast:FastNumpyLogisticRegression",
            },
            _CPU,
        ),
        VariantSpec(
            "autograd",
            {"textbook": "lr_variants.textbook.autograd:AutogradLogisticRegression"},
            _GRAPH,
        ),
        VariantSpec(
            "module",
            {
                "textbook": "lr_variants.textbook.module:ModuleLogisticRegression",
                "fast": "lr_variants.tuned.module_fast:fast_module",
            },
            dataclasses.replace(
                _GRAPH,
                data_parallel="ddp",  # its nn.Module under DistributedDataParallel
                owns_optimizer=True,  # torch.optim.SGD
                options={"loss": LOSSES, "sgd_impl": SGD_IMPLS},
            ),
        ),
        VariantSpec(
            "torch_manual",
            {
                "textbook": "lr_variants.textbook.torch_manual:TorchManualLogisticRegression",
                "fast": "lr_variants.tuned.torch_manual_fast:FastTorchManualLogisticRegression",
            },
            _ANY_DEVICE,
        ),
        VariantSpec(
            "scratch",
            {"textbook": "lr_variants.textbook.scratch:ScratchLogisticRegression"},
            dataclasses.replace(_CPU, loss_graph=True),  # the scratch engine's graph
        ),
        VariantSpec(
            "func", {"textbook": "lr_variants.textbook.func:FuncLogisticRegression"}, _ANY_DEVICE
        ),
        VariantSpec(
            "compiled",
            {"textbook": "lr_variants.textbook.compiled:CompiledLogisticRegression"},
            _ANY_DEVICE,
        ),
        VariantSpec(
            "numba",
            {
                "textbook": "lr_variants.textbook.numba_kernels:NumbaLogisticRegression",
                "fast": "lr_variants.tuned.numba_fast:FastNumbaLogisticRegression",
            },
            # train_epochs: one kernel call for many epochs; train_epoch: one for one epoch
            dataclasses.replace(_CPU, whole_epoch=True, in_place_epochs=True),
        ),
    )
}


# variants registered in this process (register_variant, from_gradient) or by installed
# packages (the entry-point group below, read once, on first use)
_REGISTERED: dict[str, VariantSpec] = {}
ENTRY_POINT_GROUP = "lr_variants.variants"


def register_variant(
    name: str,
    factory: Callable[..., Any],
    *,
    capabilities: Capabilities | None = None,
    **declared: Any,
) -> str:
    """Register ``factory`` as variant ``name``, usable wherever a built-in name is (``create``,
    ``train``, ``compare``, the estimator, ``save``/``load`` in this process); returns ``name``.

    ``factory(w, b, *, sgd, dtype, device)`` gets float64 initial parameters ``w`` (shape
    ``(D,)``) and ``b`` (a float), the [`SGDOptions`][lr_variants._sgd.SGDOptions], the dtype name
    and a device string, and returns an object implementing [`lr_variants.protocol.Variant`][]
    (it may own its update, as the module variant does).

    What it can do beyond the protocol is declared, never guessed: ``capabilities``
    ([`Capabilities`][lr_variants.declarations.Capabilities]), or its fields as keyword arguments
    (``devices=("cpu", "cuda")``, ``linear_in_u=True``, ``unsupported={"dampening"}``, ...),
    or, with neither, the ``lr_variants_capabilities`` attribute ``factory`` carries; else
    the conservative ``Capabilities()`` (per step, CPU only). Registering a name again
    replaces the earlier registration; a built-in name, or a name that is not a Python
    identifier, is a ``ValueError``.
    """
    _check_name(name)
    if not callable(factory):
        raise TypeError(f"factory must be callable; got {type(factory).__name__}")
    caps = _declaration(factory, capabilities, declared)
    _REGISTERED[name] = VariantSpec(name, {"textbook": factory}, caps)
    return name


def _check_name(name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"name must be a string; got {type(name).__name__}")
    if not name.isidentifier():
        raise ValueError(f"name must be a Python identifier such as 'my_variant'; got {name!r}")
    if name in _BUILTIN:
        raise ValueError(f"name must not be a built-in variant {VARIANTS}; got {name!r}")


def _declaration(obj: Any, capabilities: Any, declared: dict[str, Any]) -> Capabilities:
    """What a registration declares: ``capabilities``, or the keyword fields ``declared``, or
    the attribute ``obj`` carries, or the conservative default."""
    fields = tuple(f.name for f in dataclasses.fields(Capabilities))
    unknown = sorted(set(declared) - set(fields))
    if unknown:
        raise TypeError(f"unknown declaration {unknown[0]!r}; the declarations are {fields}")
    if capabilities is not None and declared:
        raise TypeError(
            f"declare with capabilities=... or with keyword arguments, not both; got both "
            f"(keywords {sorted(declared)})"
        )
    if capabilities is not None:
        if not isinstance(capabilities, Capabilities):
            raise TypeError(
                f"capabilities must be a lr_variants.Capabilities; got "
                f"{type(capabilities).__name__}"
            )
        return capabilities
    if declared:
        return Capabilities(**declared)
    return declared_by(obj) or Capabilities()


# a gradient function's variant (lr_variants._gradient): NumPy, per step, the library's SGD;
# only these may be declared for it
_GRADIENT_DECLARABLE = ("linear_in_u", "unsupported")


def from_gradient(
    fn: Callable[..., Any],
    name: str,
    *,
    linear_in_u: bool | None = None,
    unsupported: Any = None,
) -> str:
    """Register a loss-and-gradient function as variant ``name``; returns ``name``.

    ``fn(w, b, X, y, sample_weight)`` receives NumPy arrays in the model's dtype (``w`` shape
    ``(D,)``, ``b`` a 0-d array, ``X`` shape ``(N, D)``, ``y`` shape ``(N,)``, ``sample_weight``
    shape ``(N,)`` or ``None``) and returns ``(loss, grad_w, grad_b)``: the mean binary
    cross-entropy (the weighted mean ``sum(s l) / sum(s)`` with weights) and its gradient. The
    updates are the library's ``torch.optim.SGD`` rule, so every SGD option works
    (``lr_variants._gradient``). CPU only; no torch needed.

    Its declaration ([`Capabilities`][lr_variants.declarations.Capabilities]) is fixed but for two
    fields: ``linear_in_u=True`` where ``fn`` computes the sums ``sum(s l)`` and
    ``X^T (s (p - y))`` without dividing by ``sum(s)`` (so data-parallel ranks may pass their
    share of a batch's weights as they are), and ``unsupported``, the create() options it
    refuses. Not given, they come from ``fn``'s ``lr_variants_capabilities`` attribute, else
    the defaults (not linear, nothing unsupported).
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable; got {type(fn).__name__}")
    _check_name(name)
    carried = declared_by(fn)
    if carried is not None:
        fixed = {k: v for k, v in carried.declarations().items() if k not in _GRADIENT_DECLARABLE}
        if fixed != {k: v for k, v in Capabilities().declarations().items() if k in fixed}:
            raise ValueError(
                f"a gradient function may declare only {_GRADIENT_DECLARABLE} (its variant runs "
                f"per step on the CPU with the library's SGD); got {carried}"
            )
    caps = Capabilities(
        linear_in_u=(carried.linear_in_u if carried else False)
        if linear_in_u is None
        else linear_in_u,
        unsupported=(carried.unsupported if carried else frozenset())
        if unsupported is None
        else unsupported,
    )
    from lr_variants._contain import contained
    from lr_variants._gradient import GradientFunctionVariant, returning_arrays

    # every call into fn, and the reading of what it returns: lr_variants._contain
    guarded = contained(name, "gradient", returning_arrays(name, fn))

    def factory(w: F64, b: float, **options: Any) -> Any:
        return GradientFunctionVariant(w, b, fn=guarded, name=name, **options)

    factory.lr_variants_library = True  # type: ignore[attr-defined]  # not contained again
    return register_variant(name, factory, capabilities=caps)


def is_factory(obj: Callable[..., Any]) -> bool:
    """A variant factory takes keyword ``sgd``; a gradient function takes five positionals."""
    try:
        return "sgd" in inspect.signature(obj).parameters
    except (TypeError, ValueError):  # no signature to read (a builtin): call it a factory
        return True


_entry_points: dict[str, Any] | None = None  # name -> EntryPoint, read (not loaded) once


def _installed() -> dict[str, Any]:
    """The entry points of the group ``lr_variants.variants`` installed packages declare, by
    name, read once per process, never at ``import lr_variants``; none is imported here."""
    global _entry_points
    if _entry_points is None:
        _entry_points = {
            ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in _BUILTIN
        }
    return _entry_points


def _load_installed(name: str) -> None:
    """Import installed variant ``name`` (its entry point: a factory or a gradient function)
    and register it, contained (``lr_variants._contain``): a module that raises or exits
    is a ``ValueError`` (``SpecError``), now and whenever the name
    is asked for again."""
    from lr_variants import _contain

    if name in _BROKEN:
        raise _contain.SpecError(_BROKEN[name][0], _BROKEN[name][1])
    ep = _installed()[name]
    try:
        obj = _contain.call(name, "import", ep.load)
        if not callable(obj):
            raise _contain.PluginError(
                name, "import", f"{ep.value} is a {type(obj).__name__}, not callable"
            )
        if is_factory(obj):
            register_variant(name, obj)
        else:
            from_gradient(obj, name)
    except (_contain.PluginError, ValueError, TypeError) as exc:
        detail = exc.error if isinstance(exc, _contain.PluginError) else str(exc)
        message = f"variant {name!r} is installed but failed to load: {ep.value}: {detail}"
        original = exc.original if isinstance(exc, _contain.PluginError) else exc
        _BROKEN[name] = (message, original)
        raise _contain.SpecError(message, original) from None


_BROKEN: dict[str, tuple[str, BaseException | None]] = {}


def variants() -> tuple[str, ...]:
    """Every available variant name: the built-ins ([`VARIANTS`][lr_variants.registry.VARIANTS]),
    then the registered ones (this process's, then installed packages', listed without importing
    them)."""
    installed = tuple(n for n in _installed() if n not in _REGISTERED)
    return VARIANTS + tuple(_REGISTERED) + installed


def spec(name: str) -> VariantSpec:
    """The ``VariantSpec`` of variant ``name`` (built-in or registered); an installed
    variant is imported when its name is first asked for."""
    if isinstance(name, str) and name in _BUILTIN:
        return _BUILTIN[name]
    if isinstance(name, str) and name in _REGISTERED:
        return _REGISTERED[name]
    if isinstance(name, str) and name in _installed():
        _load_installed(name)
        return _REGISTERED[name]
    check_choice(name, "name", variants())
    raise AssertionError("unreachable: check_choice raised")


def capabilities(name: str) -> Capabilities:
    """What variant ``name`` (built-in or registered) declares it can do: its
    [`Capabilities`][lr_variants.declarations.Capabilities], e.g.
    ``capabilities("numba").whole_epoch`` or ``capabilities(name).unsupported`` (the create()
    options it refuses)."""
    return spec(name).capabilities


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
    """A new model of variant ``name`` (one of [`variants`][lr_variants.registry.variants]) for
    ``n_features`` features.

    ``dtype`` is ``"float32"`` or ``"float64"``; ``device`` a torch device string (``"cpu"``,
    ``"cuda"``, ``"cuda:1"``; the numpy and scratch variants run only on ``"cpu"``); ``seed``
    picks the initial parameters, identical in every variant: with ``init="uniform"`` (default)
    [`initial_params`][lr_variants.registry.initial_params] ``(n_features, seed)``; with
    ``init="article"`` the weight and bias ``nn.Linear(n_features, 1)`` draws right after
    ``torch.manual_seed(seed)`` (``lr_variants.article.article_init``, float32 values; imports
    torch), the reference article's initial parameters for ``seed=42``.

    The optimizer is ``torch.optim.SGD`` with ``lr`` (> 0), ``momentum``, ``dampening``,
    ``nesterov``, ``weight_decay`` and ``maximize`` as torch defines them (the rule is in
    ``lr_variants._sgd``): the module variant passes them to ``torch.optim.SGD``, the others
    apply the same rule by hand. Weight decay applies to ``w`` only unless ``decay_bias``: the
    objective is ``mean BCE + (weight_decay / 2) ||w||^2``.
    [`Model.set_params`][lr_variants._model.Model.set_params] keeps the momentum buffers, as
    ``torch.optim.SGD`` keeps its state when parameters are overwritten in place; a new model starts
    without them. Every hyperparameter must be representable in ``dtype`` (``lr = 1e39`` overflows
    float32).

    ``impl`` picks the implementation: ``"textbook"`` (default) or, where
    [`impls`][lr_variants.registry.impls] lists it, ``"fast"`` (same mathematics, tuned;
    ``docs/architecture.md``).

    What the variant accepts is what it declares
    ([`capabilities`][lr_variants.registry.capabilities]): ``device`` one of its ``devices``;
    ``loss`` and ``sgd_impl`` among the values its ``options`` list (only the module variant lists
    them: ``loss="sigmoid_bce"`` trains on the reference article's ``nn.BCELoss()(sigmoid(z), y)``
    instead of the stable loss from logits, and ``sgd_impl`` picks torch's ``"for-loop"`` (default),
    ``"foreach"`` or ``"fused"`` SGD implementation), else their defaults; and an option it declares
    ``unsupported`` only at its default (``ValueError`` otherwise, saying so).
    """
    variant = spec(name)
    declared = variant.capabilities
    check_choice(impl, "impl", IMPLS)
    if impl not in variant.factories:
        raise ValueError(
            f"impl must be one of {tuple(variant.factories)} for the {name} variant; got {impl!r}"
        )
    n = check_int(n_features, "n_features", 1)
    check_choice(dtype, "dtype", DTYPES)
    given_sgd = {
        "momentum": momentum,
        "dampening": dampening,
        "nesterov": nesterov,
        "weight_decay": weight_decay,
        "maximize": maximize,
        "decay_bias": decay_bias,
    }
    sgd = check_sgd_options(dtype, lr=lr, **given_sgd)
    for option in sorted(declared.unsupported):
        default = UNSUPPORTABLE[option]
        if given_sgd[option] != default:
            raise ValueError(
                f"{option} must be {default!r} for the {name} variant (declared unsupported); "
                f"got {given_sgd[option]!r}"
            )
    options: dict[str, Any] = {}
    for option, value in (("loss", loss), ("sgd_impl", sgd_impl)):
        known = EXTRA_OPTIONS[option]
        check_choice(value, option, known)
        accepted = declared.options.get(option)
        if accepted is None:  # an option this variant does not take must stay at its default
            if value != known[0]:
                raise ValueError(
                    f"{option} must be {known[0]!r} for the {name} variant; got {value!r}"
                )
        else:
            options[option] = check_choice(value, option, accepted)
    check_choice(init, "init", INITS)
    dev = check_device(device, name, declared.devices)
    if init == "article":
        from lr_variants.article import article_init

        w, b = article_init(n, seed)
    else:
        w, b = initial_params(n, seed)
    factory = variant.factory(impl)
    if name in _BUILTIN or getattr(factory, "lr_variants_library", False):
        engine = factory(w, b, sgd=sgd, dtype=dtype, device=dev, **options)
    else:  # a plug-in's factory and the object it makes: contained (lr_variants._contain)
        from lr_variants._contain import make

        engine = make(name, factory, w, b, sgd=sgd, dtype=dtype, device=dev, **options)
    return Model(
        name,
        engine,
        n_features=n,
        dtype=dtype,
        sgd=sgd,
        impl=impl,
        options=options,
        capabilities=declared,
    )
