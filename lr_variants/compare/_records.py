"""What a comparison holds: one [`Result`][lr_variants.compare.Result] per run, a
[`Comparison`][lr_variants.compare.Comparison] of them, and an ``ArticleComparison`` beside the
reference article's script. Data only; the text and JSON forms are
``lr_variants.compare._render``'s."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lr_variants import solver
from lr_variants._validate import F64
from lr_variants.compare import _render


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
    script's own prints. ``time_ratio``: ``seconds`` over the reference run's (``None`` when
    the reference took no measurable time)."""

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
    time_ratio: float | None = None

    @property
    def label(self) -> str:
        return label(self.variant, self.impl)

    @property
    def theta(self) -> F64:
        """``(w..., b)`` as one float64 array."""
        return np.array([*self.w, self.b])

    def to_dict(self) -> dict[str, Any]:
        """The JSON fields; the optional ones only where they apply."""
        return _render.result_dict(self)


@dataclass(frozen=True)
class Failure:
    """A run that failed because its plug-in did (``lr_variants._contain.PluginError``):
    the ``variant``, ``impl``, the ``phase`` it failed in and the ``error`` in one line."""

    variant: str
    impl: str
    phase: str
    error: str

    @property
    def label(self) -> str:
        return label(self.variant, self.impl)

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "impl": self.impl,
            "phase": self.phase,
            "error": self.error,
        }


@dataclass(frozen=True)
class Comparison:
    """What [`compare`][lr_variants.compare] returns: the ``settings`` that shaped the runs, one
    [`Result`][lr_variants.compare.Result] per model run, the exact ``optimum`` of the objective or,
    when there is none, ``optimum_error`` saying why, ``skipped``: the implementations left out,
    with why, and ``failed``: the runs whose plug-in failed ([`lr_variants.compare`][] with
    ``keep_going=True``)."""

    settings: dict[str, Any]
    results: list[Result]
    optimum: solver.Solution | None
    optimum_error: str = ""
    skipped: list[str] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)

    @property
    def reference(self) -> str:
        return self.results[0].reference if self.results else ""

    def to_dict(self) -> dict[str, Any]:
        """``{"settings", "results", "optimum", "skipped", "failed"}``: ``optimum`` is ``{"w",
        "b", "loss"}`` or the reason there is none; ``failed`` one ``{"variant", "impl",
        "phase", "error"}`` per failed run. Every number is finite (JSON-safe)."""
        return _render.comparison_dict(self)

    def to_text(self) -> str:
        """The settings on one line, then a table with one row per run."""
        return _render.comparison_text(self)


@dataclass(frozen=True)
class ArticleComparison:
    """What ``compare_article`` returns: ``settings``, the article script's own run
    (``article``: ``lr_variants.article.ArticleRun``) and one [`Result`][lr_variants.compare.Result]
    per model, each with ``printed_losses`` and its differences from the script's prints and
    parameters."""

    settings: dict[str, Any]
    article: Any
    results: list[Result]
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """``{"settings", "article", "results", "skipped"}``: ``article`` holds the script's
        printed ``epochs`` and ``losses``, its final ``w``, ``b`` and ``accuracy``."""
        return _render.article_dict(self)

    def to_text(self) -> str:
        """The script's printed losses beside each variant's, epoch by epoch, then the
        accuracies and the largest differences."""
        return _render.article_text(self)
