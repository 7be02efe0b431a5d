"""Command line: ``lr-variants compare`` (the main job) and ``lr-variants train``.

Bad input ends with one line on stderr and exit status 2; a diverging run with one line and
exit status 1; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np

import lr_variants as lv
from lr_variants._validate import F64


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line instead of usage + message
        self.exit(2, f"{self.prog}: error: {message}\n")


def _add_training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=int, default=100, help="passes over the data (default 100)")
    p.add_argument("--lr", type=float, default=0.1, help="SGD learning rate (default 0.1)")
    p.add_argument("--batch-size", type=int, default=32, help="rows per step (default 32)")
    p.add_argument(
        "--seed", type=int, default=42, help="seed of the initial parameters and batches (42)"
    )
    p.add_argument("--dtype", default="float32", help="float32 (default) or float64")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N")
    p.add_argument(
        "--data",
        metavar="FILE",
        help="CSV (last column is the label) or .npz with X and y; default: the article's blobs",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object and nothing else")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lr-variants",
        description="Train binary logistic regression several interchangeable ways.",
    )
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    compare = sub.add_parser(
        "compare", help="train every variant on the same data and batches; compare the results"
    )
    compare.add_argument(
        "--variants",
        default=",".join(lv.VARIANTS),
        help=f"comma-separated variants (default: {','.join(lv.VARIANTS)})",
    )
    _add_training_options(compare)
    train = sub.add_parser(
        "train", help="train one variant, printing the loss every 10 epochs and the accuracy"
    )
    train.add_argument("--variant", default="module", help="the variant (default: module)")
    _add_training_options(train)
    return parser


def _load(args: argparse.Namespace) -> tuple[F64, F64]:
    return lv.load_data(args.data) if args.data else lv.two_blobs()


def _create(name: str, X: F64, args: argparse.Namespace) -> lv.Model:
    return lv.create(
        name, X.shape[1], lr=args.lr, dtype=args.dtype, device=args.device, seed=args.seed
    )


def _fit(model: lv.Model, X: F64, y: F64, args: argparse.Namespace) -> tuple[lv.Model, lv.History]:
    history = lv.train(model, X, y, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed)
    return model, history


def _summary(model: lv.Model, history: lv.History, X: F64, y: F64) -> dict[str, Any]:
    w, b = model.get_params()
    return {
        "variant": model.name,
        "w": w.tolist(),
        "b": b,
        "loss": model.loss(X, y),
        "accuracy": lv.accuracy(model, X, y),
        "seconds": history.seconds,
        "steps": history.n_steps,
        "dtype": model.dtype,
        "device": model.device,
    }


def _settings(args: argparse.Namespace, X: F64) -> dict[str, Any]:
    return {
        "data": args.data or "two_blobs(500, seed=42)",
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        "dtype": args.dtype,
        "device": args.device,
    }


def run_compare(args: argparse.Namespace) -> None:
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    for name in names:  # reject a bad name before any training starts
        if name not in lv.VARIANTS:
            raise ValueError(f"--variants must name variants from {lv.VARIANTS}; got {name!r}")
    if not names:
        raise ValueError(f"--variants must name at least one of {lv.VARIANTS}; got nothing")
    X, y = _load(args)
    models = [_create(name, X, args) for name in names]  # every option checked before training
    results = [_summary(*_fit(model, X, y, args), X, y) for model in models]
    reference = next((r for r in results if r["variant"] == "numpy"), results[0])
    ref = np.array([*reference["w"], reference["b"]])
    for r in results:
        diff = np.max(np.abs(np.array([*r["w"], r["b"]]) - ref))
        r["max_abs_param_diff"] = float(diff)
        r["reference"] = reference["variant"]
    if args.json:
        print(json.dumps({"settings": _settings(args, X), "results": results}))
        return
    s = _settings(args, X)
    print(
        f"data {s['data']} ({s['n_samples']}x{s['n_features']}), epochs {s['epochs']}, "
        f"batch {s['batch_size']}, lr {s['lr']}, seed {s['seed']}, {s['dtype']} on {s['device']}"
    )
    header = f"{'variant':<12} {'final loss':>12} {'accuracy':>9} {'train s':>8}"
    print(f"{header} {'max |param diff| vs ' + reference['variant']:>28}")
    for r in results:
        print(
            f"{r['variant']:<12} {r['loss']:>12.6g} {r['accuracy']:>9.4f} {r['seconds']:>8.3f} "
            f"{r['max_abs_param_diff']:>28.3g}"
        )


def run_train(args: argparse.Namespace) -> None:
    lv._validate.check_choice(args.variant, "--variant", lv.VARIANTS)
    X, y = _load(args)
    model, history = _fit(_create(args.variant, X, args), X, y, args)
    if args.json:
        summary = _summary(model, history, X, y)
        print(json.dumps({"settings": _settings(args, X), "result": summary}))
        return
    # as the article's script: the last batch's loss of every 10th epoch, then the accuracy
    for epoch in range(9, args.epochs, 10):
        print(f"Epoch [{epoch + 1}/{args.epochs}], Loss: {history.batch_loss[epoch, -1]:.4f}")
    print(f"Accuracy: {lv.accuracy(model, X, y):.4f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        (run_compare if args.command == "compare" else run_train)(args)
    except (ValueError, TypeError) as exc:
        print(f"lr-variants: error: {exc}", file=sys.stderr)
        return 2
    except FloatingPointError as exc:
        print(f"lr-variants: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly, as other tools do
        sys.stderr.close()
        return 0
    return 0
