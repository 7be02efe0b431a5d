"""``lr-variants check SPEC``: the conformance suite (``lr_variants.testing``) on one variant."""

from __future__ import annotations

import argparse

from lr_variants._validate import DTYPES
from lr_variants.cli import _common as c
from lr_variants.registry import IMPLS
from lr_variants.specs import resolve

DESCRIPTION = """\
Run the conformance suite on one variant: loss, gradients and probabilities against independent
float64 references (into saturation), sample weights, every torch.optim.SGD option over many
steps, and the contract (queries change nothing, state round-trips bit for bit, determinism,
rejected calls). SPEC is a variant name or package.module:attribute naming a variant factory or
a loss-and-gradient function (imported from the current directory or installed packages).
Prints a table; a failed check is listed with its smallest failing input, the reference's value
and the variant's. Exit status 0 when every check passes, 1 when any fails, 2 for bad input.
Needs Hypothesis (pip install 'lr_variants[test]')."""

HELP = "check a variant (yours: package.module:attribute) against the references"
EXAMPLE = "lr-variants check mypkg.mymod:loss_and_gradient --dtypes float64"


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC", help="a variant name or package.module:attribute")
    p.add_argument(
        "--dtypes",
        default="float64,float32",
        metavar="DTYPE,...",
        help="comma-separated dtypes to check, from float64,float32 (default: both)",
    )
    p.add_argument(
        "--max-examples",
        type=c.int_arg,
        default=None,
        help="Hypothesis examples per property (default: the kit's, sized for well under a "
        "minute for a NumPy gradient function)",
    )
    c.add_impl_option(p, IMPLS, "textbook", "the implementation to check (default: textbook)")
    c.flag(p, "--json", "print one JSON object")


def run(args: argparse.Namespace) -> int:
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    for dt in dtypes:
        if dt not in DTYPES:
            raise ValueError(f"--dtypes must name dtypes from {DTYPES}; got {dt!r}")
    if not dtypes:
        raise ValueError(f"--dtypes must name at least one of {DTYPES}; got nothing")
    if args.max_examples is not None and args.max_examples < 1:
        raise ValueError(f"--max-examples must be at least 1; got {args.max_examples}")
    name = resolve(args.spec)
    from lr_variants.testing import ConformanceError, check_variant

    try:
        report = check_variant(name, impl=args.impl, dtypes=dtypes, max_examples=args.max_examples)
        status = 0
    except ConformanceError as exc:
        assert exc.report is not None
        report, status = exc.report, 1
    if args.json:
        c.emit_json(report.to_dict())
    else:
        c.emit(str(report) + ("\n\n" + report.failure_message() if status else ""))
    return status
