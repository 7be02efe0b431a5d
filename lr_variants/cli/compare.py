"""``lr-variants compare``: every variant on the same data and batches, side by side."""

from __future__ import annotations

import argparse

from lr_variants.cli import _common as c
from lr_variants.cli import _distributed
from lr_variants.compare import compare, compare_article
from lr_variants.data import standardize
from lr_variants.registry import IMPLS

HELP = "train every variant on the same data and batches; compare the results"
EXAMPLE = "lr-variants compare --variants numpy,module --epochs 50 --weight-decay 0.01"
DESCRIPTION = """\
Train every variant (or those --variants names) from the same initial parameters on the same
batches, and print one row per run: final loss, accuracy, training time and the largest
parameter difference from numpy's textbook run; where the objective has an exact minimizer
(lr-variants solve), also each run's distance from it and its loss gap. --impl both (the
default) runs each variant as written from the textbook and, for numpy, torch_manual, module
and numba, also its fast form, so the table shows what tuning buys. --article instead holds every
variant in article-exact mode against the reference article's own script. A run that diverges
ends with one line on stderr and exit status 1 (with --json: nothing on stdout). The time/ref
column is each run's training time over the reference row's. A plug-in
(package.module:attribute, or label=package.module:attribute to name it) that fails gets a row
saying so in one line (with --json: an entry of "failed"), the other rows train and print, and
the exit status is 1."""


def add_options(p: argparse.ArgumentParser) -> None:
    c.add_variants_option(p)
    c.add_impl_option(
        p,
        (*IMPLS, "both"),
        None,
        "textbook, fast, or both (default: both; textbook with --article): each variant in "
        "these implementations where it has them",
    )
    c.add_training_options(p)
    _distributed.add_compare_options(p)


def run(args: argparse.Namespace) -> int | None:
    names = c.variant_names(args.variants)
    impls = c.impl_list(args.impl or ("textbook" if args.article else "both"))
    if args.world_size is not None:
        _distributed.run_compare(args, names, impls)
        return None
    if args.article:
        c.check_article(args)
        with c.Progress(args) as progress:
            article = compare_article(
                variants=names, impls=impls, callback=progress, **c.options(args, c.ARTICLE_OPTIONS)
            )
        if args.json:
            c.emit_json(article.to_dict())
        else:
            c.emit(article.to_text())
        return None
    X, y = c.load(args, standardize=False)  # compare() standardizes, and says so
    with c.Progress(args) as progress:
        result = compare(
            X,
            y,
            variants=names,
            impls=impls,
            data_label=c.data_label(args),
            callback=progress,
            keep_going=True,  # a failing plug-in's row says why; the others train
            **c.options(args, c.COMPARE_OPTIONS),
        )
    trained_on = standardize(X)[0] if args.standardize else X
    for r in result.results:
        c.warn_if_not_converging(r.label, r.loss, trained_on, args)
    if args.json:
        out = result.to_dict()
        if isinstance(out["optimum"], str):
            out["optimum"] = c.flag_terms(out["optimum"])
        c.emit_json(out)
    else:
        c.emit(c.flag_terms(result.to_text()))
    return 1 if result.failed else 0
