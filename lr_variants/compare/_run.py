"""Every variant trained the same way on the same data, side by side: :func:`compare`.

```python
>>> import lr_variants as lv
>>> X, y = lv.two_blobs()
>>> c = lv.compare(X, y, variants=["numpy", "module"], impls=["textbook"], epochs=5)
>>> [(r.variant, r.impl) for r in c.results]
[('numpy', 'textbook'), ('module', 'textbook')]
>>> c.results[1].max_abs_param_diff < 1e-5      # float32: the same trajectory up to rounding
True

```

Each model starts from the same parameters and sees the same batches; the result holds, per
variant and implementation, the final parameters, loss, accuracy and training time, the largest
parameter difference from a reference run (numpy's textbook implementation when it ran) and,
where the objective has an exact minimizer (:func:`lr_variants.solver.solve`), the distance from
it. :func:`compare_article` holds every variant in article-exact mode against the reference
article's own script. ``lr-variants compare`` prints these results (``to_text``, ``to_dict``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lr_variants import solver
from lr_variants._model import Model
from lr_variants._validate import F64, check_choice, check_data, check_int
from lr_variants.data import standardize as _zscore
from lr_variants.data import two_blobs
from lr_variants.registry import IMPLS, VARIANTS, create, spec
from lr_variants.registry import impls as offered_impls
from lr_variants.registry import variants as registered
from lr_variants.specs import resolve
from lr_variants.training import History, accuracy, train

# torch variants run on one CPU thread for data under this many values: torch's tiny per-step
# operations only wait for each other on more (docs/benchmarks.md)
SMALL_DATA = 1_000_000

Callback = Callable[[Model, int, float], None]

PLUGIN = "package.module:attribute"  # a variant given by its factory or gradient function


def label(variant: str, impl: str) -> str:
    """How a run is named in tables and messages: ``"numpy"``, or ``"numpy (fast)"``."""
    return variant if impl == "textbook" else f"{variant} ({impl})"


@dataclass(frozen=True)
class Result:
    """One model's run: its final ``w``, ``b``; ``loss`` (mean BCE on all the data) and
    ``accuracy`` there; ``seconds`` of the training loop and its ``steps``; and
    ``max_abs_param_diff``, the largest ``|(w, b) - (w, b) of reference|``. Where an exact
    optimum exists, ``optimum_distance`` (largest ``|(w, b) - optimum|``) and ``loss_gap``
    (objective minus the optimum's); in article mode, ``printed_losses`` (what the article's
    script prints: the last batch's loss of every 10th epoch) and ``max_abs_loss_diff`` from the
    script's own prints."""

    variant: str
    impl: str
    w: list[float]
    b: float
    loss: float
    accuracy: float
    seconds: float
    steps: int
    dtype: str
    device: str
    max_abs_param_diff: float = 0.0
    reference: str = ""
    optimum_distance: float | None = None
    loss_gap: float | None = None
    printed_losses: list[float] | None = None
    max_abs_loss_diff: float | None = None

    @property
    def label(self) -> str:
        return label(self.variant, self.impl)

    @property
    def theta(self) -> F64:
        """``(w..., b)`` as one float64 array."""
        return np.array([*self.w, self.b])

    def to_dict(self) -> dict[str, Any]:
        """The JSON fields; the optional ones only where they apply."""
        out = {
            "variant": self.variant,
            "impl": self.impl,
            "w": self.w,
            "b": self.b,
            "loss": self.loss,
            "accuracy": self.accuracy,
            "seconds": self.seconds,
            "steps": self.steps,
            "dtype": self.dtype,
            "device": self.device,
            "max_abs_param_diff": self.max_abs_param_diff,
            "reference": self.reference,
        }
        for key in ("optimum_distance", "loss_gap", "printed_losses", "max_abs_loss_diff"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare` returns: the ``settings`` that shaped the runs, one :class:`Result`
    per model run, the exact ``optimum`` of the objective or, when there is none,
    ``optimum_error`` saying why, and ``skipped``: the implementations left out, with why."""

    settings: dict[str, Any]
    results: list[Result]
    optimum: solver.Solution | None
    optimum_error: str = ""
    skipped: list[str] = field(default_factory=list)

    @property
    def reference(self) -> str:
        return self.results[0].reference if self.results else ""

    def to_dict(self) -> dict[str, Any]:
        """``{"settings", "results", "optimum", "skipped"}``: ``optimum`` is ``{"w", "b",
        "loss"}`` or the reason there is none. Every number is finite (JSON-safe)."""
        optimum: Any = self.optimum_error
        if self.optimum is not None:
            optimum = {"w": self.optimum.w.tolist(), "b": self.optimum.b, "loss": self.optimum.loss}
        return {
            "settings": self.settings,
            "results": [r.to_dict() for r in self.results],
            "optimum": optimum,
            "skipped": self.skipped,
        }

    def to_text(self) -> str:
        """The settings on one line, then a table with one row per run."""
        s = self.settings
        batch = "full" if s["batch_size"] is None else s["batch_size"]
        lines = [
            f"data {s['data']} ({s['n_samples']}x{s['n_features']}"
            f"{', standardized' if s['standardize'] else ''}), epochs {s['epochs']}, "
            f"batch {batch}, lr {s['lr']}, seed {s['seed']}, {s['dtype']} on {s['device']}; "
            + sgd_text(s)
            + f"; {s['order']} order; impl {'+'.join(s['impls'])}; "
            + ("no torch" if s["threads"] is None else f"torch threads {s['threads']}")
        ]
        header = f"{'variant':<12} {'impl':<8} {'final loss':>12} {'accuracy':>9} {'train s':>8}"
        header += f" {'max |param diff| vs ' + self.reference:>28}"
        if self.optimum is not None:
            header += f" {'|theta - optimum|':>18} {'loss gap':>10}"
        lines.append(header)
        for r in self.results:
            line = (
                f"{r.variant:<12} {r.impl:<8} {r.loss:>12.6g} {r.accuracy:>9.4f} "
                f"{r.seconds:>8.3f} {r.max_abs_param_diff:>28.3g}"
            )
            if r.optimum_distance is not None and r.loss_gap is not None:
                line += f" {r.optimum_distance:>18.3g} {r.loss_gap:>10.3g}"
            lines.append(line)
        if self.optimum is None:
            lines.append(f"optimum: {self.optimum_error}")
        lines += [f"skipped: {why}" for why in self.skipped]
        return "\n".join(lines)


def sgd_text(settings: dict[str, Any]) -> str:
    """The optimizer's settings in words, for header lines."""
    s = settings
    return (
        f"SGD momentum {s['momentum']:g}, dampening {s['dampening']:g}, "
        f"nesterov {'on' if s['nesterov'] else 'off'}, weight decay {s['weight_decay']:g}"
    )


@contextlib.contextmanager
def torch_threads(threads: int | None, n_values: int) -> Iterator[int | None]:
    """For the duration: torch's CPU threads set to ``threads`` or, when ``None``, to 1 for data
    of under :data:`SMALL_DATA` values (left as they are above that); restored afterwards.
    Yields the number in force, or ``None`` if torch is not imported (nothing to set: call it
    after creating the models)."""
    if threads is not None:
        cpus = os.cpu_count() or 1
        check_int(threads, "threads", 1)
        if threads > cpus:
            raise ValueError(
                f"threads must be from 1 to {cpus} (this machine's CPU count); got {threads}"
            )
    if "torch" not in sys.modules:
        yield None
        return
    import torch

    before = torch.get_num_threads()
    wanted = threads if threads is not None else (1 if n_values < SMALL_DATA else before)
    torch.set_num_threads(wanted)
    try:
        yield wanted
    finally:
        torch.set_num_threads(before)


def variant_names(names: Sequence[str] | None) -> list[str]:
    """``names`` (default: :data:`VARIANTS`) as registered variant names, at least one: each a
    name :func:`lr_variants.variants` lists or a plug-in ``package.module:attribute``, imported
    and registered (:func:`lr_variants.specs.resolve`)."""
    names = list(VARIANTS if names is None else names)
    if not names:
        raise ValueError(f"variants must name at least one of {VARIANTS}; got none")
    for name in names:  # every name checked before any is imported
        if not (isinstance(name, str) and ":" in name):
            check_choice(name, "variants", (*registered(), PLUGIN))
    return [resolve(name) for name in names]


def make_models(
    variants: Sequence[str],
    n_features: int,
    *,
    impls: Sequence[str] = ("textbook",),
    article: bool = False,
    **options: Any,
) -> tuple[list[Model], list[str]]:
    """The models :func:`compare` trains, every option checked before any training: each of
    ``variants`` in each of ``impls`` it offers (:func:`lr_variants.impls`), in that order, made
    by :func:`lr_variants.create` with ``options`` (``variants`` as :func:`variant_names`
    takes them). ``article=True``: the article's initial
    parameters and, for the module variant, its loss (``docs/article.md``).

    Returns ``(models, skipped)``. A fast implementation whose module cannot be loaded is left
    out and named in ``skipped`` when ``impls`` also holds ``"textbook"``, and so is a variant
    whose optional extra is not installed (numba) when others run beside it; asked for alone,
    its ``ImportError`` is raised."""
    names = variant_names(variants)
    wanted = list(impls)
    if not wanted:
        raise ValueError(f"impls must name at least one of {IMPLS}; got none")
    for impl in wanted:
        check_choice(impl, "impls", IMPLS)
    models: list[Model] = []
    skipped: list[str] = []
    for name in names:
        for impl in (i for i in wanted if i in offered_impls(name)):
            extra: dict[str, Any] = {}
            if article:  # nn.Linear's init after torch.manual_seed(seed); the article's loss
                extra = {"init": "article"}
                if name == "module":
                    extra["loss"] = "sigmoid_bce"
            if impl != "textbook" and "textbook" in wanted:
                try:  # load it first: only a missing or mismatched module is skipped
                    spec(name).factory(impl)
                except (ImportError, AttributeError) as exc:
                    skipped.append(f"{label(name, impl)}: cannot be loaded ({exc})")
                    continue
            try:
                models.append(create(name, n_features, impl=impl, **options, **extra))
            except ImportError as exc:  # an optional extra: say so, train the others
                if len(names) == 1:
                    raise
                skipped.append(f"{label(name, impl)}: {exc}")
    if not models and skipped:
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
            f"or standardize X (its largest |value| is {float(np.max(np.abs(X))):.3g})"
        )
    return history


def _run_all(
    models: list[Model],
    X: F64,
    y: F64,
    train_options: dict[str, Any],
    callback: Callback | None,
) -> list[tuple[Result, History]]:
    """Train each of ``models`` in turn (:func:`_fit`): each one's result and history. Call it
    inside :func:`torch_threads`; NumPy's overflow warnings are silenced, as a diverging run is
    reported by FloatingPointError and they would only add lines before that one."""
    runs = []
    with np.errstate(all="ignore"):
        for model in models:
            history = _fit(model, X, y, train_options, callback)
            runs.append((_result(model, history, X, y), history))
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


def _no_optimum(exc: ValueError) -> str:
    # the solver names its penalty l2; compare's (and the command line's) is weight_decay
    return str(exc).replace("pass l2 > 0", "pass weight_decay > 0")


def optimum(X: F64, y: F64, weight_decay: float) -> tuple[solver.Solution | None, str]:
    """The exact minimizer of ``mean BCE + (weight_decay / 2) ||w||^2`` on ``(X, y)``, or
    ``None`` and why there is none (separated data, a rank-deficient ``X`` without a
    penalty)."""
    try:
        with np.errstate(all="ignore"):
            return solver.solve(X, y, l2=weight_decay), ""
    except solver.SeparationError as exc:
        return None, f"none to compare with: {_no_optimum(exc)}"
    except ValueError as exc:  # rank problems: a constant or repeated column, too few rows
        return None, f"none: {_no_optimum(exc)}"


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
) -> Comparison:
    """Train each of ``variants`` (default: every one of :data:`lr_variants.VARIANTS`) in each
    implementation of ``impls`` it offers (default ``("textbook", "fast")``: every variant as
    written from the textbook, plus its fast form where it has one; a fast form that cannot be
    imported is then skipped and named in ``Comparison.skipped``) on ``(X, y)``, with the same
    initial parameters (from ``seed``) and batches, and compare the results.

    Training options are those of :func:`lr_variants.create` and :func:`lr_variants.train`;
    ``standardize`` z-scores every feature first (:func:`lr_variants.data.standardize`);
    ``threads`` sets torch's CPU threads for the run (default: 1 for data of under a million
    values, torch's own setting above; :func:`torch_threads`). ``data_label`` names the data in
    ``settings``. ``callback(model, epoch, loss)``, if given, is called with epoch 0 and the
    model's loss before each model trains, then after each of its epochs with that epoch's loss.

    The reference for ``max_abs_param_diff`` is numpy's textbook implementation when it ran, else
    the first run. Raises ``FloatingPointError`` naming the run if training diverges, and
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
    models, skipped = make_models(
        names, X64.shape[1], impls=impls, lr=lr, dtype=dtype, device=device, seed=seed, **sgd
    )
    train_options = {"epochs": epochs, "batch_size": batch_size, "seed": seed}
    with torch_threads(threads, X64.size) as used_threads:
        results = [r for r, _ in _run_all(models, X64, y64, train_options, callback)]
    reference = next((r for r in results if (r.variant, r.impl) == ("numpy", "textbook")), None)
    ref = reference or results[0]
    best, why_none = optimum(X64, y64, weight_decay)
    finished = []
    for r in results:
        extra: dict[str, Any] = {
            "max_abs_param_diff": float(np.max(np.abs(r.theta - ref.theta))),
            "reference": ref.label,
        }
        if best is not None:  # how far SGD stopped from the exact minimizer of its objective
            extra["optimum_distance"] = float(np.max(np.abs(r.theta - np.append(best.w, best.b))))
            extra["loss_gap"] = solver.objective(X64, y64, r.w, r.b, l2=weight_decay) - best.loss
        finished.append(_replace(r, extra))
    run = {"dtype": dtype, "device": device, "article": False, "standardize": standardize}
    given = train_options | {"lr": lr} | run | sgd
    settings = _settings(data_label, X64, given, names, impls, used_threads)
    return Comparison(settings, finished, best, why_none, skipped)


def _settings(
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


def _replace(r: Result, fields: dict[str, Any]) -> Result:
    return dataclasses.replace(r, **fields)


@dataclass(frozen=True)
class ArticleComparison:
    """What :func:`compare_article` returns: ``settings``, the article script's own run
    (``article``: :class:`lr_variants.article.ArticleRun`) and one :class:`Result` per model,
    each with ``printed_losses`` and its differences from the script's prints and parameters."""

    settings: dict[str, Any]
    article: Any
    results: list[Result]
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        a = self.article
        mine = {
            "epochs": a.epochs,
            "losses": a.losses.tolist(),
            "w": a.w.tolist(),
            "b": a.b,
            "accuracy": a.accuracy,
        }
        return {
            "settings": self.settings,
            "article": mine,
            "results": [r.to_dict() for r in self.results],
            "skipped": self.skipped,
        }

    def to_text(self) -> str:
        s, a = self.settings, self.article
        lines = [
            "the article's script (DataLoader, nn.Module, nn.BCELoss, torch.optim.SGD; cpu) and "
            "every variant in article-exact mode",
            f"data two_blobs(500, seed=42) (1000x2), torch.manual_seed({s['seed']}), epochs "
            f"{s['epochs']}, batch {s['batch_size']}, lr {s['lr']}, float32, variants on "
            f"{s['device']}; impl {'+'.join(s['impls'])}; "
            + ("no torch" if s["threads"] is None else f"torch threads {s['threads']}"),
        ]
        width = max([13, *(len(r.label) + 2 for r in self.results)])
        heads = ["article", *(r.label for r in self.results)]
        lines.append(f"{'':<18}" + "".join(f"{c:>{width}}" for c in heads))
        for k, epoch in enumerate(a.epochs):
            row = [a.losses[k], *((r.printed_losses or [])[k] for r in self.results)]
            head = f"Epoch [{epoch}/{s['epochs']}]"
            lines.append(f"{head:<18}" + "".join(f"{v:>{width}.4f}" for v in row))
        row = [a.accuracy, *(r.accuracy for r in self.results)]
        lines.append(f"{'Accuracy':<18}" + "".join(f"{v:>{width}.4f}" for v in row))
        for key, name in (
            ("max_abs_param_diff", "max |param diff|"),
            ("max_abs_loss_diff", "max |loss diff|"),
        ):
            lines.append(
                f"{name:<18}{'-':>{width}}"
                + "".join(f"{getattr(r, key):>{width}.3g}" for r in self.results)
            )
        lines.append(
            "max |param diff|: final w and b against the article's; max |loss diff|: the printed "
            "losses at full float32 precision"
        )
        lines += [f"skipped: {why}" for why in self.skipped]
        return "\n".join(lines)


# what article-exact mode fixes: the article trains plain SGD in float32 on unscaled data
_ARTICLE = {"dtype": "float32", "article": True, "standardize": False, "momentum": 0.0}
_ARTICLE |= {"dampening": 0.0, "nesterov": False, "weight_decay": 0.0}


def printed_losses(history: History) -> list[float]:
    """What the article's script prints: the last batch's loss of every 10th epoch."""
    losses: list[float] = history.batch_loss[9::10, -1].tolist()
    return losses


def compare_article(
    *,
    variants: Sequence[str] | None = None,
    impls: Sequence[str] = ("textbook",),
    epochs: int = 100,
    batch_size: int = 32,
    lr: float = 0.1,
    seed: int = 42,
    device: str = "cpu",
    threads: int | None = None,
    callback: Callback | None = None,
) -> ArticleComparison:
    """Every variant in article-exact mode (the article's data, initial parameters, batch order
    and, for module, loss; float32, plain SGD) beside the reference article's own script
    (:func:`lr_variants.article.run_article_script`, run after the variants), each held against
    the script's printed losses and final parameters. Options as :func:`compare`; ``impls``
    defaults to the textbook forms, the article's recipe."""
    from lr_variants.article import run_article_script

    X, y = two_blobs()
    epochs = check_int(epochs, "epochs", 0)
    batch_size = check_int(batch_size, "batch_size", 1)
    seed = check_int(seed, "seed", 0)
    names = variant_names(variants)
    models, skipped = make_models(
        names, X.shape[1], impls=impls, article=True, lr=lr, device=device, seed=seed
    )
    train_options = {
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "order": "article",  # the article's DataLoader's row order
    }
    with torch_threads(threads, X.size) as used_threads:
        runs = [(r, printed_losses(h)) for r, h in _run_all(models, X, y, train_options, callback)]
        article = run_article_script(epochs, seed, lr=lr, batch_size=batch_size)
    ref = np.array([*article.w, article.b])
    results = []
    for r, printed in runs:
        loss_diff = np.abs(np.array(printed) - article.losses)
        extra = {
            "printed_losses": printed,
            "max_abs_param_diff": float(np.max(np.abs(r.theta - ref))),
            "max_abs_loss_diff": float(np.max(loss_diff, initial=0.0)),
            "reference": "article",
        }
        results.append(_replace(r, extra))
    given = train_options | {"lr": lr, "device": device} | _ARTICLE
    settings = _settings("two_blobs(500, seed=42)", X, given, names, impls, used_threads)
    return ArticleComparison(settings, article, results, skipped)
