"""Pictures of training runs: loss curves beside each variant's distance from the reference,
parameter trajectories, decision boundaries (PNG).

>>> import lr_variants as lv
>>> from lr_variants import plot
>>> X, y = lv.two_blobs()
>>> runs = plot.trajectories([lv.create(v, 2) for v in ("numpy", "module")], X, y, epochs=20)
>>> paths = plot.save_figures(runs, X, y, "figures/")     # doctest: +SKIP

A ``Recorder`` is a [`lr_variants.train`][lr_variants.training.train] callback that keeps the
parameters after every epoch, so recording needs no change to the training loop. The variants agree,
so their loss curves lie on top of each other; ``draw_distance`` shows what the curves cannot: after
each epoch, the largest difference between a variant's parameters and the reference's (on a log
scale, where an exact 0 is drawn on a floor line that the axis labels ``0``). Files are written
atomically: a failed write leaves the previous picture as it was. matplotlib is an optional
dependency (``pip install 'lr_variants[plot]'``); this module imports it only when drawing,
through ``matplotlib.figure.Figure`` (no pyplot, no global state, no display needed).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from lr_variants._files import write_atomic
from lr_variants._model import Model
from lr_variants._validate import F64, check_data
from lr_variants.training import train

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# one look per variant, the same in every panel; the first lines are wider, so that where the
# curves coincide each one still shows around the ones drawn over it
_STYLES: list[dict[str, Any]] = [
    {"linewidth": 5.0, "linestyle": "-", "alpha": 0.45},
    {"linewidth": 3.2, "linestyle": (0, (6, 2)), "alpha": 0.8},
    {"linewidth": 2.2, "linestyle": (0, (3, 2)), "alpha": 0.9},
    {"linewidth": 1.6, "linestyle": (0, (1, 1.5)), "alpha": 1.0},
    {"linewidth": 1.0, "linestyle": (0, (4, 1, 1, 1)), "alpha": 1.0},
    {"linewidth": 0.8, "linestyle": "-", "alpha": 1.0},
    {"linewidth": 1.4, "linestyle": (0, (8, 2, 1, 2)), "alpha": 1.0},
    {"linewidth": 1.1, "linestyle": (0, (2, 3)), "alpha": 1.0},
]
# variants (as many as there are styles: the eight built-in ones each get their own look)
_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#1a1a80", "#6b8e23"]
_PARAM_COLORS = ["#222222", "#17becf", "#e377c2", "#bcbd22", "#7f7f7f", "#8c6d31"]  # none above
_OUTSIDE: dict[str, Any] = {
    "loc": "upper left",
    "bbox_to_anchor": (1.02, 1.0),
    "borderaxespad": 0.0,
}
_MAX_PARAMS = 6  # parameter trajectories drawn at most (the largest final |w|, and b)
COINCIDE = 1e-3  # relative difference below which two curves are drawn on top of each other


def _style(i: int) -> dict[str, Any]:
    """The line style of the ``i``-th variant (repeating after the eighth)."""
    return _STYLES[i % len(_STYLES)]


def _color(i: int) -> str:
    return _COLORS[i % len(_COLORS)]


@dataclass(frozen=True)
class Run:
    """One variant's training: ``epoch_loss[e]`` (``e = 0 .. E-1``) and ``params[e]``, the
    parameters ``(w..., b)`` after ``e`` epochs (``params[0]``: before training)."""

    name: str
    epoch_loss: F64
    params: F64


class Recorder:
    """A [`lr_variants.train`][lr_variants.training.train] callback recording the epoch losses and
    the parameters after every epoch (one device read per epoch)."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.losses: list[float] = []
        self.params: list[F64] = [self._params()]

    def _params(self) -> F64:
        w, b = self.model.get_params()
        return np.append(w, b)

    def __call__(self, epoch: int, loss: float) -> None:
        self.losses.append(loss)
        self.params.append(self._params())

    def run(self) -> Run:
        return Run(self.model.name, np.array(self.losses), np.array(self.params))


def trajectories(models: Sequence[Model], X: Any, y: Any, **train_options: Any) -> list[Run]:
    """Train each model on ``(X, y)`` with [`lr_variants.train`][lr_variants.training.train]
    (``train_options`` passed on), recording every epoch."""
    runs = []
    for model in models:
        recorder = Recorder(model)
        train(model, X, y, callback=recorder, **train_options)
        runs.append(recorder.run())
    return runs


def _max_relative_difference(curves: Sequence[F64]) -> float:
    ref = curves[0]
    scale = np.maximum(np.abs(ref), np.finfo(np.float64).tiny)
    return max((float(np.max(np.abs(c - ref) / scale, initial=0.0)) for c in curves), default=0.0)


def _agreement(curves: Sequence[F64], what: str) -> str:
    if len(curves) < 2:
        return ""
    diff = _max_relative_difference(curves)
    if diff < COINCIDE:
        return f"the {len(curves)} {what} coincide (max relative difference {diff:.1e})"
    return f"the {what} differ by up to {diff:.1e} (relative)"


def draw_loss(ax: Axes, runs: Sequence[Run]) -> None:
    """Epoch loss against epoch, log scale, one line per variant."""
    for i, run in enumerate(runs):
        epochs = np.arange(1, len(run.epoch_loss) + 1)
        ax.plot(
            epochs,
            run.epoch_loss,
            color=_color(i),
            label=run.name,
            **_style(i),
        )
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean training loss in the epoch (log scale)")
    agreement = _agreement([r.epoch_loss for r in runs], "curves")
    ax.set_title("Loss per epoch" + (f"\n{agreement}" if agreement else ""), fontsize=10)
    ax.legend(title="variant", fontsize=8, loc="best")
    ax.grid(True, which="both", alpha=0.25)


def reference_index(runs: Sequence[Run], reference: str | None = None) -> int:
    """The run the others are measured against: the one named ``reference``; by default
    numpy's textbook run when there is one (as in [`lr_variants.compare`][]), else the
    first."""
    names = [r.name for r in runs]
    if reference is None:
        return names.index("numpy") if "numpy" in names else 0
    if reference not in names:
        raise ValueError(f"reference must name one of the runs {names}; got {reference!r}")
    return names.index(reference)


def distances(runs: Sequence[Run], reference: int = 0) -> list[F64]:
    """Per run, ``d[e] = max_j |params[e, j] - reference's params[e, j]|`` for ``e = 0 .. E``
    (epoch 0: before training)."""
    ref = runs[reference].params
    out = []
    for run in runs:
        if run.params.shape != ref.shape:
            raise ValueError(
                f"runs must have the same epochs and parameters; {run.name!r} has shape "
                f"{run.params.shape}, the reference {runs[reference].name!r} {ref.shape}"
            )
        out.append(np.max(np.abs(run.params - ref), axis=1))
    return out


def distance_floor(values: Sequence[F64]) -> float:
    """Where an exact 0 is drawn on the log scale: the decade below the smallest nonzero
    distance (1e-16 when every distance is 0)."""
    positive = [float(np.min(v[v > 0])) for v in values if np.any(v > 0)]
    if not positive:
        return 1e-16
    return float(10.0 ** (np.floor(np.log10(min(positive))) - 1))


def draw_distance(ax: Axes, runs: Sequence[Run], reference: int = 0) -> None:
    """Each variant's largest parameter difference from ``runs[reference]`` after every epoch,
    log scale; exact zeros on a floor line labelled ``0``, a decade below the smallest nonzero
    difference (a log scale has no 0). Styles as in ``draw_loss``."""
    from matplotlib.ticker import LogFormatterSciNotation

    ref = runs[reference].name
    others = [(i, run) for i, run in enumerate(runs) if i != reference]
    dist = distances(runs, reference)
    floor = distance_floor([dist[i] for i, _ in others])

    class ZeroAtFloor(LogFormatterSciNotation):
        def __call__(self, x: float, pos: int | None = None) -> str:
            return "0" if np.isclose(x, floor, rtol=1e-9, atol=0.0) else super().__call__(x, pos)

    for i, run in others:
        epochs = np.arange(len(dist[i]))
        ax.plot(
            epochs,
            np.maximum(dist[i], floor),
            color=_color(i),
            label=run.name,
            **_style(i),
        )
    ax.axhline(floor, color="0.5", linewidth=0.8, linestyle=":", label="_zero")
    largest = [(float(np.max(dist[i])), run.name) for i, run in others]
    # the limits before the log scale: autoscaling lines that all lie on the floor would warn
    ax.set_ylim(floor / 3, max([floor * 100] + [3 * d for d, _ in largest]))
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ZeroAtFloor())
    ax.set_xlabel("epoch (0: the initial parameters)")
    ax.set_ylabel(f"max |(w, b) - (w, b) of {ref}| (log scale; 0 on the bottom line)")
    if not others:
        summary = "no other variant to compare"
    elif max(largest)[0] == 0:
        summary = f"every variant is identical to {ref}, bit for bit, after every epoch"
    else:
        top, who = max(largest)
        exact = [name for d, name in largest if d == 0]
        summary = f"largest {top:.1e} ({who})" + (
            f"; {len(exact)} identical to {ref} (0)" if exact else ""
        )
    ax.set_title(f"Distance from {ref} after each epoch\n{summary}", fontsize=10)
    if others:
        ax.legend(title="variant", fontsize=8, loc="best")
    ax.grid(True, which="major", alpha=0.25)


def _shown_params(runs: Sequence[Run]) -> list[int]:
    """Indices into ``params`` to draw: every one if few, else b and the largest final |w|."""
    n = runs[0].params.shape[1]
    if n <= _MAX_PARAMS:
        return list(range(n))
    final_w = np.abs(runs[0].params[-1, :-1])
    return [*sorted(np.argsort(final_w)[::-1][: _MAX_PARAMS - 1].tolist()), n - 1]


def draw_params(ax: Axes, runs: Sequence[Run]) -> None:
    """Each parameter against epoch (epoch 0: the initial values): color = parameter, line style
    = variant (as in the other panels)."""
    from matplotlib.lines import Line2D

    shown = _shown_params(runs)
    n = runs[0].params.shape[1]
    names = [f"w[{j}]" if j < n - 1 else "b" for j in shown]
    for i, run in enumerate(runs):
        epochs = np.arange(len(run.params))
        for k, j in enumerate(shown):
            style = _style(i) | {"alpha": min(_style(i)["alpha"] + 0.2, 1.0)}
            ax.plot(epochs, run.params[:, j], color=_PARAM_COLORS[k], **style)
    ax.set_xlabel("epoch")
    ax.set_ylabel("parameter value")
    agreement = _agreement([r.params[:, shown].ravel() for r in runs], "trajectories")
    title = "Parameters after each epoch"
    if len(shown) < n:
        title += f" (b and the {len(shown) - 1} largest of {n - 1} weights)"
    ax.set_title(title + (f"\n{agreement}" if agreement else ""), fontsize=10)
    param_keys = [
        Line2D([], [], color=_PARAM_COLORS[k], linewidth=2, label=name)
        for k, name in enumerate(names)
    ]
    variant_keys = [
        Line2D([], [], color="0.3", label=run.name, **_style(i)) for i, run in enumerate(runs)
    ]
    first = ax.legend(handles=param_keys, title="parameter", fontsize=8, **_OUTSIDE)
    ax.add_artist(first)
    below = _OUTSIDE | {"loc": "lower left", "bbox_to_anchor": (1.02, 0.0)}
    ax.legend(handles=variant_keys, title="variant", fontsize=8, **below)
    ax.grid(True, alpha=0.25)


def draw_boundary(ax: Axes, runs: Sequence[Run], X: F64, y: F64) -> None:
    """The points of 2-D data by class, and each variant's final line ``w . x + b = 0``."""
    # grays and two marker shapes: the colors belong to the variants' lines
    for label, marker, gray in ((0, "o", "0.55"), (1, "^", "0.2")):
        rows = X[y == label]
        ax.scatter(
            rows[:, 0],
            rows[:, 1],
            s=9,
            marker=marker,
            color=gray,
            alpha=0.5,
            label=f"y = {label}",
            linewidths=0,
        )
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.05 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    for i, run in enumerate(runs):
        (w0, w1), b = run.params[-1, :2], run.params[-1, 2]
        if abs(w1) >= abs(w0):  # x2 as a function of x1, or x1 of x2 where the line is steep
            x1 = np.array([lo[0], hi[0]])
            x2 = -(w0 * x1 + b) / w1
        else:
            x2 = np.array([lo[1], hi[1]])
            x1 = -(w1 * x2 + b) / w0
        style = _style(i) | {"alpha": 1.0 if i else 0.6}
        ax.plot(x1, x2, color=_color(i), label=run.name, **style)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel("x[0]")
    ax.set_ylabel("x[1]")
    agreement = _agreement([r.params[-1] for r in runs], "lines")
    title = "Decision boundary w·x + b = 0 after training"
    ax.set_title(title + (f"\n{agreement}" if agreement else ""), fontsize=10)
    ax.legend(fontsize=8, markerscale=3, **_OUTSIDE)


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError("drawing needs matplotlib: pip install 'lr_variants[plot]'") from None


def figures(
    runs: Sequence[Run], X: Any, y: Any, *, title: str = "", reference: str | None = None
) -> dict[str, Figure]:
    """``{"loss": ..., "params": ..., "boundary": ...}`` (boundary only for 2-D data). The loss
    figure has two panels: the loss curves (``axes[0]``) and, beside them, each variant's
    distance from ``reference`` (``axes[1]``; see ``reference_index``)."""
    _require_matplotlib()
    from matplotlib.figure import Figure

    X64, y64 = check_data(X, y)
    if not runs:
        raise ValueError("runs must hold at least one Run; got none")
    ref = reference_index(runs, reference)
    distances(runs, ref)  # the same shapes, checked before drawing
    out = {}
    fig = Figure(figsize=(13, 5), layout="constrained")
    left, right = fig.subplots(1, 2)
    draw_loss(left, runs)
    draw_distance(right, runs, ref)
    out["loss"] = fig
    fig = Figure(figsize=(7, 5), layout="constrained")
    draw_params(fig.add_subplot(), runs)
    out["params"] = fig
    if X64.shape[1] == 2:
        fig = Figure(figsize=(7, 5), layout="constrained")
        draw_boundary(fig.add_subplot(), runs, X64, y64)
        out["boundary"] = fig
    if title:
        for fig in out.values():
            fig.suptitle(title, fontsize=9)
    return out


def check_out(out: str | os.PathLike[str], name: str = "out") -> Path:
    """``out`` as a place ``save_figures`` can write, checked before any work: a path ending
    in ``.png`` (a file: a regular one if it exists, so a FIFO or device is never opened) or a
    directory (an existing one, or a path with no suffix, to be made). ``name`` is the
    argument's name in the ``ValueError``."""
    text = os.fspath(out)
    if not text:
        raise ValueError(f"{name} must be a .png file or a directory; got an empty path")
    target = Path(text)
    if target.suffix.lower() == ".png":
        if target.exists() and not target.is_file():
            raise ValueError(
                f"{name} must be a regular .png file (or not exist yet); got {text!r}, which "
                "exists and is not a regular file"
            )
    elif not target.is_dir() and target.suffix:
        raise ValueError(
            f"{name} must end in .png (one file) or name a directory; got {text!r}, whose "
            f"suffix {target.suffix!r} is neither"
        )
    elif target.exists() and not target.is_dir():
        raise ValueError(f"{name} must be a .png file or a directory; got {text!r}, a file")
    return target


def _made_dir(path: Path, name: str, out: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(
            f"{name} must be a path this process can write; got {str(out)!r}: {exc}"
        ) from None


def _write_png(fig: Figure, path: Path, name: str, out: Path) -> None:
    """Draw ``fig`` into a temporary file beside ``path``, then move it over ``path``: a failed
    write (disk full, Ctrl-C, an error while drawing) leaves the old picture as it was."""
    if path.exists() and not path.is_file():  # a FIFO would block, a device take the bytes
        raise ValueError(f"{name}: {str(path)!r} exists and is not a regular file")

    def write(f: BinaryIO) -> None:
        fig.savefig(f, format="png", dpi=110)

    write_atomic(path, write, name=name)


def save_figures(
    runs: Sequence[Run],
    X: Any,
    y: Any,
    out: str | os.PathLike[str],
    *,
    title: str = "",
    name: str = "out",
    reference: str | None = None,
) -> list[Path]:
    """Write the pictures as PNG: to ``out`` itself, all panels in one picture (loss and
    distance above, parameters and boundary below), if it ends in ``.png``; else into the
    directory ``out`` (made if missing) as ``loss.png`` (loss curves and distances),
    ``params.png`` and, for 2-D data, ``boundary.png``. Returns the paths written; each file is
    written atomically. ``reference`` names the run distances are measured from
    (``reference_index``).

    ``out`` is checked by ``check_out``; a path that cannot be written (no permission, a
    file where a directory must be) is a ``ValueError`` naming ``name``, as is an existing
    target that is not a regular file."""
    _require_matplotlib()
    from matplotlib.figure import Figure

    target = check_out(out, name)
    if target.suffix.lower() == ".png":
        X64, y64 = check_data(X, y)
        if not runs:
            raise ValueError("runs must hold at least one Run; got none")
        ref = reference_index(runs, reference)
        distances(runs, ref)
        two_d = X64.shape[1] == 2
        fig = Figure(figsize=(13, 10.4), layout="constrained")
        # L: loss, D: distance, P: parameters, B: boundary (P spans the row without one)
        axes = fig.subplot_mosaic("LD;PB" if two_d else "LD;PP")
        draw_loss(axes["L"], runs)
        draw_distance(axes["D"], runs, ref)
        draw_params(axes["P"], runs)
        if two_d:
            draw_boundary(axes["B"], runs, X64, y64)
        if title:
            fig.suptitle(title, fontsize=10)
        _made_dir(target.parent, name, target)
        _write_png(fig, target, name, target)
        return [target]
    figs = figures(runs, X, y, title=title, reference=reference)
    _made_dir(target, name, target)
    paths = []
    for panel, fig in figs.items():
        path = target / f"{panel}.png"
        _write_png(fig, path, name, target)
        paths.append(path)
    return paths
