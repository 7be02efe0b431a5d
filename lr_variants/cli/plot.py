"""``lr-variants plot``: every variant's training drawn as PNG."""

from __future__ import annotations

import argparse
from typing import Any

from lr_variants._model import Model
from lr_variants.cli import _common as c
from lr_variants.compare import compare, label
from lr_variants.registry import IMPLS

HELP = (
    "train every variant once and draw loss curves beside each variant's distance from the "
    "reference, parameter trajectories and (2-D data) decision boundaries as PNG"
)
EXAMPLE = "lr-variants plot --out figures/ --variants numpy,module --epochs 20"
DESCRIPTION = """\
Train every variant (or those --variants names) once, as compare does, recording the loss and
the parameters after every epoch, and draw three pictures: the loss curves beside each
variant's distance from the reference run (numpy when it ran: the largest parameter difference
after every epoch, log scale, an exact 0 on the bottom line), the parameter trajectories and,
for 2-D data, the decision boundaries. --out names a .png file (all panels in one picture) or a
directory (loss.png, params.png, boundary.png; made if missing); each file is replaced whole
or left as it was. Needs matplotlib (the plot extra)."""


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR_OR_FILE",
        help="a .png file (all panels in one picture) or a directory (loss.png, params.png, "
        "boundary.png)",
    )
    c.add_variants_option(p)
    c.add_impl_option(p, (*IMPLS, "both"), "textbook", "implementations (default: textbook)")
    c.add_training_options(p)


def run(args: argparse.Namespace) -> None:
    names = c.variant_names(args.variants)
    try:
        from lr_variants import plot
    except ImportError as exc:
        raise ValueError(str(exc)) from None
    out = plot.check_out(args.out, "--out")  # before training: a bad path costs no time
    c.check_article(args)
    X, y = c.load(args, standardize=False)  # compare() standardizes
    recorders: dict[int, Any] = {}

    def record(model: Model, epoch: int, loss: float) -> None:
        if epoch == 0:  # before training: the initial parameters
            recorders[id(model)] = (model, plot.Recorder(model))
        else:
            recorders[id(model)][1](epoch, loss)

    with c.Progress(args, also=record) as progress:
        result = compare(
            X,
            y,
            variants=names,
            impls=c.impl_list(args.impl),
            data_label=c.data_label(args),
            callback=progress,
            **c.options(args, c.COMPARE_OPTIONS),
        )
    runs = []
    for model, recorder in recorders.values():
        run = recorder.run()
        runs.append(plot.Run(label(model.name, model.impl), run.epoch_loss, run.params))
    s = result.settings
    title = (
        f"data {s['data']} ({s['n_samples']}x{s['n_features']}"
        f"{', standardized' if args.standardize else ''}), epochs {s['epochs']}, batch "
        f"{s['batch_size']}, lr {s['lr']}, seed {s['seed']}, {s['dtype']} on {s['device']}"
    )
    trained_on = X if not args.standardize else _standardized(X)
    try:
        paths = plot.save_figures(
            runs, trained_on, y, out, title=title, name="--out", reference=result.reference
        )
    except ImportError as exc:  # matplotlib, the plot extra, is missing
        raise ValueError(str(exc)) from None
    if args.json:
        c.emit_json({"settings": s, "files": [str(p) for p in paths]})
        return
    for path in paths:
        c.emit(f"wrote {path}")


def _standardized(X: Any) -> Any:
    from lr_variants.data import standardize

    return standardize(X)[0]
