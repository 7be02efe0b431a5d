"""Variant names as users write them: ``resolve`` turns a built-in or registered name, or
``package.module:attribute`` naming a variant factory or a gradient function, into the name of
a registered variant."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from lr_variants.registry import from_gradient, is_factory, register_variant, variants
from lr_variants.registry import spec as variant_spec

# the object each name was registered for by resolve(): resolving the same spec again, or
# another spec naming the same object, reuses the name
_RESOLVED: dict[str, Any] = {}


def resolve(spec: str) -> str:
    """The variant name ``spec`` stands for.

    A name [`lr_variants.variants`][lr_variants.registry.variants] lists is returned as it is.
    ``package.module:attribute`` is imported (from the current directory or installed packages) and
    registered: a factory (it takes keyword ``sgd``) with
    [`lr_variants.register_variant`][lr_variants.registry.register_variant], a gradient function
    ``fn(w, b, X, y, sample_weight)`` with
    [`lr_variants.from_gradient`][lr_variants.registry.from_gradient], under the attribute's name,
    or ``module_attribute`` (dots as underscores) where that name is built in or taken by another
    object. Anything else is a one-line ``ValueError``.
    """
    if not isinstance(spec, str):
        raise TypeError(f"variant must be a string; got {type(spec).__name__}")
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
    _RESOLVED[name] = obj
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
    try:
        obj = getattr(importlib.import_module(module), attr)
    except AttributeError:
        raise ValueError(f"{shape}: module {module!r} has no attribute {attr!r}") from None
    except Exception as exc:  # whatever the module raises on import: said in one line
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise ValueError(
            f"{shape}: cannot import {module!r}: {type(exc).__name__}: {first}"
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
