"""lr_variants: binary logistic regression trained several interchangeable ways.

>>> import lr_variants as lv
>>> X, y = lv.two_blobs()
>>> model = lv.create("module", 2, lr=0.1, dtype="float64")
>>> history = lv.train(model, X, y, epochs=100, batch_size=32, seed=42)
>>> lv.accuracy(model, X, y) >= 0.99
True

Every variant starts from the same parameters
([`initial_params`][lr_variants.registry.initial_params]), sees the same batches
([`lr_variants.training.batch_plan`][]) and so follows the same trajectory up to rounding. Importing
this package does not import torch; creating a torch variant does.
"""

from __future__ import annotations

import importlib
from typing import Any

from lr_variants._contain import PluginError, PluginTimeout
from lr_variants._model import Model
from lr_variants._sgd import SGDOptions
from lr_variants._version import __version__ as __version__
from lr_variants.compare import compare
from lr_variants.data import load_data, two_blobs
from lr_variants.declarations import Capabilities
from lr_variants.io import load
from lr_variants.registry import (
    IMPLS,
    VARIANTS,
    capabilities,
    create,
    from_gradient,
    impls,
    initial_params,
    register_variant,
    variants,
)
from lr_variants.solver import SeparationError, Solution, solve
from lr_variants.training import History, accuracy, batch_plan, batches, train

__all__ = [
    "IMPLS",
    "VARIANTS",
    "Capabilities",
    "History",
    "Model",
    "PluginError",
    "PluginTimeout",
    "SGDOptions",
    "SeparationError",
    "Solution",
    "accuracy",
    "batch_plan",
    "batches",
    "capabilities",
    "compare",
    "create",
    "from_gradient",
    "impls",
    "initial_params",
    "load",
    "load_data",
    "register_variant",
    "solve",
    "train",
    "two_blobs",
    "variants",
]


def __getattr__(name: str) -> Any:
    # lv.explain (backward graphs, for studying autograd) is loaded on first use; lv.inspect is
    # its former name, kept so that existing code still runs
    if name in ("explain", "inspect"):
        return importlib.import_module("lr_variants.explain")
    raise AttributeError(f"module 'lr_variants' has no attribute {name!r}")
