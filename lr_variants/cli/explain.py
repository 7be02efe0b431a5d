"""``lr-variants explain``: one loss evaluation's backward graph, node by node."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np

from lr_variants import explain
from lr_variants._validate import DTYPES, check_int, check_real
from lr_variants.cli import _common as c
from lr_variants.explain import EXPLAINABLE
from lr_variants.registry import LOSSES, initial_params
from lr_variants.training import batches

HELP = "one loss evaluation's backward graph, node by node, checked against the chain rule"
EXAMPLE = "lr-variants explain --variant module --loss sigmoid_bce --saturate"
DESCRIPTION = """\
Evaluate the loss once on a small batch and walk its backward graph: every node, what it saved
for backward, the gradient it received and the gradients it sent, each checked against the
hand-derived dL/dz = (p - y)/N, naming the first node that disagrees. The batch is the first of
--rows rows that training with --seed would see which holds both labels, so that p - y takes
both signs (the first batch when none does). --loss sigmoid_bce shows the article's sigmoid +
BCELoss graph and --saturate where it loses the gradient; --second-order adds per-row
gradients and the Hessian; --forward-mode the gradient by forward mode beside reverse mode.
--image draws the graph as SVG (no dependency) or PNG (matplotlib, the plot extra); --dot
writes it as Graphviz DOT."""


def add_options(p: argparse.ArgumentParser) -> None:
    c.add_variant_option(
        p, "autograd", EXPLAINABLE, "the variant whose graph to show (default: autograd)"
    )
    p.add_argument(
        "--loss", default="stable", metavar=c.braces(LOSSES), help="the loss (default: stable)"
    )
    p.add_argument(
        "--rows",
        type=c.int_arg,
        default=4,
        help="batch size (4): the first batch holding both labels",
    )
    p.add_argument("--seed", type=c.int_arg, default=42, help="seed of the batch and w, b (42)")
    p.add_argument(
        "--dtype", default="float32", metavar=c.braces(DTYPES), help="floating point (float32)"
    )
    p.add_argument("--w", help="comma-separated weights (default: initial_params(D, seed))")
    p.add_argument("--b", type=float, help="the bias (default: initial_params(D, seed))")
    p.add_argument(
        "--saturate",
        type=float,
        nargs="?",
        const=30.0,
        metavar="Z",
        help="scale w, b so the largest |z| in the batch is Z (default 30: sigmoid saturates)",
    )
    c.flag(p, "--second-order", "also per-row gradients and the Hessian")
    c.flag(
        p,
        "--forward-mode",
        "also the gradient by forward mode (torch.func.jvp, one pass per parameter)",
    )
    c.add_data_option(p)
    p.add_argument("--dot", metavar="FILE", help="also write the graph as Graphviz DOT")
    p.add_argument(
        "--image",
        metavar="FILE.svg|FILE.png",
        help="also draw the graph: SVG needs nothing, PNG needs matplotlib (the plot extra)",
    )
    c.flag(p, "--json", "print one JSON object")
    c.flag(
        p,
        "--verbose",
        "also show each node's non-tensor arguments (torch's reduction, strides, ...)",
    )


def run(args: argparse.Namespace) -> None:
    if args.variant == "numpy":
        raise ValueError(
            f"--variant must be one of {explain.EXPLAINABLE}; got 'numpy', which computes its "
            "gradient by hand and records no graph to explain"
        )
    if args.variant not in explain.EXPLAINABLE:
        raise ValueError(f"--variant must be one of {explain.EXPLAINABLE}; got {args.variant!r}")
    rows = check_int(args.rows, "--rows", 1)
    dot = c.check_output_file(args.dot, "--dot") if args.dot is not None else None
    if args.image is not None:  # before any work: a bad suffix or a missing matplotlib
        from lr_variants.explain._image import image_format  # loaded only to draw

        c.check_output_file(args.image, "--image")
        image_format(args.image, "--image")
        if not Path(args.image).parent.is_dir():
            raise ValueError(f"--image must be in an existing directory; got {args.image!r}")
    if args.saturate is not None:
        check_real(args.saturate, "--saturate", minimum=0.0, strict=True)
    X, y = c.load(args)
    number, idx = _first_mixed_batch(y, rows, args.seed)
    w, b = initial_params(X.shape[1], args.seed)
    if args.w is not None:
        try:
            w = np.array([float(v) for v in args.w.split(",")])
        except ValueError:
            raise ValueError(f"--w must be comma-separated numbers; got {args.w!r}") from None
    b = b if args.b is None else args.b
    if args.saturate is not None:
        with np.errstate(all="ignore"):
            w, b = explain.saturating_params(X[idx], w, b, args.saturate)
        _check_scaled(np.append(w, b), args)
    e = explain.explain(args.variant, X[idx], y[idx], w, b, loss=args.loss, dtype=args.dtype)
    settings = {
        "data": c.data_label(args),
        "rows": [int(i) for i in idx],
        "seed": args.seed,
        "batch": number,
        "params": "given"
        if args.w is not None or args.b is not None
        else f"initial_params(D, {args.seed})",
        "saturate": args.saturate,
    }
    second = explain.second_order(X[idx], y[idx], e.w, e.b) if args.second_order else None
    fwd = explain.forward_mode(X[idx], y[idx], e.w, e.b) if args.forward_mode else None
    if dot is not None:
        try:
            with open(dot, "w") as f:
                f.write(e.to_dot())
        except OSError as exc:
            raise ValueError(f"--dot must be a writable file; got {args.dot!r}: {exc}") from None
        d = shlex.quote(args.dot)
        svg = shlex.quote(f"{args.dot.removesuffix('.dot')}.svg")
        _note(
            f"wrote {args.dot}: Graphviz draws it with `dot -Tsvg {d} -o {svg}`; "
            f"--image {svg} draws it without Graphviz"
        )
    if args.image is not None:
        e.save_image(args.image, name="--image")
        _note(f"wrote {args.image}")
    if args.json:
        out = {"settings": settings, "explanation": e.to_dict()}
        if second is not None:
            out["second_order"] = second
        if fwd is not None:
            out["forward_mode"] = fwd
        c.emit_json(explain.jsonable(out))
        return
    scaled = f", scaled so max |z| = {args.saturate:g}" if args.saturate is not None else ""
    which = f"the first batch of seed {args.seed}"
    if number > 1:
        which = f"batch {number} of seed {args.seed}, the first holding both labels"
    c.emit(
        f"lr-variants explain: rows {settings['rows']} of {settings['data']} ({which}); w, b: "
        f"{settings['params']}{scaled}"
    )
    c.emit(e.to_text(verbose=args.verbose))
    if second is not None:
        c.emit()
        c.emit(explain.second_order_text(second))
    if fwd is not None:
        c.emit()
        c.emit(explain.forward_mode_text(fwd))


def _note(text: str) -> None:
    """A line on stderr: where a file went (stdout holds the report, or one JSON object)."""
    print(text, file=sys.stderr, flush=True)


def _first_mixed_batch(y: Any, rows: int, seed: int) -> tuple[int, Any]:
    """The first batch of ``rows`` rows of the first epoch training with ``seed`` would see that
    holds both labels, numbered from 1, and its row indices; the first batch when none does
    (one row, or data of one label)."""
    plan = list(batches(len(y), epochs=1, batch_size=min(rows, len(y)), seed=seed))
    mixed = (k for k, idx in enumerate(plan) if len(np.unique(y[idx])) == 2)
    k = next(mixed, 0)
    return k + 1, plan[k]


def _check_scaled(theta: Any, args: argparse.Namespace) -> None:
    """--saturate scales w, b; the scaled values must fit the dtype (the user never gave them,
    so the message names --saturate, not w)."""
    limit = float(np.finfo(np.dtype(args.dtype)).max) if args.dtype in DTYPES else np.inf
    top = float(np.max(np.abs(theta)))
    if not np.isfinite(top) or top > limit:
        raise ValueError(
            f"--saturate must be small enough that the scaled w, b stay representable in "
            f"{args.dtype}; got {args.saturate:g}, which scales them to {top:.3g}"
        )
