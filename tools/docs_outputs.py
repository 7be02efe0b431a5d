"""Keep the outputs quoted in README.md and docs/ true: regenerate them, or check them.

A quoted output is a fenced block preceded by a marker naming the command that produces it::

    <!-- output-of: lr-variants compare --variants numpy,autograd --epochs 5 -->
    ```text
    ...the command's stdout...
    ```

and optionally, before the marker, ``<!-- timings: REGEX -->``: the parts of the output that are
wall-clock times (they differ from run to run); each match is replaced by ``<time>`` before
comparing. ``lr-variants`` runs as ``python -m lr_variants`` from the repository root, with one
torch thread; any other command runs through the shell, where ``python`` is the interpreter running
this script (``python tools/run_snippet.py PAGE TEXT`` runs a page's Python example).

``python tools/docs_outputs.py --check`` (what the test suite runs) re-runs every marked
command and compares: lines must match after the masks, except that a number may differ from the
quoted one by at most ``1e-6`` of its size (a printed float32 result rounded in another
summation order on another processor; a quoted value that really changed differs by more).
``--write`` rewrites each block with a fresh run (timings then come from this machine: the
surrounding text says which machine they were measured on).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FILES = ["README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md"))]
MARKER = re.compile(r"^<!-- output-of: (?P<cmd>.+?) -->\s*$")
TIMINGS = re.compile(r"^<!-- timings: (?P<regex>.+?) -->\s*$")
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
RTOL = 1e-6


@dataclass
class Block:
    """One quoted output: where it is, what produces it, what it says."""

    path: Path
    line: int  # 1-based line of the marker
    command: str
    timings: re.Pattern[str] | None
    start: int  # index of the first output line in the file's lines
    stop: int  # index of the closing fence
    text: list[str]


def blocks(path: Path) -> list[Block]:
    """Every marked block of ``path``."""
    lines = path.read_text().splitlines()
    found = []
    for i, line in enumerate(lines):
        m = MARKER.match(line)
        if not m:
            continue
        t = TIMINGS.match(lines[i - 1]) if i else None
        if i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
            raise ValueError(f"{path}:{i + 1}: an output-of marker must precede a fenced block")
        stop = next(k for k in range(i + 2, len(lines)) if lines[k].startswith("```"))
        found.append(
            Block(
                path,
                i + 1,
                m["cmd"],
                re.compile(t["regex"]) if t else None,
                i + 2,
                stop,
                lines[i + 2 : stop],
            )
        )
    return found


def run(command: str) -> list[str]:
    """The command's stdout lines (stderr is shown on failure)."""
    # `python` in a shell command is this interpreter (the project's environment), not PATH's
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "100", "PATH": path}
    if command.startswith("lr-variants "):
        argv = [sys.executable, "-m", "lr_variants", *shlex.split(command)[1:]]
        out = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
    else:
        out = subprocess.run(command, shell=True, cwd=REPO, env=env, capture_output=True, text=True)
    if out.returncode not in (0, 1):  # exit 1 is a documented outcome (divergence, a failure)
        raise RuntimeError(f"`{command}` exited {out.returncode}: {out.stderr.strip()}")
    return out.stdout.rstrip("\n").splitlines()


def _masked(line: str, timings: re.Pattern[str] | None) -> str:
    return timings.sub("<time>", line) if timings else line


def _same_line(doc: str, fresh: str) -> bool:
    if doc == fresh:
        return True
    if NUMBER.sub("#", doc) != NUMBER.sub("#", fresh):
        return False
    a, b = NUMBER.findall(doc), NUMBER.findall(fresh)
    return all(abs(float(x) - float(y)) <= RTOL * abs(float(x)) for x, y in zip(a, b, strict=True))


def differences(block: Block, fresh: list[str]) -> list[str]:
    """How the quoted block differs from a fresh run (empty: it is true)."""
    doc = [_masked(line, block.timings) for line in block.text]
    new = [_masked(line, block.timings) for line in fresh]
    if len(doc) != len(new):
        return [f"{len(doc)} lines quoted, {len(new)} produced"] + [f"  now: {x}" for x in new]
    return [
        f"line {k + 1}:\n  doc: {d}\n  now: {n}"
        for k, (d, n) in enumerate(zip(doc, new, strict=True))
        if not _same_line(d, n)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="compare every block with a fresh run")
    mode.add_argument("--write", action="store_true", help="rewrite every block from a fresh run")
    parser.add_argument("files", nargs="*", help="only these files (default: README and docs/)")
    args = parser.parse_args(argv)
    failures = 0
    for name in args.files or FILES:
        path = REPO / name
        found = blocks(path)
        if args.write and found:
            lines = path.read_text().splitlines()
            for block in reversed(found):
                lines[block.start : block.stop] = run(block.command)
            path.write_text("\n".join(lines) + "\n")
            print(f"wrote {len(found)} block(s) in {name}")
        elif args.check:
            for block in found:
                diff = differences(block, run(block.command))
                if diff:
                    failures += 1
                    print(f"{name}:{block.line}: `{block.command}` no longer gives this output:")
                    print("\n".join(diff))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
