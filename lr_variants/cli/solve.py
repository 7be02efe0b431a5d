"""``lr-variants solve``: the exact minimizer of SGD's objective, by Newton's method."""

from __future__ import annotations

import argparse

from lr_variants import solver
from lr_variants.cli import _common as c

HELP = "the exact minimizer of mean BCE + (weight_decay/2)||w||^2 by Newton's method"
EXAMPLE = "lr-variants solve --weight-decay 0.001 --json"
DESCRIPTION = """\
Find the exact minimizer of mean BCE + (weight_decay/2)||w||^2 (the bias unpenalized), the
objective SGD minimizes, by Newton's method (IRLS), and print the estimates, their standard
errors when the penalty is 0, and the objective. Separated data have no finite unpenalized
minimizer: that is one line on stderr and exit status 2; pass --weight-decay > 0."""


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--weight-decay",
        "--l2",
        dest="weight_decay",
        type=float,
        default=0.0,
        help="L2 penalty on w, as compare's --weight-decay (default 0; --l2 is the same)",
    )
    p.add_argument("--tol", type=float, default=1e-10, help="gradient tolerance (1e-10)")
    p.add_argument("--max-iter", type=c.int_arg, default=100, help="Newton iterations (100)")
    c.add_data_option(p)
    c.flag(p, "--json", "print one JSON object")


def run(args: argparse.Namespace) -> None:
    X, y = c.load(args)
    sol = solver.solve(X, y, weight_decay=args.weight_decay, tol=args.tol, max_iter=args.max_iter)
    fields = {
        "w": sol.w.tolist(),
        "b": sol.b,
        "loss": sol.loss,
        "grad_norm": sol.grad_norm,
        "n_iter": sol.n_iter,
        "converged": sol.converged,
        "standard_errors": None if sol.standard_errors is None else sol.standard_errors.tolist(),
    }
    if args.json:
        out = {"l2": args.weight_decay, "weight_decay": args.weight_decay, "solution": fields}
        c.emit_json(out)
        return
    names = [f"w[{i}]" for i in range(len(sol.w))] + ["b"]
    se = sol.standard_errors
    iterations = f"{sol.n_iter} iterations, max |gradient| {sol.grad_norm:.3g}"
    lines = [f"Newton (IRLS), weight_decay = {args.weight_decay}: {iterations}"]
    lines.append(f"{'':<8} {'estimate':>14}" + (f" {'std. error':>12}" if se is not None else ""))
    for i, (name, value) in enumerate(zip(names, [*sol.w, sol.b], strict=True)):
        lines.append(f"{name:<8} {value:>14.8g}" + (f" {se[i]:>12.4g}" if se is not None else ""))
    lines.append(f"objective {sol.loss:.10g}" + ("" if sol.converged else " (NOT converged)"))
    c.emit("\n".join(lines))
