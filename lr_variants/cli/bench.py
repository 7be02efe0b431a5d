"""``lr-variants bench``: the benchmark suite installed with the package (``lr_variants._bench``,
the ``bench/`` folder of the source tree), run with pytest-benchmark from any folder."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROG = "lr-variants"
HELP = "time the variants (yours too) with the benchmark suite; results into the current folder"
EXAMPLE = 'lr-variants bench --variants mymod:grad -- -k "test_train[article-"'
DESCRIPTION = """\
Run the benchmark suite installed with the package (pytest-benchmark; install it with
pip install "lr_variants[bench]") and write its results into the current folder (or --out):
<time>.json (pytest-benchmark's JSON), <time>.md (the tables) and <time>.png (the chart).
Arguments after -- go to pytest, e.g. -- -k article for a subset; LR_BENCH_QUICK=1 runs every
workload at small sizes. --variants times your own variants beside the built-ins;
--render-only FILE renders an existing JSON file. --publish, in a source checkout only, runs the
checkout's bench/report.py --publish instead (what make bench does): a complete run rewrites
docs/benchmarks.md and .png. The exit status is 0, or 2 when a benchmark failed or the run
could not be rendered (or published)."""


def add_options(p: argparse.ArgumentParser) -> None:
    from lr_variants.cli import _common as c

    p.add_argument(
        "--out",
        metavar="DIR",
        default=".",
        help="the folder that gets the results (created if missing; default: the current one)",
    )
    p.add_argument(
        "--render-only",
        metavar="FILE",
        help="run nothing: render this pytest-benchmark JSON file into --out",
    )
    c.flag(
        p,
        "--publish",
        "in a source checkout: run its bench/report.py --publish (a complete run rewrites "
        "docs/benchmarks.md); refused elsewhere",
    )
    p.add_argument(
        "--variants",
        metavar="SPEC,...",
        default="",
        help="also time these plug-in variants (registered names or package.module:attribute, "
        "imported from the current directory) beside the built-ins",
    )
    p.add_argument(
        "pytest_args", nargs="*", help="more pytest arguments, after --: e.g. -- -k article"
    )


def find_checkout(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding ``bench/report.py`` and
    ``pyproject.toml``: a source checkout of lr_variants."""
    for folder in (start, *start.parents):
        if (folder / "bench" / "report.py").is_file() and (folder / "pyproject.toml").is_file():
            return folder
    return None


def _publish(args: argparse.Namespace, here: Path, changes: dict[str, str]) -> int:
    """``bench/report.py --publish`` of the source checkout at or above ``here``."""
    root = find_checkout(here)
    if root is None:
        raise ValueError(
            "--publish rewrites docs/benchmarks.md of a source checkout of lr_variants (a folder "
            f"holding bench/report.py and pyproject.toml); none at or above {str(here)!r}"
        )
    cmd = [sys.executable, "bench/report.py", "--publish"]
    if args.render_only is not None:
        cmd += ["--render-only", os.path.abspath(args.render_only)]  # the user's cwd, not root
    if args.pytest_args:
        cmd += ["--", *args.pytest_args]
    with _environment(changes):
        return subprocess.run(cmd, cwd=root, check=False).returncode


def suite() -> Path:
    """The folder of the installed benchmark suite (``lr_variants._bench``)."""
    spec = importlib.util.find_spec("lr_variants._bench")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("the benchmark suite (lr_variants._bench) is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _needs(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ValueError(
            f'lr-variants bench needs {module}; install it with: pip install "lr_variants[bench]"'
        )


@contextmanager
def _environment(changes: dict[str, str]) -> Iterator[None]:
    """``os.environ`` with ``changes`` while the suite runs (its pytest inherits them)."""
    before = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _on_path(folder: Path) -> Iterator[None]:
    """``folder`` first on ``sys.path`` for the block only."""
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        sys.path.remove(str(folder))


def run(args: argparse.Namespace) -> int:
    here = Path.cwd()
    out = Path(args.out)
    if not args.out or (out.exists() and not out.is_dir()):
        raise ValueError(f"--out must be a folder; got {args.out!r}")
    argv: list[str] = []
    if args.render_only is not None:
        if not args.render_only:
            raise ValueError("--render-only must name a JSON file; got an empty string")
        if args.pytest_args:
            raise ValueError("--render-only runs nothing: pytest arguments make no sense with it")
        argv += ["--render-only", os.path.abspath(args.render_only)]
    else:
        _needs("pytest")
        _needs("pytest_benchmark")
    _needs("matplotlib")
    if args.pytest_args:
        argv += ["--", *args.pytest_args]
    changes = {}
    if args.variants:
        from lr_variants.specs import check_importable, check_labels

        names = [v.strip() for v in args.variants.split(",")]
        check_labels(names, "--variants")
        check_importable(names)  # a spec that does not resolve: one line here, not in pytest's
        # the plug-ins are imported from the user's folder, as for compare
        changes["LR_BENCH_VARIANTS"] = args.variants
        path = os.environ.get("PYTHONPATH")
        changes["PYTHONPATH"] = os.pathsep.join(filter(None, [str(here), path]))
    if "--benchmark-disable" in args.pytest_args:
        raise ValueError(
            "-- --benchmark-disable times nothing, so there is nothing to write; leave it out "
            "(LR_BENCH_QUICK=1 runs every workload at small sizes)"
        )
    if args.publish:
        if args.out != ".":
            raise ValueError(
                "--out has no effect with --publish (a published run goes to the checkout's "
                f"docs/ and bench/results/); got --out {args.out!r}"
            )
        return _publish(args, here, changes)
    folder = suite()
    out.mkdir(parents=True, exist_ok=True)
    # the report's modules import each other by their bare names, as they do in bench/: the
    # suite's folder is on sys.path while they run, and only then (a process started later,
    # e.g. by multiprocessing, must not find the suite's test modules before its own)
    with _environment(changes), _on_path(folder):
        report = importlib.import_module("lr_variants._bench.report")
        # bench/report.py writes beside the suite (bench/results/) and runs pytest from the
        # checkout; installed, both are this folder: the results go to --out, pytest runs there
        # its errors are the command's (lr-variants: error: ...)
        for name, value in (("RESULTS", out.resolve()), ("REPO", out.resolve()), ("PROG", PROG)):
            setattr(report, name, value)
        status: int = report.main(argv)
    return status
