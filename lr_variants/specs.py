"""Variant specs: a variant name, or ``package.module:attribute`` naming a factory or a
loss-and-gradient function to register on the spot (what ``lr-variants check SPEC`` takes).

``resolve("numpy")`` returns ``"numpy"``; ``resolve("mypkg.mymod:grad")`` imports
``mypkg.mymod`` (from the current directory first, then installed packages), registers
``grad`` under the name ``"grad"`` (``"mymod_grad"`` if ``"grad"`` is already another variant's
name) with the same rule as the entry points (:func:`lr_variants.registry.is_factory`: a
callable taking keyword ``sgd`` is a factory, otherwise a gradient function), and returns that
name. Resolving the same spec twice gives the same name.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from lr_variants.registry import from_gradient, is_factory, register_variant, variants

# spec -> the name it was registered under in this process
_RESOLVED: dict[str, str] = {}


def resolve(spec: str) -> str:
    """The registered variant name for ``spec`` (a name from ``lr_variants.variants()``, or
    ``package.module:attribute``). ``ValueError`` (one line) for a spec that is neither, a
    module that cannot be imported or an attribute that is missing or not callable;
    ``TypeError`` if ``spec`` is not a string."""
    if not isinstance(spec, str):
        raise TypeError(f"spec must be a string; got {type(spec).__name__}")
    text = spec.strip()
    if ":" not in text:
        if text in variants():
            return text
        raise ValueError(
            f"spec must be a variant name from {variants()} or package.module:attribute; "
            f"got {spec!r}"
        )
    if text in _RESOLVED:
        return _RESOLVED[text]
    module_name, _, attr = text.partition(":")
    if not all(part.isidentifier() for part in module_name.split(".")) or not attr.isidentifier():
        raise ValueError(
            f"spec must be package.module:attribute with Python identifiers (e.g. "
            f"mypkg.mymod:grad); got {spec!r}"
        )
    obj = _load(module_name, attr, spec)
    name = attr if attr not in variants() else f"{module_name.rsplit('.', 1)[-1]}_{attr}"
    if name in variants():
        raise ValueError(
            f"spec {spec!r} would be registered as {name!r}, which is already a variant; "
            "register it under another name with lr_variants.register_variant"
        )
    if is_factory(obj):
        register_variant(name, obj)
    else:
        from_gradient(obj, name)
    _RESOLVED[text] = name
    return name


def _load(module_name: str, attr: str, spec: str) -> Any:
    """``module_name.attr``, importing the module with the current directory on ``sys.path``."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # the user's module: any import error is the spec's fault
        raise ValueError(
            f"spec {spec!r}: cannot import {module_name!r} ({type(exc).__name__}: {exc})"
        ) from None
    obj = getattr(module, attr, None)
    if obj is None:
        raise ValueError(f"spec {spec!r}: module {module_name!r} has no attribute {attr!r}")
    if not callable(obj):
        raise ValueError(
            f"spec {spec!r}: {attr!r} must be a variant factory or a gradient function; "
            f"got {type(obj).__name__}"
        )
    return obj
