"""What the subcommands share: the parser class, the training options, loading data, progress
bars, output, and the checks that turn bad input into one line naming the flag."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

from lr_variants import data as _data
from lr_variants._contain import SpecError
from lr_variants._model import Model
from lr_variants._validate import DTYPES, F64, max_abs
from lr_variants.compare import label
from lr_variants.registry import IMPLS, VARIANTS, variants
from lr_variants.specs import check_labels, resolve

_PROGRESS_DELAY = 0.5  # seconds: a run shorter than this never draws a bar
DEFAULT_DATA = "two_blobs(500, seed=42)"


class OutputError(Exception):
    """Standard output cannot be written (a full disk, /dev/full): not the input's fault."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: ``lr-variants: error: ...``, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"lr-variants: error: {message}\n")


def add_command(sub: Any, command: ModuleType) -> None:
    """Register ``command``, a module of this package, as the subcommand named after it: its
    one-line ``HELP``, its ``DESCRIPTION`` paragraph and ``EXAMPLE``, the options its
    ``add_options(parser)`` adds, and its ``run(args)``."""
    p = sub.add_parser(
        command.__name__.rpartition(".")[2],
        help=command.HELP,
        description=command.DESCRIPTION,
        epilog=f"example:\n  {command.EXAMPLE}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_options(p)
    p.set_defaults(run=command.run)


def flag(p: argparse.ArgumentParser, name: str, help: str) -> None:
    """An on/off option, off unless given."""
    p.add_argument(name, action="store_true", help=help)


def int_arg(text: str) -> int:
    """An argparse type: an integer that fits an index (|n| <= 2**63 - 1); the range checks
    with meaning (epochs >= 0 and so on) are the library's."""
    value = int(text)  # ValueError: argparse says "invalid int value"
    if abs(value) > sys.maxsize:
        raise argparse.ArgumentTypeError(
            f"must be an integer of at most {sys.maxsize} (2**63 - 1); got {text}"
        )
    return value


int_arg.__name__ = "int"  # argparse names the type in "invalid int value: 'x'"


def threads_arg(text: str) -> int:
    """An argparse type: a CPU thread count, 1 to this machine's number of CPUs."""
    value = int(text)
    cpus = os.cpu_count() or 1
    if not 1 <= value <= cpus:
        raise argparse.ArgumentTypeError(
            f"must be from 1 to {cpus} (this machine's CPU count); got {text}"
        )
    return value


threads_arg.__name__ = "int"


def braces(choices: tuple[str, ...]) -> str:
    """A metavar listing a closed set, as argparse shows ``choices``."""
    return "{" + ",".join(choices) + "}"


def add_data_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        metavar="FILE",
        help="CSV (last column is the label, one header line allowed), .npz with X and y, "
        "X.npy,y.npy (memory-mapped), or sklearn:breast_cancer (bundled with scikit-learn); "
        "default: the article's blobs",
    )


def add_training_options(p: argparse.ArgumentParser) -> None:
    """The options of every command that trains: compare, train, plot."""
    p.add_argument("--epochs", type=int_arg, default=100, help="passes over the data (default 100)")
    p.add_argument("--lr", type=float, default=0.1, help="SGD learning rate (default 0.1)")
    p.add_argument("--batch-size", type=int_arg, default=32, help="rows per step (default 32)")
    p.add_argument(
        "--seed", type=int_arg, default=42, help="seed of the initial parameters and batches (42)"
    )
    p.add_argument("--momentum", type=float, default=0.0, help="SGD momentum (default 0)")
    p.add_argument("--dampening", type=float, default=0.0, help="momentum dampening (0)")
    flag(p, "--nesterov", "Nesterov momentum")
    p.add_argument(
        "--weight-decay",
        type=float,
        default=0.0,
        help="L2 penalty on w: the objective is mean BCE + (weight_decay/2)||w||^2 (default 0)",
    )
    p.add_argument(
        "--dtype", default="float32", metavar=braces(DTYPES), help="floating point (float32)"
    )
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N")
    p.add_argument(
        "--threads",
        type=threads_arg,
        default=None,
        metavar="N",
        help="CPU threads (torch, and NumPy's BLAS where threadpoolctl is installed), 1 to the "
        "number of CPUs; default: LR_VARIANTS_THREADS, else 1 for batches of under a million "
        "values (tiny per-step ops only contend for cores) and the cores shared among the "
        "processes above that",
    )
    add_data_option(p)
    flag(
        p, "--standardize", "z-score every feature with the data's own mean and standard deviation"
    )
    flag(p, "--json", "print one JSON object and nothing else")
    flag(p, "--quiet", "no progress bar (none is drawn unless on a terminal)")
    flag(
        p,
        "--article",
        "article-exact mode: the reference article's init, batch order and loss (docs/article.md)",
    )
    add_plugin_options(p)


PLUGIN = "package.module:attribute"


def plugin_timeout_arg(text: str) -> float:
    """An argparse type: a plug-in's time limit per call, in seconds (finite, bounded)."""
    from lr_variants._contain import check_timeout

    try:
        return check_timeout(text.strip())
    except ValueError:
        from lr_variants._contain import MAX_TIMEOUT, MIN_TIMEOUT

        raise argparse.ArgumentTypeError(
            f"must be a number of seconds from {MIN_TIMEOUT:g} to {MAX_TIMEOUT:g}; got {text[:60]}"
        ) from None


plugin_timeout_arg.__name__ = "float"


def add_plugin_options(p: argparse.ArgumentParser) -> None:
    """``--plugin-timeout`` and ``--debug``: how plug-in code (package.module:attribute, an
    installed or registered variant) is contained (lr_variants._contain)."""
    from lr_variants._contain import DEFAULT_TIMEOUT, TIMEOUT_VARIABLE

    p.add_argument(
        "--plugin-timeout",
        type=plugin_timeout_arg,
        default=None,
        metavar="SECONDS",
        help=f"the time limit of each call into a plug-in (its import, factory, gradient, "
        f"step, ...); past it the run ends with one line and exit status 1 (default: "
        f"${TIMEOUT_VARIABLE}, else {DEFAULT_TIMEOUT:g})",
    )
    flag(
        p,
        "--debug",
        "when a plug-in fails, print its full traceback before the one-line error (also "
        "LR_VARIANTS_DEBUG=1)",
    )


def add_variant_option(
    p: argparse.ArgumentParser, default: str, choices: tuple[str, ...], help: str
) -> None:
    p.add_argument("--variant", default=default, metavar=braces(choices), help=help)


def add_variants_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        metavar="NAME,...",
        help=f"comma-separated variants, from {', '.join(VARIANTS)} (default: all), a registered "
        f"plug-in's name, or {PLUGIN} naming a variant factory or gradient function "
        f"(label={PLUGIN} names it label)",
    )


def add_impl_option(
    p: argparse.ArgumentParser, choices: tuple[str, ...], default: str | None, help: str
) -> None:
    p.add_argument("--impl", choices=choices, default=default, help=help)


def variant_names(text: str) -> list[str]:
    """``--variants``: at least one name, each resolved (``resolve_variant``)."""
    names = [v.strip() for v in text.split(",") if v.strip()]
    if not names:
        raise ValueError(f"--variants must name at least one of {VARIANTS}; got nothing")
    # labels checked, then every name resolved (a plug-in imported) before any training starts
    try:
        check_labels(names, "--variants")
    except ValueError as exc:
        raise ValueError(str(exc) if str(exc).startswith("--") else f"--variants: {exc}") from None
    resolved = [resolve_variant(name, "--variants", "name variants from") for name in names]
    for name in {n.partition("=")[0].strip() for n in names if "=" in n}:
        if resolved.count(name) > 1:
            raise ValueError(f"--variants must name each variant once; got {name!r} twice")
    return resolved


def resolve_variant(name: str, flag: str, must: str = "be one of") -> str:
    """The variant ``name`` stands for: a name [`variants`][lr_variants.registry.variants] lists, or
    a plug-in ``package.module:attribute`` (``lr_variants.specs.resolve``); a ValueError naming
    ``flag`` for anything else."""
    if ":" not in name and "=" not in name and name not in variants():
        raise ValueError(f"{flag} must {must} {variants()} or {PLUGIN}; got {name!r}")
    try:
        return resolve(name)
    except SpecError as exc:  # its module failed: the original kept for --debug
        raise SpecError(f"{flag}: {exc}", exc.original) from None
    except ValueError as exc:
        raise ValueError(f"{flag}: {exc}") from None


# the options each library call takes from the parsed command line, under the same names
MODEL_OPTIONS: tuple[str, ...] = (
    "lr",
    "seed",
    "device",
    "dtype",
    "momentum",
    "dampening",
    "nesterov",
)
MODEL_OPTIONS += ("weight_decay",)
ARTICLE_OPTIONS = ("epochs", "batch_size", "lr", "seed", "device", "threads")
COMPARE_OPTIONS = (*MODEL_OPTIONS, "epochs", "batch_size", "threads", "standardize")


def options(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    """``names`` and their values in ``args``, as keyword arguments."""
    return {name: getattr(args, name) for name in names}


def impl_list(impl: str) -> tuple[str, ...]:
    return IMPLS if impl == "both" else (impl,)


def data_label(args: argparse.Namespace) -> str:
    return DEFAULT_DATA if args.data is None else str(args.data)


def load(args: argparse.Namespace, *, standardize: bool = True) -> tuple[F64, F64]:
    """The data ``--data`` names (default: the article's blobs), ``--standardize``d if asked
    (and ``standardize``)."""
    name = args.data
    if name is not None and not name.strip():
        raise ValueError(
            "--data must name a CSV or .npz file or sklearn:NAME; got an empty string "
            "(leave --data out for the article's blobs)"
        )
    if name is not None and name.startswith("sklearn:"):
        try:
            X, y = _data.sklearn_data(name.removeprefix("sklearn:"))
        except ImportError as exc:  # a missing optional extra: one line, like bad input
            raise ValueError(str(exc)) from None
    else:
        X, y = _data.load_data(name) if name is not None else _data.two_blobs()
    if standardize and getattr(args, "standardize", False):
        X = _data.standardize(X)[0]
    return X, y


_ARTICLE_SETTINGS = (  # what --article fixes: the article trains plain SGD in float32
    ("dtype", "float32"),
    ("momentum", 0.0),
    ("dampening", 0.0),
    ("nesterov", False),
    ("weight_decay", 0.0),
    ("standardize", False),
)


def check_article(args: argparse.Namespace) -> None:
    """With ``--article``: reject the options the article's script has no counterpart for."""
    if not args.article:
        return
    if args.data is not None:
        raise ValueError(
            f"--data cannot be used with --article (the article's data is "
            f"{DEFAULT_DATA}); got {args.data!r}"
        )
    for name, value in _ARTICLE_SETTINGS:
        got = getattr(args, name, value)
        if got != value:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} must be {value!r} with --article; got {got!r}")


def flag_terms(message: str) -> str:
    """A library message in the command line's terms: the L2 penalty is ``--weight-decay``."""
    return re.sub(r"pass (l2|weight_decay) > 0", "pass --weight-decay > 0", message)


def emit(text: str = "") -> None:
    """Print a line on stdout now (flushed, so a line shows as soon as it is known)."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write to standard output: {exc.strerror or exc}") from None


def emit_json(obj: Any) -> None:
    """Print one JSON object; a NaN or infinity is a bug here, never an invalid token."""
    emit(json.dumps(obj, allow_nan=False))


def warn(message: str) -> None:
    print(f"lr-variants: warning: {message}", file=sys.stderr, flush=True)


def warn_if_not_converging(run: str, loss: float, X: F64, args: argparse.Namespace) -> None:
    """One line on stderr when training ended worse than predicting 1/2 for every row (loss
    log 2): SGD oscillates or is still far off, which a table of numbers does not show."""
    if loss > math.log(2) and args.epochs > 0:  # no epochs: nothing to converge
        hint = "lower --lr" if args.standardize else "pass --standardize or lower --lr"
        warn(
            f"{run}: final loss {loss:.4g} is worse than predicting 1/2 for every row "
            f"(log 2 = 0.693): SGD did not converge (lr {args.lr}, largest |feature| "
            f"{max_abs(X):.3g}); {hint}"
        )


def check_output_file(path: str, flag: str) -> Path:
    """``path`` as a file this command may write: not empty, and if it exists a regular file
    (writing to a FIFO or a device would block or do harm)."""
    if not path:
        raise ValueError(f"{flag} must name a file; got an empty string")
    p = Path(path)
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        return p
    except OSError as exc:
        raise ValueError(f"{flag} must be a writable file; got {path!r}: {exc}") from None
    if not stat.S_ISREG(mode):
        raise ValueError(f"{flag} must be a regular file (or not exist yet); got {path!r}")
    return p


class Progress:
    """A [`lr_variants.compare`][] callback drawing one tqdm bar per run on stderr, when
    stderr is a terminal (never with ``--quiet`` or ``--json``, or without tqdm, the
    ``progress`` extra); ``also(model, epoch, loss)`` is called too. Use it as a context
    manager: the last bar is closed on leaving."""

    def __init__(
        self,
        args: argparse.Namespace,
        also: Callable[[Model, int, float], None] | None = None,
    ) -> None:
        self.epochs = args.epochs
        self.also = also
        self.bar: Any = None
        self.tqdm: Any = None
        if not (args.quiet or args.json) and sys.stderr.isatty():
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            self.tqdm = tqdm

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __call__(self, model: Model, epoch: int, loss: float) -> None:
        if self.tqdm is not None:
            if epoch == 0:
                self.close()
                self.bar = self.tqdm(
                    total=self.epochs,
                    desc=f"{label(model.name, model.impl):<12}",
                    unit="epoch",
                    file=sys.stderr,
                    leave=False,
                    delay=_PROGRESS_DELAY,
                    dynamic_ncols=True,
                )
            elif self.bar is not None:
                self.bar.set_postfix_str(f"loss {loss:.4g}", refresh=False)
                self.bar.update(epoch - self.bar.n)
        if self.also is not None:
            self.also(model, epoch, loss)

    def write(self, line: str) -> None:
        """Print ``line`` on stdout without garbling the bar: tqdm lifts the bar, the line is
        written, the bar is drawn again below it."""
        if self.bar is None:
            emit(line)
            return
        try:
            self.tqdm.write(line, file=sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(f"cannot write to standard output: {exc.strerror or exc}") from None
