"""Keep the pictures in docs/images/ true: draw them from real runs of the command line, or check
them.

``python tools/docs_images.py --write`` runs each command of :data:`GRAPHS` and :data:`PLOTS`
(in this process, through ``lr_variants.cli.main``) and writes its picture into docs/images/;
``--check`` (what the test suite runs) draws the graphs again into a temporary directory and
compares them with the files, byte for byte.

The graph pictures (SVG, drawn by ``lr-variants explain --image``) must come out the same on
every x86-64 machine. The only numbers in them are gradients, rounded to 3 significant digits
(saved tensors show names, dtypes and shapes only; the layout is computed in Python floats from
the lengths of the texts). Torch's scalar, AVX2 and AVX-512 kernels compute the gradients of
these 4-row graphs bit for bit alike (the test suite runs ``--check`` natively and under
``ATEN_CPU_CAPABILITY=default OPENBLAS_CORETYPE=Prescott``), and as a margin this script
refuses to draw a graph in which moving any gradient by :data:`MARGIN` of its value would
change a digit drawn: a value that close to a rounding boundary could round the other way after
another processor's last-bit difference.

The plot picture (:data:`PLOTS`) shows how far each variant's parameters are from the
reference's, which is rounding noise of the machine that drew it: ``--write`` draws it,
``--check`` only checks that it is there.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
IMAGES = REPO / "docs" / "images"
MARGIN = 1e-6  # relative: ~8 float32 ulps, ~4.5e9 float64 ulps

# picture -> the `lr-variants explain` arguments that draw it (with --image PATH added)
GRAPHS: dict[str, list[str]] = {
    "graph-autograd.svg": ["--seed", "5"],
    "graph-scratch.svg": ["--variant", "scratch", "--seed", "5"],
    "graph-article.svg": ["--variant", "module", "--loss", "sigmoid_bce", "--seed", "5"],
    "graph-article-saturated.svg": [
        *("--variant", "module", "--loss", "sigmoid_bce", "--seed", "5", "--saturate"),
    ],
}
# picture -> (the `lr-variants plot` arguments, with --out DIR added; the file it writes there)
PLOTS: dict[str, tuple[list[str], str]] = {
    "plot-loss.png": (["--quiet"], "loss.png"),
}


def _run(argv: list[str]) -> None:
    from lr_variants.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    if code != 0:
        raise RuntimeError(f"`lr-variants {' '.join(argv)}` exited {code}: {err.getvalue()}")


@contextlib.contextmanager
def robust_numbers() -> Iterator[list[str]]:
    """While inside, every gradient a picture draws is also drawn moved by ``MARGIN`` of itself
    both ways; the texts that change are collected in the list yielded."""
    from lr_variants.explain import _picture

    original: Callable[[Any], str] = _picture.number
    unstable: list[str] = []

    def number(value: Any) -> str:
        text = original(value)
        if value is not None:
            a = np.asarray(value, dtype=np.float64)
            moved = [original(a * (1 + s * MARGIN)) for s in (-1, 1)]
            unstable.extend(f"{text} (moved: {m})" for m in moved if m != text)
        return text

    _picture.number = number  # type: ignore[assignment]
    try:
        yield unstable
    finally:
        _picture.number = original  # type: ignore[assignment]


def draw_graph(name: str, folder: Path) -> Path:
    """Run the command of graph ``name`` writing into ``folder``; fail on an unstable digit."""
    path = folder / name
    with robust_numbers() as unstable:
        _run(["explain", *GRAPHS[name], "--image", str(path)])
    if unstable:
        raise RuntimeError(
            f"{name}: a drawn gradient is within {MARGIN:g} (relative) of a rounding boundary, "
            f"so another processor could draw it differently: {'; '.join(unstable)}"
        )
    return path


def draw_plot(name: str, folder: Path) -> Path:
    argv, produced = PLOTS[name]
    with tempfile.TemporaryDirectory() as tmp:
        _run(["plot", *argv, "--out", tmp])
        shutil.copyfile(Path(tmp) / produced, folder / name)
    return folder / name


def command(name: str) -> str:
    """The command line that draws picture ``name`` (as the docs show it)."""
    if name in GRAPHS:
        return " ".join(["lr-variants explain", *GRAPHS[name], "--image", name])
    argv, produced = PLOTS[name]
    return " ".join(["lr-variants plot", *argv, "--out", "DIR"]) + f" (DIR/{produced})"


def check() -> list[str]:
    """What is wrong with docs/images/ (empty: every picture is current)."""
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in GRAPHS:
            fresh = draw_graph(name, Path(tmp)).read_bytes()
            old = IMAGES / name
            if not old.is_file():
                problems.append(f"docs/images/{name} is missing: `{command(name)}`")
            elif old.read_bytes() != fresh:
                problems.append(f"docs/images/{name} is not what `{command(name)}` draws now")
    problems += [f"docs/images/{n} is missing" for n in PLOTS if not (IMAGES / n).is_file()]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="draw the graphs again and compare")
    mode.add_argument("--write", action="store_true", help="draw every picture into docs/images/")
    parser.add_argument("names", nargs="*", help="only these pictures (--write)")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        print("\n".join(problems) if problems else f"{len(GRAPHS)} graph pictures are current")
        return 1 if problems else 0
    IMAGES.mkdir(parents=True, exist_ok=True)
    for name in args.names or [*GRAPHS, *PLOTS]:
        if name not in GRAPHS and name not in PLOTS:
            parser.error(f"no picture named {name!r}; known: {', '.join([*GRAPHS, *PLOTS])}")
        path = draw_graph(name, IMAGES) if name in GRAPHS else draw_plot(name, IMAGES)
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
