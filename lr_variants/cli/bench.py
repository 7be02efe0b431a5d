"""``lr-variants bench``: the benchmark suite of a source checkout (``bench/report.py``)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HELP = "run the benchmark suite (bench/, a source checkout) and render docs/benchmarks.md"
EXAMPLE = "lr-variants bench -- -k article"
DESCRIPTION = """\
Run the pytest-benchmark suite in bench/ and render docs/benchmarks.md and docs/benchmarks.png
from its JSON, by running bench/report.py of the source checkout this command is run in (or
below). The benchmarks are not installed with the package: they need a source checkout.
--render-only FILE renders an existing JSON file; arguments after -- go to pytest; --variants
adds your own variants to the timed workloads. The exit status is the report script's."""


def add_options(p: argparse.ArgumentParser) -> None:
    from lr_variants.cli import _common as c

    p.add_argument(
        "--render-only",
        metavar="FILE",
        help="only render docs/benchmarks.md and .png from this pytest-benchmark JSON file",
    )
    c.flag(p, "--publish", "passed on to bench/report.py")
    p.add_argument(
        "--variants",
        metavar="SPEC,...",
        default="",
        help="also time these plug-in variants (registered names or package.module:attribute, "
        "imported from the current directory) beside the built-ins; such a run is never "
        "published",
    )
    p.add_argument(
        "pytest_args", nargs="*", help="more pytest arguments, after --: e.g. -- -k article"
    )


def find_checkout(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding ``bench/report.py`` and
    ``pyproject.toml``."""
    for folder in (start, *start.parents):
        if (folder / "bench" / "report.py").is_file() and (folder / "pyproject.toml").is_file():
            return folder
    return None


def run(args: argparse.Namespace) -> int:
    here = Path.cwd()
    root = find_checkout(here)
    if root is None:
        raise ValueError(
            "the benchmarks need a source checkout of lr_variants (a folder holding "
            f"bench/report.py and pyproject.toml); none at or above {str(here)!r}"
        )
    cmd = [sys.executable, "bench/report.py"]
    if args.render_only is not None:
        if not args.render_only:
            raise ValueError("--render-only must name a JSON file; got an empty string")
        cmd += ["--render-only", os.path.abspath(args.render_only)]  # the user's cwd, not root
    if args.publish:
        cmd.append("--publish")
    if args.pytest_args:
        cmd += ["--", *args.pytest_args]
    env = dict(os.environ)
    if args.variants:
        from lr_variants.specs import check_labels

        check_labels([v.strip() for v in args.variants.split(",")], "--variants")
        # the benchmarks run in the checkout: plug-in modules are found from here, as for compare
        env["LR_BENCH_VARIANTS"] = args.variants
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(here), env.get("PYTHONPATH")]))
    return subprocess.run(cmd, cwd=root, env=env, check=False).returncode
