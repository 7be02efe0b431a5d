"""What a variant declares it can do: [`Capabilities`][lr_variants.declarations.Capabilities], data
read instead of guessed (also ``lv.Capabilities``).

Every variant is registered with its declaration, as a scikit-learn estimator declares its
parameter constraints and tags: the built-ins in ``lr_variants.registry``, a plug-in through
[`lr_variants.register_variant`][lr_variants.registry.register_variant] (``capabilities=`` or the
fields as keyword arguments), [`lr_variants.from_gradient`][lr_variants.registry.from_gradient], or
an attribute ``lr_variants_capabilities`` on an entry point's factory or function.
[`lr_variants.capabilities`][lr_variants.registry.capabilities] returns it; so does
``Model.capabilities``. The library decides what to do with a variant from these fields alone, never
from its class, its module's name or which attributes it happens to have:

- ``whole_epoch``: it implements ``train_epoch``, a whole epoch of steps in one call on the
  epoch's reordered rows ([`lr_variants.protocol.EpochVariant`][]). Read by
  [`lr_variants.train`][lr_variants.training.train].
- ``in_place_epochs``: it implements ``train_epochs``, many epochs of steps in one call, the
  rows read where they lie in each epoch's order ([`lr_variants.protocol.EpochsVariant`][]);
  preferred to ``whole_epoch`` where both are declared. Read by
  [`lr_variants.train`][lr_variants.training.train].
- ``data_parallel``: how it trains under ``train(..., distributed=True)``: ``"gradients"``,
  per step through the protocol (its ``gradients`` on this rank's rows, one ``all_reduce``,
  the library's SGD rule, the parameters written back with ``set_params``); ``"ddp"``, its own
  ``nn.Module`` under ``DistributedDataParallel``, stepped by its own optimizer
  ([`lr_variants.protocol.ModuleVariant`][]). Either way each batch is split across the
  ranks. Read by the data-parallel engine (``lr_variants._data_parallel``).
- ``owns_optimizer``: it runs a torch optimizer itself instead of the library's SGD rule
  (``lr_variants._sgd``). Checked against ``data_parallel`` (``"ddp"`` steps the variant's
  own optimizer, so requires it); under ``"gradients"`` the library's rule, the same
  ``torch.optim.SGD`` rule, makes the update and the variant's optimizer state is written
  back through ``optimizer.set_state``.
- ``linear_in_u``: its loss and gradient are the sums ``sum_i u_i ...`` for any row weights
  ``u``, not only for ``u`` summing to 1, so a rank may pass its share of a batch's weights
  as they are (otherwise they are renormalized per rank and the results scaled back). Read by
  the data-parallel engine.
- ``loss_graph``: it implements ``loss_graph`` ([`lr_variants.protocol.GraphVariant`][]),
  which ``lv.explain`` reads. Read by ``Model.loss_graph``.
- ``devices``: the device types it runs on, from ``DEVICES``. Read by
  [`lr_variants.create`][lr_variants.registry.create], the conformance kit and the benchmarks.
- ``options``: the extra [`lr_variants.create`][lr_variants.registry.create] options it accepts,
  each with its allowed values (a subset of ``EXTRA_OPTIONS``' values that holds the default); an
  option it does not list must stay at its default. Read by
  [`lr_variants.create`][lr_variants.registry.create].
- ``unsupported``: [`lr_variants.create`][lr_variants.registry.create] options (from
  ``UNSUPPORTABLE``) it does not implement; [`lr_variants.create`][lr_variants.registry.create]
  refuses any value but the default with a ``ValueError`` saying the option is declared unsupported.
  Read by [`lr_variants.create`][lr_variants.registry.create].

The defaults are the conservative reading, what any object implementing the protocol
supports: per step, gradients all-reduced per step, the library's optimizer, not linear in
``u`` (the weights are renormalized per rank), no graph, CPU only, no extra option, every SGD
option supported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from lr_variants._sgd import SGDOptions

DATA_PARALLEL: tuple[str, ...] = ("gradients", "ddp")
DEVICES: tuple[str, ...] = ("cpu", "cuda")
# the extra options create() takes, each with every value it may have, the default first
EXTRA_OPTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"loss": ("stable", "sigmoid_bce"), "sgd_impl": ("for-loop", "foreach", "fused")}
)
# the create() options a variant may declare unsupported, each with its default
UNSUPPORTABLE: Mapping[str, Any] = MappingProxyType(
    {
        name: getattr(SGDOptions(), name)
        for name in ("momentum", "dampening", "nesterov", "weight_decay", "maximize", "decay_bias")
    }
)
ATTRIBUTE = "lr_variants_capabilities"  # where a factory or gradient function may carry one


@dataclass(frozen=True)
class Capabilities:
    """What one variant can do; every field is read by the library (the table above).

    ``Capabilities()`` is the conservative reading; a variant declares what it does beyond it,
    e.g. ``Capabilities(linear_in_u=True, devices=("cpu", "cuda"))``. Bad values raise
    ``TypeError``/``ValueError`` naming the field.
    """

    whole_epoch: bool = False
    in_place_epochs: bool = False
    data_parallel: str = "gradients"
    owns_optimizer: bool = False
    linear_in_u: bool = False
    loss_graph: bool = False
    devices: tuple[str, ...] = ("cpu",)
    options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    unsupported: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        flags = ("whole_epoch", "in_place_epochs", "owns_optimizer", "linear_in_u", "loss_graph")
        for name in flags:
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool; got {getattr(self, name)!r}")
        if not isinstance(self.data_parallel, str) or self.data_parallel not in DATA_PARALLEL:
            raise ValueError(
                f"data_parallel must be one of {DATA_PARALLEL}; got {self.data_parallel!r}"
            )
        if self.data_parallel == "ddp" and not self.owns_optimizer:
            raise ValueError(
                "data_parallel='ddp' needs owns_optimizer=True (DistributedDataParallel's ranks "
                "each step the variant's own optimizer); got owns_optimizer=False"
            )
        devices = self.devices
        if isinstance(devices, str) or not isinstance(devices, tuple | list):
            raise TypeError(f"devices must be a tuple such as ('cpu',); got {devices!r}")
        if not devices or any(d not in DEVICES for d in devices):
            raise ValueError(f"devices must be drawn from {DEVICES}; got {tuple(devices)!r}")
        object.__setattr__(self, "devices", tuple(dict.fromkeys(devices)))
        object.__setattr__(self, "options", MappingProxyType(_options(self.options)))
        object.__setattr__(self, "unsupported", _unsupported(self.unsupported))

    def declarations(self) -> dict[str, Any]:
        """The fields as plain data (``options`` a dict of lists, ``unsupported`` a sorted
        list), e.g. for JSON."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["devices"] = list(self.devices)
        out["options"] = {k: list(v) for k, v in self.options.items()}
        out["unsupported"] = sorted(self.unsupported)
        return out


def _options(options: Any) -> dict[str, tuple[str, ...]]:
    """``options`` checked: names from ``EXTRA_OPTIONS``, each with a non-empty tuple of
    its values that holds the default."""
    if not isinstance(options, Mapping):
        raise TypeError(
            f"options must be a mapping such as {{'loss': ('stable', 'sigmoid_bce')}}; got "
            f"{options!r}"
        )
    out = {}
    for name, values in options.items():
        if name not in EXTRA_OPTIONS:
            raise ValueError(
                f"options must name options among {tuple(EXTRA_OPTIONS)}; got {name!r}"
            )
        known = EXTRA_OPTIONS[name]
        if isinstance(values, str) or not isinstance(values, Iterable):
            raise TypeError(f"options[{name!r}] must be a tuple of values; got {values!r}")
        values = tuple(values)
        if any(v not in known for v in values) or known[0] not in values:
            raise ValueError(
                f"options[{name!r}] must be values from {known} including the default "
                f"{known[0]!r}; got {values!r}"
            )
        out[name] = values
    return out


def _unsupported(names: Any) -> frozenset[str]:
    """``names`` checked: create() options from ``UNSUPPORTABLE``."""
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise TypeError(
            f"unsupported must be a set of create() options such as {{'dampening'}}; got {names!r}"
        )
    out = frozenset(names)
    bad = sorted(str(n) for n in out if n not in UNSUPPORTABLE)
    if bad:
        raise ValueError(
            f"unsupported must name options among {tuple(UNSUPPORTABLE)}; got {bad[0]!r}"
        )
    return out


def declared_by(obj: Any) -> Capabilities | None:
    """The declaration ``obj`` (a factory or gradient function) carries as its attribute
    ``lr_variants_capabilities``: a [`Capabilities`][lr_variants.declarations.Capabilities], or a
    dict of its fields; ``None`` where it carries none."""
    found = getattr(obj, ATTRIBUTE, None)
    if found is None or isinstance(found, Capabilities):
        return found
    if isinstance(found, Mapping):
        try:
            return Capabilities(**found)
        except TypeError as exc:
            if "unexpected keyword" not in str(exc):
                raise
            raise TypeError(
                f"{ATTRIBUTE} must hold fields of Capabilities "
                f"{tuple(f.name for f in fields(Capabilities))}; got {sorted(found)}"
            ) from None
    raise TypeError(
        f"{ATTRIBUTE} must be a lr_variants.Capabilities or a dict of its fields; "
        f"got {type(found).__name__}"
    )
