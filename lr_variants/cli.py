"""Command line: ``lr-variants compare`` (the main job) and ``lr-variants train``.

Bad input ends with one line on stderr and exit status 2; a diverging run with one line and
exit status 1; never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn

import numpy as np

import lr_variants as lv
from lr_variants import solver
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
    p.add_argument("--momentum", type=float, default=0.0, help="SGD momentum (default 0)")
    p.add_argument("--dampening", type=float, default=0.0, help="momentum dampening (0)")
    p.add_argument("--nesterov", action="store_true", help="Nesterov momentum")
    p.add_argument("--weight-decay", type=float, default=0.0, help="L2 penalty on w (default 0)")
    p.add_argument("--dtype", default="float32", help="float32 (default) or float64")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: 1 for data of under a million values, where torch's "
        "tiny per-step ops only contend for cores; torch's own default above that)",
    )
    p.add_argument(
        "--data",
        metavar="FILE",
        help="CSV (last column is the label), .npz with X and y, or sklearn:breast_cancer "
        "(bundled with scikit-learn); default: the article's blobs",
    )
    p.add_argument(
        "--standardize",
        action="store_true",
        help="z-score every feature with the data's own mean and standard deviation",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object and nothing else")
    p.add_argument(
        "--quiet", action="store_true", help="no progress bar (none is drawn unless on a terminal)"
    )
    p.add_argument(
        "--article",
        action="store_true",
        help="article-exact mode: the reference article's init, batch order and loss "
        "(docs/article.md)",
    )


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
    compare.set_defaults(run=run_compare)
    train = sub.add_parser(
        "train", help="train one variant, printing the loss every 10 epochs and the accuracy"
    )
    train.add_argument("--variant", default="module", help="the variant (default: module)")
    _add_training_options(train)
    train.set_defaults(run=run_train)
    solve = sub.add_parser(
        "solve", help="the exact minimizer of mean BCE + (l2/2)||w||^2 by Newton's method"
    )
    solve.add_argument("--l2", type=float, default=0.0, help="L2 penalty on w (default 0)")
    solve.add_argument("--tol", type=float, default=1e-10, help="gradient tolerance (1e-10)")
    solve.add_argument("--max-iter", type=int, default=100, help="Newton iterations (100)")
    solve.add_argument("--data", metavar="FILE", help="as for compare")
    solve.add_argument("--json", action="store_true", help="print one JSON object")
    solve.set_defaults(run=run_solve)
    _add_explain_parser(sub)
    _add_plot_parser(sub)
    _add_bench_parser(sub)
    return parser


def _load(args: argparse.Namespace) -> tuple[F64, F64]:
    data = args.data
    if data and data.startswith("sklearn:"):
        try:
            X, y = lv.data.sklearn_data(data.removeprefix("sklearn:"))
        except ImportError as exc:  # a missing optional extra: one line, like bad input
            raise ValueError(str(exc)) from None
    else:
        X, y = lv.load_data(data) if data else lv.two_blobs()
    if getattr(args, "standardize", False):
        X = lv.data.standardize(X)[0]
    return X, y


def _pin_threads(name: str, X: F64, args: argparse.Namespace) -> None:
    """Set torch's CPU threads for a torch variant (the NumPy ones never import torch)."""
    threads = getattr(args, "threads", None)
    if threads is not None and threads < 1:
        raise ValueError(f"--threads must be >= 1; got {threads}")
    if name in ("numpy", "scratch") or (threads is None and X.size >= 1_000_000):
        return
    import torch

    torch.set_num_threads(threads or 1)


def _create(name: str, X: F64, args: argparse.Namespace) -> lv.Model:
    _pin_threads(name, X, args)
    return lv.create(
        name,
        X.shape[1],
        lr=args.lr,
        momentum=args.momentum,
        dampening=args.dampening,
        nesterov=args.nesterov,
        weight_decay=args.weight_decay,
        dtype=args.dtype,
        device=args.device,
        seed=args.seed,
        # article-exact mode: nn.Linear's init after torch.manual_seed(seed), and for the
        # module variant the article's loss, nn.BCELoss()(sigmoid(z), y)
        init="article" if args.article else "uniform",
        loss="sigmoid_bce" if args.article and name == "module" else "stable",
    )


def _fit(
    model: lv.Model,
    X: F64,
    y: F64,
    args: argparse.Namespace,
    callback: Callable[[int, float], None] | None = None,
) -> tuple[lv.Model, lv.History]:
    order = "article" if args.article else "shuffle"  # article: its DataLoader's row order
    # a diverging run is reported by train() itself: NumPy's overflow warnings would only add
    # lines before that one
    with _progress(args, model.name, callback) as each_epoch, np.errstate(all="ignore"):
        try:
            history = lv.train(
                model,
                X,
                y,
                epochs=args.epochs,
                batch_size=args.batch_size,
                seed=args.seed,
                order=order,
                callback=each_epoch,
            )
        except FloatingPointError as exc:  # say which variant
            raise FloatingPointError(f"{model.name}: {exc}") from None
    _warn_if_not_converging(model, X, y, args)
    return model, history


_PROGRESS_DELAY = 0.5  # seconds: a run shorter than this never draws a bar


@contextlib.contextmanager
def _progress(
    args: argparse.Namespace, label: str, callback: Callable[[int, float], None] | None
) -> Iterator[Callable[[int, float], None] | None]:
    """The train() callback: ``callback``, plus a tqdm bar on stderr when stderr is a terminal
    (never with --quiet or --json, or without tqdm, the ``progress`` extra)."""
    bar: Any = None
    if not (args.quiet or args.json) and sys.stderr.isatty():
        try:
            from tqdm import tqdm
        except ImportError:
            tqdm = None
        if tqdm is not None:
            bar = tqdm(
                total=args.epochs,
                desc=f"{label:<12}",
                unit="epoch",
                file=sys.stderr,
                leave=False,
                delay=_PROGRESS_DELAY,
                dynamic_ncols=True,
            )
    if bar is None:
        yield callback
        return

    def each_epoch(epoch: int, loss: float) -> None:
        bar.set_postfix_str(f"loss {loss:.4g}", refresh=False)
        bar.update(epoch - bar.n)
        if callback is not None:
            callback(epoch, loss)

    with bar:
        yield each_epoch


def _warn_if_not_converging(model: lv.Model, X: F64, y: F64, args: argparse.Namespace) -> None:
    """One line on stderr when training ended worse than predicting 1/2 for every row (loss
    log 2): SGD oscillates or is still far off, which a table of numbers does not show."""
    loss = model.loss(X, y)
    if loss > math.log(2):
        hint = "lower --lr" if args.standardize else "pass --standardize or lower --lr"
        print(
            f"lr-variants: warning: {model.name}: final loss {loss:.4g} is worse than "
            f"predicting 1/2 for every row (log 2 = 0.693): SGD did not converge "
            f"(lr {args.lr}, largest |feature| {float(np.max(np.abs(X))):.3g}); {hint}",
            file=sys.stderr,
        )


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
        "article": args.article,
        "standardize": args.standardize,
    }


def run_compare(args: argparse.Namespace) -> None:
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    for name in names:  # reject a bad name before any training starts
        if name not in lv.VARIANTS:
            raise ValueError(f"--variants must name variants from {lv.VARIANTS}; got {name!r}")
    if not names:
        raise ValueError(f"--variants must name at least one of {lv.VARIANTS}; got nothing")
    if args.article:
        _compare_article(args, names)
        return
    X, y = _load(args)
    models = [_create(name, X, args) for name in names]  # every option checked before training
    results = [_summary(*_fit(model, X, y, args), X, y) for model in models]
    reference = next((r for r in results if r["variant"] == "numpy"), results[0])
    ref = np.array([*reference["w"], reference["b"]])
    for r in results:
        diff = np.max(np.abs(np.array([*r["w"], r["b"]]) - ref))
        r["max_abs_param_diff"] = float(diff)
        r["reference"] = reference["variant"]
    optimum, why_none = _optimum(X, y, args.weight_decay)
    for r in results:
        if optimum is not None:  # how far SGD stopped from the exact minimizer of its objective
            theta = np.array([*r["w"], r["b"]])
            r["optimum_distance"] = float(np.max(np.abs(theta - [*optimum.w, optimum.b])))
            gap = solver.objective(X, y, r["w"], r["b"], l2=args.weight_decay) - optimum.loss
            r["loss_gap"] = gap
    if args.json:
        out = {"settings": _settings(args, X), "results": results, "optimum": why_none}
        if optimum is not None:
            out["optimum"] = {"w": optimum.w.tolist(), "b": optimum.b, "loss": optimum.loss}
        print(json.dumps(out))
        return
    s = _settings(args, X)
    print(
        f"data {s['data']} ({s['n_samples']}x{s['n_features']}"
        f"{', standardized' if s['standardize'] else ''}), epochs {s['epochs']}, "
        f"batch {s['batch_size']}, lr {s['lr']}, seed {s['seed']}, {s['dtype']} on {s['device']}"
    )
    header = f"{'variant':<12} {'final loss':>12} {'accuracy':>9} {'train s':>8}"
    header += f" {'max |param diff| vs ' + reference['variant']:>28}"
    print(header + (f" {'|theta - optimum|':>18} {'loss gap':>10}" if optimum else ""))
    for r in results:
        line = (
            f"{r['variant']:<12} {r['loss']:>12.6g} {r['accuracy']:>9.4f} {r['seconds']:>8.3f} "
            f"{r['max_abs_param_diff']:>28.3g}"
        )
        if optimum is not None:
            line += f" {r['optimum_distance']:>18.3g} {r['loss_gap']:>10.3g}"
        print(line)
    if optimum is None:
        print(f"optimum: {why_none}")


def _optimum(X: F64, y: F64, l2: float) -> tuple[solver.Solution | None, str]:
    """The exact minimizer of SGD's objective, or why there is none."""
    try:
        return solver.solve(X, y, l2=l2), ""
    except solver.SeparationError as exc:
        return None, f"none to compare with: {exc}"


def run_solve(args: argparse.Namespace) -> None:
    X, y = _load(args)
    sol = solver.solve(X, y, l2=args.l2, tol=args.tol, max_iter=args.max_iter)
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
        print(json.dumps({"l2": args.l2, "solution": fields}))
        return
    names = [f"w[{i}]" for i in range(len(sol.w))] + ["b"]
    se = sol.standard_errors
    iterations = f"{sol.n_iter} iterations, max |gradient| {sol.grad_norm:.3g}"
    print(f"Newton (IRLS), l2 = {args.l2}: {iterations}")
    print(f"{'':<8} {'estimate':>14}" + (f" {'std. error':>12}" if se is not None else ""))
    for i, (name, value) in enumerate(zip(names, [*sol.w, sol.b], strict=True)):
        print(f"{name:<8} {value:>14.8g}" + (f" {se[i]:>12.4g}" if se is not None else ""))
    print(f"objective {sol.loss:.10g}" + ("" if sol.converged else " (NOT converged)"))


_ARTICLE_SETTINGS = (  # what --article fixes: the article trains plain SGD in float32
    ("dtype", "float32"),
    ("momentum", 0.0),
    ("dampening", 0.0),
    ("nesterov", False),
    ("weight_decay", 0.0),
    ("standardize", False),
)


def _check_article(args: argparse.Namespace) -> None:
    """With ``--article``: reject the options the article's script has no counterpart for."""
    if not args.article:
        return
    if args.data:
        raise ValueError(
            f"--data cannot be used with --article (the article's data is "
            f"two_blobs(500, seed=42)); got {args.data!r}"
        )
    for name, value in _ARTICLE_SETTINGS:
        got = getattr(args, name, value)
        if got != value:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} must be {value!r} with --article; got {got!r}")


def _printed_losses(history: lv.History) -> list[float]:
    """What the article prints: the last batch's loss of every 10th epoch."""
    losses: list[float] = history.batch_loss[9::10, -1].tolist()
    return losses


def _compare_article(args: argparse.Namespace, names: list[str]) -> None:
    """``compare --article``: the article's own script, then every variant in article-exact
    mode, each held against the script's printed losses and final parameters."""
    from lr_variants.article import run_article_script

    _check_article(args)
    X, y = _load(args)
    models = [_create(name, X, args) for name in names]  # every option checked before training
    article = run_article_script(args.epochs, args.seed, lr=args.lr, batch_size=args.batch_size)
    ref = np.array([*article.w, article.b])
    results = []
    for model in models:
        model, history = _fit(model, X, y, args)
        r = _summary(model, history, X, y)
        r["printed_losses"] = _printed_losses(history)
        r["max_abs_param_diff"] = float(np.max(np.abs(np.array([*r["w"], r["b"]]) - ref)))
        loss_diff = np.abs(np.array(r["printed_losses"]) - article.losses)
        r["max_abs_loss_diff"] = float(np.max(loss_diff, initial=0.0))
        r["reference"] = "article"
        results.append(r)
    if args.json:
        mine = {
            "epochs": article.epochs,
            "losses": article.losses.tolist(),
            "w": article.w.tolist(),
            "b": article.b,
            "accuracy": article.accuracy,
        }
        print(json.dumps({"settings": _settings(args, X), "article": mine, "results": results}))
        return
    print(
        "the article's script (DataLoader, nn.Module, nn.BCELoss, torch.optim.SGD; cpu) and "
        "every variant in article-exact mode"
    )
    print(
        f"data two_blobs(500, seed=42) (1000x2), torch.manual_seed({args.seed}), epochs "
        f"{args.epochs}, batch {args.batch_size}, lr {args.lr}, float32, variants on {args.device}"
    )
    print(f"{'':<18}" + "".join(f"{c:>13}" for c in ["article", *names]))
    for k, epoch in enumerate(article.epochs):
        row = [article.losses[k], *(r["printed_losses"][k] for r in results)]
        print(f"{f'Epoch [{epoch}/{args.epochs}]':<18}" + "".join(f"{v:>13.4f}" for v in row))
    row = [article.accuracy, *(r["accuracy"] for r in results)]
    print(f"{'Accuracy':<18}" + "".join(f"{v:>13.4f}" for v in row))
    for key, label in (
        ("max_abs_param_diff", "max |param diff|"),
        ("max_abs_loss_diff", "max |loss diff|"),
    ):
        print(f"{label:<18}{'-':>13}" + "".join(f"{r[key]:>13.3g}" for r in results))
    print(
        "max |param diff|: final w and b against the article's; max |loss diff|: the printed "
        "losses at full float32 precision"
    )


def run_train(args: argparse.Namespace) -> None:
    lv._validate.check_choice(args.variant, "--variant", lv.VARIANTS)
    _check_article(args)
    X, y = _load(args)
    model, history = _fit(_create(args.variant, X, args), X, y, args)
    if args.json:
        summary = _summary(model, history, X, y)
        if args.article:
            summary["printed_losses"] = _printed_losses(history)
        print(json.dumps({"settings": _settings(args, X), "result": summary}))
        return
    # as the article's script: the last batch's loss of every 10th epoch, then the accuracy
    for epoch in range(9, args.epochs, 10):
        print(f"Epoch [{epoch + 1}/{args.epochs}], Loss: {history.batch_loss[epoch, -1]:.4f}")
    print(f"Accuracy: {lv.accuracy(model, X, y):.4f}")


def _add_explain_parser(sub: Any) -> None:
    explain = sub.add_parser(
        "explain",
        help="one loss evaluation's backward graph, node by node, checked against the chain rule",
    )
    explain.add_argument(
        "--variant", default="autograd", help="autograd (default), module or scratch"
    )
    explain.add_argument("--loss", default="stable", help="stable (default) or sigmoid_bce")
    explain.add_argument("--rows", type=int, default=4, help="batch size: the first batch (4)")
    explain.add_argument("--seed", type=int, default=42, help="seed of the batch and w, b (42)")
    explain.add_argument("--dtype", default="float32", help="float32 (default) or float64")
    explain.add_argument("--w", help="comma-separated weights (default: initial_params(D, seed))")
    explain.add_argument("--b", type=float, help="the bias (default: initial_params(D, seed))")
    explain.add_argument(
        "--saturate",
        type=float,
        nargs="?",
        const=30.0,
        metavar="Z",
        help="scale w, b so the largest |z| in the batch is Z (default 30: sigmoid saturates)",
    )
    explain.add_argument(
        "--second-order", action="store_true", help="also per-row gradients and the Hessian"
    )
    explain.add_argument("--data", metavar="FILE", help="as for compare")
    explain.add_argument("--dot", metavar="FILE", help="also write the graph as Graphviz DOT")
    explain.add_argument("--json", action="store_true", help="print one JSON object")
    explain.set_defaults(run=run_explain)


def run_explain(args: argparse.Namespace) -> None:
    from lr_variants import inspect

    if args.variant == "numpy":
        raise ValueError(
            f"--variant must be one of {inspect.EXPLAINABLE}; got 'numpy', which computes its "
            "gradient by hand and records no graph to explain"
        )
    lv._validate.check_choice(args.variant, "--variant", inspect.EXPLAINABLE)
    rows = lv._validate.check_int(args.rows, "--rows", 1)
    X, y = _load(args)
    # the first batch training with this seed would see
    idx = next(lv.batches(len(y), epochs=1, batch_size=min(rows, len(y)), seed=args.seed))
    w, b = lv.initial_params(X.shape[1], args.seed)
    if args.w is not None:
        try:
            w = np.array([float(v) for v in args.w.split(",")])
        except ValueError:
            raise ValueError(f"--w must be comma-separated numbers; got {args.w!r}") from None
    b = b if args.b is None else args.b
    if args.saturate is not None:
        w, b = inspect.saturating_params(X[idx], w, b, args.saturate)
    e = inspect.explain(args.variant, X[idx], y[idx], w, b, loss=args.loss, dtype=args.dtype)
    settings = {
        "data": args.data or "two_blobs(500, seed=42)",
        "rows": [int(i) for i in idx],
        "seed": args.seed,
        "params": "given"
        if args.w is not None or args.b is not None
        else f"initial_params(D, {args.seed})",
        "saturate": args.saturate,
    }
    second = inspect.second_order(X[idx], y[idx], e.w, e.b) if args.second_order else None
    if args.dot:
        try:
            with open(args.dot, "w") as f:
                f.write(e.to_dot())
        except OSError as exc:
            raise ValueError(f"--dot must be a writable file; got {args.dot!r}: {exc}") from None
    if args.json:
        out = {"settings": settings, "explanation": e.to_dict()}
        if second is not None:
            out["second_order"] = second
        print(json.dumps(inspect.jsonable(out)))
        return
    scaled = f", scaled so max |z| = {args.saturate:g}" if args.saturate is not None else ""
    print(
        f"lr-variants explain: rows {settings['rows']} of {settings['data']} (the first batch "
        f"of seed {args.seed}); w, b: {settings['params']}{scaled}"
    )
    print(e.to_text())
    if second is not None:
        print()
        print(inspect.second_order_text(second))


def _add_plot_parser(sub: Any) -> None:
    plot = sub.add_parser(
        "plot",
        help="train every variant once and draw loss curves, parameter trajectories and (2-D "
        "data) decision boundaries as PNG",
    )
    plot.add_argument(
        "--out",
        required=True,
        metavar="DIR_OR_FILE",
        help="a .png file (all panels side by side) or a directory (loss.png, params.png, "
        "boundary.png)",
    )
    plot.add_argument(
        "--variants",
        default=",".join(lv.VARIANTS),
        help=f"comma-separated variants (default: {','.join(lv.VARIANTS)})",
    )
    _add_training_options(plot)
    plot.set_defaults(run=run_plot)


def run_plot(args: argparse.Namespace) -> None:
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    bad = [name for name in names if name not in lv.VARIANTS]
    if bad or not names:
        got = repr(bad[0]) if bad else "nothing"
        raise ValueError(f"--variants must name variants from {lv.VARIANTS}; got {got}")
    try:
        from lr_variants import plot
    except ImportError as exc:
        raise ValueError(str(exc)) from None
    _check_article(args)
    X, y = _load(args)
    models = [_create(name, X, args) for name in names]  # every option checked before training
    runs = []
    for model in models:
        recorder = plot.Recorder(model)
        _fit(model, X, y, args, callback=recorder)
        runs.append(recorder.run())
    s = _settings(args, X)
    title = (
        f"data {s['data']} ({s['n_samples']}x{s['n_features']}"
        f"{', standardized' if args.standardize else ''}), epochs {s['epochs']}, batch "
        f"{s['batch_size']}, lr {s['lr']}, seed {s['seed']}, {s['dtype']} on {s['device']}"
    )
    try:
        paths = plot.save_figures(runs, X, y, args.out, title=title)
    except ImportError as exc:  # matplotlib, the plot extra, is missing
        raise ValueError(str(exc)) from None
    if args.json:
        print(json.dumps({"settings": s, "files": [str(p) for p in paths]}))
        return
    for path in paths:
        print(f"wrote {path}")


def _add_bench_parser(sub: Any) -> None:
    bench = sub.add_parser(
        "bench",
        help="run the benchmark suite (bench/, a source checkout) and render docs/benchmarks.md",
    )
    bench.add_argument(
        "--render-only",
        metavar="FILE",
        help="only render docs/benchmarks.md and .png from this pytest-benchmark JSON file",
    )
    bench.add_argument(
        "pytest_args", nargs="*", help="more pytest arguments, after --: e.g. -- -k article"
    )
    bench.set_defaults(run=run_bench)


def run_bench(args: argparse.Namespace) -> None:
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "bench" / "report.py"
    if not script.is_file():
        raise ValueError(f"the benchmark suite needs a source checkout; no {script}")
    argv = [sys.executable, str(script)]
    if args.render_only:
        argv += ["--render-only", args.render_only]
    if args.pytest_args:
        argv += ["--", *args.pytest_args]
    code = subprocess.run(argv, check=False).returncode
    if code != 0:  # bench/report.py has said why
        raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        args.run(args)
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
