"""Command line: ``lr-variants compare`` (the main job), ``train``, ``solve``, ``explain``,
``plot`` and ``bench``; one module per command, the shared parts in ``_common``.

Bad input ends with one line on stderr (``lr-variants: error: ...``) and exit status 2; a
diverging run, or a standard output that is full or closed, with one line and exit status 1;
Ctrl-C with ``lr-variants: interrupted`` and exit status 130; never a traceback. A warning
(NumPy's, torch's) is one line, ``lr-variants: warning: ...``, never a source line. A plug-in
that fails (raises, calls ``sys.exit``, returns something that is not a variant) or outlives
``--plugin-timeout`` is one line naming it and the phase, exit status 1 (2 for a spec that
does not resolve); ``--debug`` or ``LR_VARIANTS_DEBUG=1`` adds the plug-in's traceback.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from typing import Any

from lr_variants import _contain
from lr_variants._threads import scope as thread_scope
from lr_variants.cli import (
    _common,
    _distributed,
    bench,
    check,
    compare,
    explain,
    plot,
    solve,
    train,
)

_COMMANDS = (compare, train, solve, explain, plot, bench, check)


def version() -> str:
    """The package's version (``lr_variants.__version__``, which pyproject.toml reads): the
    same installed or run from a source tree."""
    from lr_variants._version import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    """The ``lr-variants`` parser, one subparser per command."""
    parser = _common.Parser(
        prog="lr-variants",
        description="Train binary logistic regression several interchangeable ways (NumPy, "
        "torch autograd, nn.Module, ...) on the same data and batches, and compare them.",
        epilog="example:\n  lr-variants compare\n\n'lr-variants COMMAND --help' describes each.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"lr-variants {version()}",
        help="print the version and exit",
    )
    sub = parser.add_subparsers(dest="command", parser_class=_common.Parser, metavar="COMMAND")
    for command in _COMMANDS:
        _common.add_command(sub, command)
    return parser


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that Python's own flush at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor (a test's StringIO): nothing to quiet
        pass


def _error(message: str) -> None:
    print(f"lr-variants: error: {message}", file=sys.stderr, flush=True)


def _stdout_closed() -> bool:
    """Whether the process started with its standard output closed (``>&-``): Python then has
    no ``sys.stdout`` at all, and file descriptor 1 may be any file opened later."""
    if sys.stdout is None:
        return True
    try:
        os.fstat(sys.stdout.fileno())
    except io.UnsupportedOperation:  # no descriptor (a test's StringIO): it can be written
        return False
    except (OSError, ValueError):  # EBADF: closed since; ValueError: a closed file object
        return True
    return False


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """``warnings.formatwarning`` for the command line: one line, no source line. (Formatting,
    not showing: whoever records warnings instead, a test runner, keeps doing so.)"""
    text = " ".join(str(message).split())
    return f"lr-variants: warning: {text} ({category.__name__})\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` (default: ``sys.argv[1:]``) names; returns the exit status."""
    formatwarning = warnings.formatwarning
    warnings.formatwarning = _one_line_warning
    limit = os.environ.get(_contain.TIMEOUT_VARIABLE)
    try:
        status = _main(argv)
    finally:  # the caller's own format and time limit again (main may be called from Python)
        warnings.formatwarning = formatwarning
        _contain.set_timeout(None)
        if limit is None:
            os.environ.pop(_contain.TIMEOUT_VARIABLE, None)
        else:
            os.environ[_contain.TIMEOUT_VARIABLE] = limit
    return status


def console() -> None:
    """The ``lr-variants`` program (and ``python -m lr_variants``): ``main`` on the process's
    arguments, its status the process's. A torchrun rank ends there without Python's
    finalization (``lr_variants.cli._distributed.leave`` says why); ``main`` called from
    Python always returns."""
    try:
        status = main()
    except SystemExit as exc:  # as Python would end with it
        if not _distributed.joined():
            raise
        status = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # a failure main() does not know: its traceback, then the same end
        if not _distributed.joined():
            raise
        traceback.print_exc()
        status = 1
    _distributed.leave(status)
    raise SystemExit(status)


def _main(argv: Sequence[str] | None) -> int:
    args: Any = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if hasattr(args, "plugin_timeout"):  # a command that runs plug-ins
            # the flag, else LR_VARIANTS_PLUGIN_TIMEOUT (checked before any work), else default
            _contain.set_timeout(args.plugin_timeout or _contain.timeout())
            if args.plugin_timeout:  # the workers a launch starts inherit the flag's limit
                os.environ[_contain.TIMEOUT_VARIABLE] = repr(args.plugin_timeout)
        if args.command is None:
            parser.print_help()
            return 2
        if _stdout_closed():  # checked before any work: the results would have nowhere to go
            _error(
                "cannot write to standard output: it is closed (redirect it to a file, or to "
                "/dev/null to discard it)"
            )
            return 1
        # one thread unless asked (--threads, LR_VARIANTS_THREADS): each train() inside
        # decides for its own batches (lr_variants._threads)
        with thread_scope(getattr(args, "threads", None), 0):
            status = args.run(args)
        sys.stdout.flush()
        return 0 if status is None else int(status)
    except KeyboardInterrupt:
        print("lr-variants: interrupted", file=sys.stderr, flush=True)
        return 130
    except (_contain.PluginError, _contain.PluginTimeout) as exc:  # the user's code: one line
        if exc.original is not None and (getattr(args, "debug", False) or _contain.debug()):
            traceback.print_exception(exc.original, file=sys.stderr)
        _error(str(exc))
        return exc.status
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly, as other tools do
        _quiet_stdout()
        return 0
    except _common.OutputError as exc:
        _error(str(exc))
        _quiet_stdout()
        return 1
    except (ValueError, TypeError, MemoryError, OverflowError) as exc:
        # MemoryError: e.g. --epochs so large that the loss history does not fit
        _error(_common.flag_terms(_message(exc)))
        return 2
    except ImportError as exc:  # an optional part missing: the environment, said in one line
        _error(str(exc))
        return 2
    except FloatingPointError as exc:
        _error(str(exc))
        return 1
    except OSError as exc:  # the environment (a file system, a device), not the input
        _error(str(exc))
        return 1


def _message(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, MemoryError):
        return f"not enough memory ({text or 'MemoryError'}); lower --epochs or use less data"
    return text
