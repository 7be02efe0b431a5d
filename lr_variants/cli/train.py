"""``lr-variants train``: one variant, printing what the reference article's script prints."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from lr_variants._validate import F64, max_abs
from lr_variants.cli import _common as c
from lr_variants.cli import _distributed
from lr_variants.compare import (
    article_options,
    label,
    make_models,
    printed_losses,
    torch_threads,
)
from lr_variants.registry import IMPLS, VARIANTS
from lr_variants.training import accuracy, train

HELP = "train one variant, printing the loss every 10 epochs and the accuracy"
EXAMPLE = "lr-variants train --variant numpy --epochs 30 --lr 0.05"
DESCRIPTION = """\
Train one variant and print what the reference article's script prints: the loss of the last
batch of every 10th epoch, each line as soon as that epoch ends, then the accuracy on all the
data. --json prints one JSON object instead (settings and result). With --article the variant
replays the article's run (its initial parameters, batch order and, for module, its loss); the
module variant then prints the article's own lines, bit for bit."""


def add_options(p: argparse.ArgumentParser) -> None:
    c.add_variant_option(
        p,
        "module",
        VARIANTS,
        "the variant: a built-in (the names in braces; default: module), a registered plug-in's "
        f"name, or {c.PLUGIN} naming a variant factory or gradient function, imported from the "
        "current directory (e.g. mymod:grad)",
    )
    c.add_impl_option(p, IMPLS, "textbook", "the implementation (default: textbook)")
    c.add_training_options(p)
    _distributed.add_train_options(p)


def run(args: argparse.Namespace) -> None:
    if args.distributed:
        _distributed.run_train(args, _run)
    else:
        _run(args)


def _run(args: argparse.Namespace) -> None:
    variant = c.resolve_variant(args.variant, "--variant")
    c.check_article(args)
    X, y = c.load(args)
    models, _ = make_models(
        [variant],
        X.shape[1],
        impls=(args.impl,),
        extra=article_options if args.article else None,
        **c.options(args, c.MODEL_OPTIONS),
    )
    model = models[0]
    name = label(model.name, model.impl)

    with c.Progress(args) as progress:

        def each_epoch(epoch: int, loss: float) -> None:
            progress(model, epoch, loss)

        def print_loss(epoch: int, batch_losses: F64) -> None:
            # as the article prints: every 10th epoch's last batch loss, from the record
            # (distributed: already summed over the ranks; only rank 0's stdout is kept)
            if not args.json and epoch % 10 == 0:
                progress.write(f"Epoch [{epoch}/{args.epochs}], Loss: {batch_losses[-1]:.4f}")

        progress(model, 0, float("nan"))
        # a diverging run is reported by train() itself: NumPy's overflow warnings would only
        # add lines before that one
        threads = torch_threads(args.threads, min(args.batch_size, len(X)) * X.shape[1])
        with threads as used_threads, np.errstate(all="ignore"):
            try:
                history = train(
                    model,
                    X,
                    y,
                    epochs=args.epochs,
                    batch_size=args.batch_size,
                    seed=args.seed,
                    order="article" if args.article else "shuffle",
                    callback=each_epoch,
                    batch_callback=print_loss,
                    distributed=args.distributed,
                )
            except FloatingPointError as exc:
                raise FloatingPointError(f"{name}: {exc}") from None
            final = model.loss(X, y)
    if not np.isfinite(final):
        raise FloatingPointError(
            f"{name}: training diverged: the final loss is {final} with lr={model.lr}; lower lr "
            f"or standardize X (its largest |value| is {max_abs(X):.3g})"
        )
    c.warn_if_not_converging(name, final, X, args)
    if args.json:
        w, b = model.get_params()
        summary = {
            "variant": model.name,
            "impl": model.impl,
            "w": w.tolist(),
            "b": b,
            "loss": final,
            "accuracy": accuracy(model, X, y),
            "seconds": history.seconds,
            "steps": history.n_steps,
            "dtype": model.dtype,
            "device": model.device,
        }
        if args.article:
            summary["printed_losses"] = printed_losses(history)
        c.emit_json({"settings": settings(args, X, used_threads), "result": summary})
        return
    c.emit(f"Accuracy: {accuracy(model, X, y):.4f}")


def settings(args: argparse.Namespace, X: Any, threads: int | None) -> dict[str, Any]:
    """The options that shaped a run, for JSON output."""
    return {
        "data": c.data_label(args),
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        "dtype": args.dtype,
        "device": args.device,
        "article": args.article,
        "standardize": args.standardize,
        "momentum": args.momentum,
        "dampening": args.dampening,
        "nesterov": args.nesterov,
        "weight_decay": args.weight_decay,
        "impls": [args.impl],
        "order": "article" if args.article else "shuffle",
        "threads": threads,
    }
