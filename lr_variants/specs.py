"""Variant names as users write them: ``resolve`` turns a built-in or registered name,
``package.module:attribute`` naming a variant factory or a gradient function, or
``label=package.module:attribute`` (the same, named ``label``), into the name of a registered
variant. The module is imported contained (``lr_variants._contain``): whatever it raises or
exits with is a one-line ``ValueError``, a hang past the time limit a ``PluginTimeout``."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from lr_variants import _contain
from lr_variants.registry import VARIANTS, from_gradient, is_factory, register_variant, variants
from lr_variants.registry import spec as variant_spec

# the object each name was registered for by resolve(): resolving the same spec again, or
# another spec naming the same object, reuses the name
_RESOLVED: dict[str, Any] = {}
# the package.module:attribute each name was registered from (worker processes resolve it)
_SPECS: dict[str, str] = {}


def spec_of(name: str) -> str | None:
    """The ``package.module:attribute`` that ``resolve`` registered ``name`` from, or
    ``None`` (a built-in, installed or otherwise registered name)."""
    return _SPECS.get(name)


def check_label(label: str, spec: str) -> str:
    """``label`` of ``label=spec`` as a variant name: a Python identifier, not a built-in
    variant's name."""
    if not label.isidentifier():
        raise ValueError(
            f"variant label must be a Python identifier such as 'mine' (label=package.module:"
            f"attribute); got {label!r} in {spec!r}"
        )
    if label in VARIANTS:
        raise ValueError(
            f"variant label must not be a built-in variant's name {VARIANTS}; got {label!r} in "
            f"{spec!r}"
        )
    return label


def check_labels(specs: list[str], name: str = "variants") -> None:
    """Every ``label=package.module:attribute`` of ``specs`` well formed (``check_label``)
    and no label given twice; nothing is imported."""
    seen: set[str] = set()
    for spec in specs:
        if not isinstance(spec, str) or "=" not in spec:
            continue
        label = check_label(spec.partition("=")[0].strip(), spec)
        if label in seen:
            raise ValueError(f"{name} must give each label once; got {label!r} twice")
        seen.add(label)


def resolve_all(specs: list[str], name: str = "variants") -> list[str]:
    """Each of ``specs`` resolved (``resolve``), the labels checked first
    (``check_labels``); a label that is also another entry's name is a ``ValueError``."""
    check_labels(specs, name)
    names = [resolve(spec) for spec in specs]
    labels = [s.partition("=")[0].strip() for s in specs if isinstance(s, str) and "=" in s]
    for label in labels:
        if names.count(label) > 1:
            raise ValueError(f"{name} must name each variant once; got {label!r} twice")
    return names


def check_importable(specs: list[str]) -> None:
    """Each ``package.module:attribute`` of ``specs`` (labels allowed) imported, as
    ``resolve`` would, but registered nowhere: a spec that does not resolve is its one-line
    error here (for a command that runs the variants in another process)."""
    for spec in specs:
        target = spec.partition("=")[2].strip() if "=" in spec else spec.strip()
        if ":" in target:
            _load(target)
        elif target not in variants():
            raise ValueError(
                f"variant must be one of {variants()} or package.module:attribute; got {target!r}"
            )


def register_as(name: str, spec: str) -> str:
    """Import ``spec`` (``package.module:attribute``) and register it as ``name`` as it is (a
    worker process repeating its launcher's ``resolve``)."""
    obj = _load(spec)
    _RESOLVED[name], _SPECS[name] = obj, spec
    return register_variant(name, obj) if is_factory(obj) else from_gradient(obj, name)


def resolve(spec: str) -> str:
    """The variant name ``spec`` stands for.

    A name [`lr_variants.variants`][lr_variants.registry.variants] lists is returned as it is.
    ``package.module:attribute`` is imported (from the current directory or installed packages) and
    registered: a factory (it takes keyword ``sgd``) with
    [`lr_variants.register_variant`][lr_variants.registry.register_variant], a gradient function
    ``fn(w, b, X, y, sample_weight)`` with
    [`lr_variants.from_gradient`][lr_variants.registry.from_gradient], under the attribute's name,
    or ``module_attribute`` (dots as underscores) where that name is built in or taken by another
    object; ``label=package.module:attribute`` registers it as ``label`` (a Python identifier, not a
    built-in name). Anything else is a one-line ``ValueError``.
    """
    if not isinstance(spec, str):
        raise TypeError(f"variant must be a string; got {type(spec).__name__}")
    if "=" in spec:
        label, _, target = spec.partition("=")
        label, target = check_label(label.strip(), spec), target.strip()
        if ":" not in target:
            raise ValueError(
                f"variant must be label=package.module:attribute; got {spec!r} (a label names a "
                "plug-in; a registered name needs none)"
            )
        if _RESOLVED.get(label) is _load(target) and _SPECS.get(label) == target:
            return label
        return register_as(label, target)
    if ":" not in spec:
        if spec not in variants():
            raise ValueError(
                f"variant must be one of {variants()} or package.module:attribute; got {spec!r}"
            )
        return spec
    obj = _load(spec)
    module, _, attr = spec.partition(":")
    for name in (attr, f"{module.replace('.', '_')}_{attr}"):
        if name not in variants():
            break
        if _RESOLVED.get(name) is obj or variant_spec(name).factories.get("textbook") is obj:
            return name
    else:
        raise ValueError(f"variant {spec!r}: the names {attr!r} and {name!r} are taken")
    _RESOLVED[name], _SPECS[name] = obj, spec
    return register_variant(name, obj) if is_factory(obj) else from_gradient(obj, name)


def _load(spec: str) -> Any:
    """The attribute ``package.module:attribute`` names, imported with the current directory
    first on ``sys.path``; callable."""
    module, _, attr = spec.partition(":")
    shape = f"variant must be package.module:attribute; got {spec!r}"
    if (
        not module
        or not attr.isidentifier()
        or not all(part.isidentifier() for part in module.split("."))
    ):
        raise ValueError(shape)
    here = os.getcwd()
    added = here not in sys.path
    if added:
        sys.path.insert(0, here)
    imported: Any = None
    try:  # the module's code runs here: contained (raise, sys.exit, a hang, prints)
        imported = _contain.call(spec, "import", importlib.import_module, module)
        obj = _contain.call(spec, "import", getattr, imported, attr)
    except _contain.PluginError as exc:
        lookup = isinstance(exc.original, AttributeError) and imported is not None
        if lookup and getattr(exc.original, "obj", None) is imported:
            raise _contain.SpecError(
                f"{shape}: module {module!r} has no attribute {attr!r}"
            ) from None
        raise _contain.SpecError(
            f"{shape}: cannot import {module!r}: {exc.error}", exc.original
        ) from None
    finally:
        if added:
            sys.path.remove(here)
    if not callable(obj):
        raise ValueError(
            f"{shape}: {attr} is a {type(obj).__name__}, not a variant factory or a gradient "
            "function fn(w, b, X, y, sample_weight)"
        )
    return obj
