"""``lr-variants check SPEC``: the conformance suite (``lr_variants.testing``) on one variant."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lr_variants._validate import DTYPES
from lr_variants.cli import _common as c
from lr_variants.registry import IMPLS
from lr_variants.specs import resolve

DESCRIPTION = """\
Run the conformance suite on one variant: loss, gradients and probabilities against independent
float64 references (into saturation), sample weights, every torch.optim.SGD option over many
steps, and the contract (queries change nothing, state round-trips bit for bit, determinism,
rejected calls). SPEC is a variant name or package.module:attribute naming a variant factory or
a loss-and-gradient function (imported from the current directory or installed packages), or
label=package.module:attribute to name it label.
Besides the inputs Hypothesis draws, every check runs a fixed tier of edge cases (logits past
exp's overflow, 1,024 rows, 64 features, feature scales 1e-3 to 1e3). Prints a table, then one
block per root cause: the failed check with its smallest failing input, the reference's value
and the variant's, hints from the numbers, and the checks that fail because of it. On a
terminal, a progress line per check goes to stderr (never with --json). Exit status 0 when
every check passes (or is not applicable: --unsupported), 1 when any fails or none could run
(no device for the variant), 2 for bad input. Whatever the variant raises or exits with is a
finding; a call into it that outlives --plugin-timeout ends the check with one line and exit
status 1, never a pass. Needs Hypothesis (pip install 'lr_variants[test]')."""

HELP = "check a variant (yours: package.module:attribute) against the references"
EXAMPLE = "lr-variants check mypkg.mymod:loss_and_gradient --dtypes float64"


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "spec",
        metavar="SPEC",
        help="a variant name, package.module:attribute, or label=package.module:attribute",
    )
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
    p.add_argument(
        "--unsupported",
        default=None,
        metavar="OPTION,...",
        help="create() options the variant does not implement, e.g. dampening,nesterov: the "
        "checks that need them are reported not applicable (default: what the variant declares)",
    )
    c.add_impl_option(p, IMPLS, "textbook", "the implementation to check (default: textbook)")
    c.flag(p, "--json", "print one JSON object")
    c.add_plugin_options(p)


def run(args: argparse.Namespace) -> int:
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    for dt in dtypes:
        if dt not in DTYPES:
            raise ValueError(f"--dtypes must name dtypes from {DTYPES}; got {dt!r}")
    if not dtypes:
        raise ValueError(f"--dtypes must name at least one of {DTYPES}; got nothing")
    if args.max_examples is not None and args.max_examples < 1:
        raise ValueError(f"--max-examples must be at least 1; got {args.max_examples}")
    unsupported = None
    if args.unsupported is not None:
        unsupported = {o.strip() for o in args.unsupported.split(",") if o.strip()}
    name = resolve(args.spec)
    from lr_variants.testing import OPTIONS, ConformanceError, check_variant

    for option in unsupported or ():
        if option not in OPTIONS:
            raise ValueError(f"--unsupported must name options from {OPTIONS}; got {option!r}")
    progress = None if args.json or not sys.stderr.isatty() else _progress
    try:
        report = check_variant(
            name,
            impl=args.impl,
            dtypes=dtypes,
            max_examples=args.max_examples,
            unsupported=unsupported,
            progress=progress,
        )
        status = 0
    except ConformanceError as exc:
        assert exc.report is not None
        report, status = exc.report, 1
    if args.json:
        c.emit_json(report.to_dict())
    else:
        c.emit(str(report) + ("\n\n" + report.failure_message() if status else ""))
    return status


def _progress(k: int, total: int, check: str, result: Any) -> None:
    """One line per check on stderr (a terminal): its name as it starts, its result after."""
    if result is None:
        print(f"[{k}/{total}] {check} ...", end="", file=sys.stderr, flush=True)
    else:
        print(f" {result.status} ({result.seconds:.1f} s)", file=sys.stderr, flush=True)
