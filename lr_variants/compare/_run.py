"""Computing a comparison: every variant trained the same way on the same data
([`compare`][lr_variants.compare.compare]), and the pieces the article comparison and ``lr-variants
train`` share (``make_models``, ``run_all``, ``torch_threads``). Rendering is
``lr_variants.compare._render``'s."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from lr_variants import solver
from lr_variants._contain import PluginError
from lr_variants._model import Model
from lr_variants._threads import LARGE_BATCH_VALUES, check_threads
from lr_variants._threads import scope as thread_scope
from lr_variants._validate import F64, check_choice, check_data, check_int, max_abs
from lr_variants.compare._records import Comparison, Failure, Result, label
from lr_variants.data import standardize as _zscore
from lr_variants.registry import IMPLS, VARIANTS, create, spec
from lr_variants.registry import impls as offered_impls
from lr_variants.registry import variants as registered
from lr_variants.specs import resolve_all
from lr_variants.training import History, accuracy, train

# data of fewer values than this train on one CPU thread (lr_variants._threads: per batch)
SMALL_DATA = LARGE_BATCH_VALUES

Callback = Callable[[Model, int, float], None]

PLUGIN = "package.module:attribute"  # a variant given by its factory or gradient function


@contextlib.contextmanager
def torch_threads(threads: int | None, n_values: int) -> Iterator[int | None]:
    """For the duration: the CPU threads of torch and NumPy's BLAS as the one thread policy
    says (``lr_variants._threads``) for batches of ``n_values`` values: ``threads`` if given
    (and for every ``train`` inside), else ``LR_VARIANTS_THREADS``, else 1 under
    ``SMALL_DATA`` values and all the CPUs above; restored afterwards. Yields the number in
    force, or ``None`` if torch is not imported (call it after creating the models)."""
    with thread_scope(check_threads(threads), n_values) as decision:
        yield decision.threads if "torch" in sys.modules else None


def variant_names(names: Sequence[str] | None) -> list[str]:
    """``names`` (default: ``VARIANTS``) as registered variant names, at least one: each a
    name [`lr_variants.variants`][lr_variants.registry.variants] lists or a plug-in
    ``package.module:attribute`` (or ``label=package.module:attribute``), imported and registered
    (``lr_variants.specs.resolve_all``)."""
    names = list(VARIANTS if names is None else names)
    if not names:
        raise ValueError(f"variants must name at least one of {VARIANTS}; got none")
    for name in names:  # every name checked before any is imported
        if not (isinstance(name, str) and ":" in name):
            check_choice(name, "variants", (*registered(), PLUGIN))
    return resolve_all(names)


def make_models(
    variants: Sequence[str],
    n_features: int,
    *,
    impls: Sequence[str] = ("textbook",),
    extra: Callable[[str], dict[str, Any]] | None = None,
    failed: list[Failure] | None = None,
    **options: Any,
) -> tuple[list[Model], list[str]]:
    """The models [`compare`][lr_variants.compare.compare] trains, every option checked before any
    training: each of ``variants`` in each of ``impls`` it offers
    ([`lr_variants.impls`][lr_variants.registry.impls]), in that order, made by
    [`lr_variants.create`][lr_variants.registry.create] with ``options`` (``variants`` as
    ``variant_names`` takes them) and, where given, ``extra(name)``: more options per variant (the
    article adapter's, ``lr_variants.compare.article_options``).

    Returns ``(models, skipped)``. A fast implementation whose module cannot be loaded is left
    out and named in ``skipped`` when ``impls`` also holds ``"textbook"``, and so is a variant
    whose optional extra is not installed (numba) when others run beside it; asked for alone,
    its ``ImportError`` is raised. With a list ``failed``, a plug-in whose factory fails
    (``lr_variants._contain.PluginError``) is recorded there and left out."""
    names = variant_names(variants)
    wanted = list(impls)
    if not wanted:
        raise ValueError(f"impls must name at least one of {IMPLS}; got none")
    for impl in wanted:
        check_choice(impl, "impls", IMPLS)
    models: list[Model] = []
    skipped: list[str] = []
    unavailable = False  # something asked for could not be loaded (an extra, a module)
    for name in names:
        if not any(i in offered_impls(name) for i in wanted):  # said, not silently dropped
            skipped.append(
                f"{name}: no {' or '.join(wanted)} implementation (it has "
                f"{', '.join(offered_impls(name))})"
            )
        for impl in (i for i in wanted if i in offered_impls(name)):
            more = {} if extra is None else extra(name)
            if impl != "textbook" and "textbook" in wanted:
                try:  # load it first: only a missing or mismatched module is skipped
                    spec(name).factory(impl)
                except (ImportError, AttributeError) as exc:
                    skipped.append(f"{label(name, impl)}: cannot be loaded ({exc})")
                    unavailable = True
                    continue
            try:
                models.append(create(name, n_features, impl=impl, **options, **more))
            except PluginError as exc:
                if failed is None:
                    raise
                failed.append(Failure(name, impl, exc.phase, exc.error))
            except ImportError as exc:  # an optional extra: say so, train the others
                if len(names) == 1:
                    raise
                skipped.append(f"{label(name, impl)}: {exc}")
                unavailable = True
    if not models and failed:
        first = failed[0]
        raise PluginError(first.variant, first.phase, first.error)
    if not models and unavailable:
        raise ImportError("; ".join(skipped))
    if not models:
        fast = tuple(n for n in VARIANTS if "fast" in offered_impls(n))
        raise ValueError(
            f"impls must include an implementation that one of the variants {tuple(names)} "
            f"offers; got {tuple(wanted)} (only {fast} have a fast one)"
        )
    return models, skipped


def _fit(
    model: Model,
    X: F64,
    y: F64,
    train_options: dict[str, Any],
    callback: Callback | None,
) -> History:
    """Train ``model``; a diverging run raises FloatingPointError naming it."""
    name = label(model.name, model.impl)
    each_epoch = None
    if callback is not None:
        callback(model, 0, model.loss(X, y))

        def each_epoch(epoch: int, loss: float) -> None:
            callback(model, epoch, loss)

    try:
        history = train(model, X, y, callback=each_epoch, **train_options)
    except FloatingPointError as exc:
        raise FloatingPointError(f"{name}: {exc}") from None
    w, b = model.get_params()
    loss = model.loss(X, y)
    if not (np.isfinite(w).all() and math.isfinite(b) and math.isfinite(loss)):
        # the last step overflowed: its loss (taken before the step) was still finite
        raise FloatingPointError(
            f"{name}: training diverged: the final loss is {loss} with lr={model.lr}; lower lr "
            f"or standardize X (its largest |value| is {max_abs(X):.3g})"
        )
    return history


def run_all(
    models: list[Model],
    X: F64,
    y: F64,
    train_options: dict[str, Any],
    callback: Callback | None,
    failed: list[Failure] | None = None,
) -> list[tuple[Result, History]]:
    """Train each of ``models`` in turn: each one's result and history. Call it
    inside ``torch_threads``; NumPy's overflow warnings are silenced, as a diverging run is
    reported by FloatingPointError and they would only add lines before that one. With a list
    ``failed``, a run whose plug-in fails is recorded there and the others go on."""
    runs = []
    with np.errstate(all="ignore"):
        for model in models:
            try:
                history = _fit(model, X, y, train_options, callback)
                runs.append((_result(model, history, X, y), history))
            except PluginError as exc:
                if failed is None:
                    raise
                failed.append(Failure(model.name, model.impl, exc.phase, exc.error))
    return runs


def _result(model: Model, history: History, X: F64, y: F64) -> Result:
    w, b = model.get_params()
    return Result(
        variant=model.name,
        impl=model.impl,
        w=w.tolist(),
        b=b,
        loss=model.loss(X, y),
        accuracy=accuracy(model, X, y),
        seconds=history.seconds,
        steps=history.n_steps,
        dtype=model.dtype,
        device=model.device,
    )


def optimum(X: F64, y: F64, weight_decay: float) -> tuple[solver.Solution | None, str]:
    """The exact minimizer of ``mean BCE + (weight_decay / 2) ||w||^2`` on ``(X, y)``, or
    ``None`` and why there is none (separated data, a rank-deficient ``X`` without a
    penalty)."""
    try:
        with np.errstate(all="ignore"):
            return solver.solve(X, y, weight_decay=weight_decay), ""
    except solver.SeparationError as exc:
        return None, f"none to compare with: {exc}"
    except ValueError as exc:  # rank problems: a constant or repeated column, too few rows
        return None, f"none: {exc}"


def compare(
    X: Any,
    y: Any,
    *,
    variants: Sequence[str] | None = None,
    impls: Sequence[str] = IMPLS,
    epochs: int = 100,
    batch_size: int | None = 32,
    lr: float = 0.1,
    seed: int = 42,
    dtype: str = "float32",
    device: str = "cpu",
    momentum: float = 0.0,
    dampening: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    standardize: bool = False,
    threads: int | None = None,
    data_label: str = "(X, y)",
    callback: Callback | None = None,
    keep_going: bool = False,
) -> Comparison:
    """Train each of ``variants`` (default: every one of
    [`lr_variants.VARIANTS`][lr_variants.registry.VARIANTS]) in each implementation of ``impls`` it
    offers (default ``("textbook", "fast")``: every variant as written from the textbook, plus its
    fast form where it has one; a fast form that cannot be imported is then skipped and named in
    ``Comparison.skipped``) on ``(X, y)``, with the same initial parameters (from ``seed``) and
    batches, and compare the results.

    Training options are those of [`lr_variants.create`][lr_variants.registry.create] and
    [`lr_variants.train`][lr_variants.training.train]; ``standardize`` z-scores every feature first
    ([`lr_variants.data.standardize`][]); ``threads`` sets the CPU threads for the run (default:
    ``LR_VARIANTS_THREADS``, else 1 for batches of under a million values, all the CPUs above;
    ``torch_threads``). ``data_label`` names the data in ``settings``. ``callback(model, epoch,
    loss)``, if given, is called with epoch 0 and the model's loss before each model trains, then
    after each of its epochs with that epoch's loss.

    The reference for ``max_abs_param_diff`` and ``time_ratio`` is numpy's textbook
    implementation when it ran, else the first run. A plug-in that fails raises its
    ``PluginError``; with ``keep_going``, it is recorded in
    ``Comparison.failed`` instead and the other runs go on (raised only when every run failed).
    Raises ``FloatingPointError`` naming the run if training diverges, and
    ``ValueError``/``TypeError`` for a bad argument, before any training.
    """
    X64, y64 = check_data(X, y)
    if standardize:
        X64 = _zscore(X64)[0]
    epochs = check_int(epochs, "epochs", 0)
    seed = check_int(seed, "seed", 0)
    if batch_size is not None:
        check_int(batch_size, "batch_size", 1)
    names = variant_names(variants)
    sgd: dict[str, Any] = {"momentum": momentum, "dampening": dampening, "nesterov": nesterov}
    sgd["weight_decay"] = weight_decay
    failed: list[Failure] | None = [] if keep_going else None
    models, skipped = make_models(
        names,
        X64.shape[1],
        impls=impls,
        failed=failed,
        lr=lr,
        dtype=dtype,
        device=device,
        seed=seed,
        **sgd,
    )
    train_options = {"epochs": epochs, "batch_size": batch_size, "seed": seed}
    per_batch = min(batch_size or len(y64), len(y64)) * X64.shape[1]
    with torch_threads(threads, per_batch) as used_threads:
        results = [r for r, _ in run_all(models, X64, y64, train_options, callback, failed)]
    if not results and failed:
        raise PluginError(failed[0].variant, failed[0].phase, failed[0].error)
    reference = next((r for r in results if (r.variant, r.impl) == ("numpy", "textbook")), None)
    ref = reference or results[0]
    best, why_none = optimum(X64, y64, weight_decay)
    finished = []
    for r in results:
        extra: dict[str, Any] = {
            "max_abs_param_diff": float(np.max(np.abs(r.theta - ref.theta))),
            "reference": ref.label,
            "time_ratio": r.seconds / ref.seconds if ref.seconds > 0 else None,
        }
        if best is not None:  # how far SGD stopped from the exact minimizer of its objective
            extra["optimum_distance"] = float(np.max(np.abs(r.theta - np.append(best.w, best.b))))
            extra["loss_gap"] = (
                solver.objective(X64, y64, r.w, r.b, weight_decay=weight_decay) - best.loss
            )
        finished.append(dataclasses.replace(r, **extra))
    run = {"dtype": dtype, "device": device, "article": False, "standardize": standardize}
    given = train_options | {"lr": lr} | run | sgd
    settings = settings_of(data_label, X64, given, names, impls, used_threads)
    return Comparison(settings, finished, best, why_none, skipped, failed or [])


def settings_of(
    data: str,
    X: F64,
    given: dict[str, Any],
    names: list[str],
    impls: Sequence[str],
    threads: int | None,
) -> dict[str, Any]:
    """The ``settings`` of a comparison, keys in the order the JSON output shows them: the
    data, ``given`` (the training options: epochs, batch size, seed, order if not shuffle; lr,
    dtype, device, article, standardize, the SGD options), the runs and torch's threads."""
    ordered: tuple[str, ...] = (
        "epochs",
        "batch_size",
        "lr",
        "seed",
        "dtype",
        "device",
        "article",
        "standardize",
    )
    ordered += ("momentum", "dampening", "nesterov", "weight_decay")
    return {
        "data": data,
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        **{key: given[key] for key in ordered},
        "variants": names,
        "impls": [i for i in IMPLS if i in impls],
        "order": given.get("order", "shuffle"),
        "threads": threads,
    }
