r"""Keep the outputs quoted in README.md and docs/ true: regenerate them, or check them.

A quoted output is a fenced block preceded by a marker naming the command that produces it::

    <!-- output-of: lr-variants compare --variants numpy,autograd --epochs 5 -->
    ```text
    ...the command's stdout...
    ```

``lr-variants`` runs as ``python -m lr_variants`` from the repository root, with one torch
thread; any other command runs through the shell, where ``python`` is the interpreter running
this script (``python tools/run_snippet.py PAGE TEXT`` runs a page's Python example).

**Everything quoted is exact** unless declared otherwise: a fresh run must print it character for
character, every digit of every number. Two kinds of declaration, each a comment line directly
above the ``output-of`` marker (any number of them, in any order), say which parts are not:

``<!-- timings: REGEX -->``
    wall-clock times (they differ from run to run): every match of REGEX, in the quoted text and
    in the fresh output alike, is replaced by ``<time>`` before comparing.

``<!-- noise: SELECTOR... BOUND -->``
    values that are rounding noise of one processor (a float32 sum in another order, a
    difference between two variants' parameters): the values SELECTOR picks are checked against
    BOUND instead of digit for digit; the text around them stays exact. SELECTOR is one or more of

    - ``column "HEADER"``: the numbers of a table column, i.e. on the lines below the line where
      HEADER stands as a whole (between spaces or the line's ends), the numbers that end where
      HEADER ends (tables right-align their numbers under their headers);
    - ``row "LABEL"``: the numbers on each line that starts with LABEL followed by a space;
    - ``after "TEXT"``: the number right after each occurrence of TEXT (spaces, ``:`` or ``=``
      between them);

    each with one or more quoted names (any of them); ``row`` with ``column`` picks the cells where
    they cross. BOUND is one of

    - ``<= B``, ``< B``: the value's magnitude is at most (below) B; ``>= B``, ``> B``: the value
      is at least (above) B; the quoted value too (a page cannot quote a value that breaks its own
      declaration);
    - ``± B`` (or ``+- B``): the fresh value lies within B of the quoted one;

    and B is a number, or ``K ulp32(X)`` / ``K ulp64(X)``: K units in the last place of X in
    float32 / float64 (``ulp32(2.6)`` is 2**-22, 2.4e-7), or ``K ulp32`` / ``K ulp64`` without X:
    units in the last place of the quoted value itself. A printed number is rounded to its last
    printed digit, so every comparison allows half a unit of that digit, on each side that is
    printed.

Example, README.md's comparison table::

    <!-- timings: (?<=\d\.\d{4}) +\d+\.\d{3} +\d+\.\d{2}\b -->
    <!-- noise: column "final loss" ± 32 ulp32 -->
    <!-- noise: column "max |param diff| vs numpy" <= 8 ulp32(2.6) -->
    <!-- output-of: lr-variants compare --impl textbook -->

``python tools/docs_outputs.py --check`` (what the test suite runs) re-runs every marked command
and compares. ``--write`` rewrites each block with a fresh run (timings and noise then come from
this machine: the surrounding text says which machine they were measured on) and checks the
fresh run against the block's declarations.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FILES = ["README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md"))]
MARKER = re.compile(r"^<!-- output-of: (?P<cmd>.+?) -->\s*$")
TIMINGS = re.compile(r"^<!-- timings: (?P<regex>.+?) -->\s*$")
NOISE = re.compile(r"^<!-- noise: (?P<spec>.+?) -->\s*$")
_NUM = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?"
# a number standing alone: not the 32 of "float32", not part of a longer word or number
NUMBER = re.compile(rf"(?<![\w.]){_NUM}(?![\w.])")
_SELECTOR = re.compile(r'\s*(?P<kind>column|row|after)(?P<names>(?:\s+"[^"]+")+)')
_BOUND = re.compile(
    rf"\s*(?P<op><=|<|>=|>|±|\+-)\s*(?P<k>{_NUM})"
    rf"(?:\s*(?P<unit>ulp32|ulp64)(?:\((?P<of>{_NUM})\))?)?\s*$"
)


def ulp(x: float, unit: str) -> float:
    """The gap between ``|x|`` and the next larger number of float32 (``ulp32``) or float64."""
    if unit == "ulp32":
        return float(np.spacing(np.float32(abs(x))))
    return math.ulp(abs(x))


def _half_digit(printed: str) -> float:
    """Half a unit of the last digit of a printed number (``2.38e-07``: 5e-10)."""
    mantissa, _, exponent = printed.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 0.5 * 10.0 ** (int(exponent or 0) - decimals)


@dataclass(frozen=True)
class Noise:
    """One ``<!-- noise: ... -->`` declaration: which numbers, and the bound that holds them."""

    spec: str
    columns: tuple[str, ...] = ()
    rows: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    op: str = "<="
    k: float = 0.0
    unit: str | None = None  # None: B is the number k itself
    of: float | None = None  # None with a unit: the ulp of the quoted value

    @classmethod
    def parse(cls, spec: str) -> Noise:
        """``column "final loss" ± 32 ulp32`` and the like (the module's docstring)."""
        names: dict[str, list[str]] = {"column": [], "row": [], "after": []}
        pos = 0
        while m := _SELECTOR.match(spec, pos):
            names[m["kind"]] += re.findall(r'"([^"]+)"', m["names"])
            pos = m.end()
        bound = _BOUND.match(spec, pos)
        if pos == 0 or bound is None:
            raise ValueError(
                f"noise declaration must be SELECTOR... BOUND, e.g. "
                f'column "max |param diff| vs numpy" <= 8 ulp32(2.6); got {spec!r}'
            )
        if names["after"] and (names["column"] or names["row"]):
            raise ValueError(f"noise declaration: after cannot be combined; got {spec!r}")
        return cls(
            spec,
            tuple(names["column"]),
            tuple(names["row"]),
            tuple(names["after"]),
            "±" if bound["op"] == "+-" else bound["op"],
            float(bound["k"]),
            bound["unit"],
            None if bound["of"] is None else float(bound["of"]),
        )

    def bound(self, quoted: float) -> float:
        """B for a value quoted as ``quoted``."""
        if self.unit is None:
            return self.k
        return self.k * ulp(quoted if self.of is None else self.of, self.unit)

    def violation(self, quoted: str, fresh: str) -> str | None:
        """Why ``fresh`` breaks this declaration, given the page quotes ``quoted`` (None: it
        holds). Each printed number may be off its true value by half its last digit."""
        q, f = float(quoted), float(fresh)
        b = self.bound(q)
        if self.op == "±":
            slack = _half_digit(quoted) + _half_digit(fresh)
            if abs(f - q) <= b + slack:
                return None
            return f"{fresh} is {abs(f - q):.3g} from the quoted {quoted}; allowed {b:.3g}"
        for name, value in (("quoted", quoted), ("fresh", fresh)):
            v, h = float(value), _half_digit(value)
            ok = {
                "<=": abs(v) - h <= b,
                "<": abs(v) - h < b,
                ">=": v + h >= b,
                ">": v + h > b,
            }[self.op]
            if not ok:
                return f"{name} value {value} is not {self.op} {b:.3g}"
        return None


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
    noise: list[Noise] = field(default_factory=list)


def blocks(path: Path) -> list[Block]:
    """Every marked block of ``path``, with the declarations above its marker."""
    lines = path.read_text().splitlines()
    found = []
    for i, line in enumerate(lines):
        m = MARKER.match(line)
        if not m:
            continue
        if i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
            raise ValueError(f"{path}:{i + 1}: an output-of marker must precede a fenced block")
        timings: list[str] = []
        noise: list[Noise] = []
        k = i - 1
        while k >= 0 and (TIMINGS.match(lines[k]) or NOISE.match(lines[k])):
            if t := TIMINGS.match(lines[k]):
                timings.insert(0, t["regex"])
            elif n := NOISE.match(lines[k]):
                try:
                    noise.insert(0, Noise.parse(n["spec"]))
                except ValueError as exc:
                    raise ValueError(f"{path}:{k + 1}: {exc}") from None
            k -= 1
        stop = next(k for k in range(i + 2, len(lines)) if lines[k].startswith("```"))
        pattern = re.compile("|".join(f"(?:{t})" for t in timings)) if timings else None
        found.append(Block(path, i + 1, m["cmd"], pattern, i + 2, stop, lines[i + 2 : stop], noise))
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


# ------------------------------------------------------------------ picking the noisy numbers


def _header(lines: list[str], name: str) -> tuple[int, int] | None:
    """(line index, end column) of the first line where ``name`` stands between spaces."""
    pattern = re.compile(rf"(?:^|(?<=\s)){re.escape(name)}(?=\s|$)")
    for i, line in enumerate(lines):
        if m := pattern.search(line):
            return i, m.end()
    return None


def _picked(lines: list[str], noise: Noise) -> list[list[tuple[int, int]]]:
    """For each line, the (start, end) spans of the numbers ``noise`` selects."""
    spans: list[list[tuple[int, int]]] = [[] for _ in lines]
    if noise.after:
        for i, line in enumerate(lines):
            for text in noise.after:
                pattern = re.compile(rf"{re.escape(text)}\s*[:=]?\s*({NUMBER.pattern})")
                spans[i] += [m.span(1) for m in pattern.finditer(line)]
        return spans
    ends: set[int] | None = None
    first = 0
    if noise.columns:
        found = [h for h in (_header(lines, c) for c in noise.columns) if h is not None]
        if not found:
            return spans
        ends = {end for _, end in found}
        first = min(i for i, _ in found) + 1
    for i in range(first, len(lines)):
        line, skip = lines[i], 0
        if noise.rows:
            label = next((r for r in noise.rows if re.match(rf"{re.escape(r)}(\s|$)", line)), None)
            if label is None:
                continue
            skip = len(label)
        spans[i] += [
            m.span()
            for m in NUMBER.finditer(line)
            if m.start() >= skip and (ends is None or m.end() in ends)
        ]
    return spans


def _masked(lines: list[str], block: Block) -> tuple[list[str], list[list[tuple[int, str]]]]:
    """The lines with timings replaced by ``<time>`` and noise values (with the spaces before
    them) by ``<noise>``, and for each line the noise values it held (index of the declaration,
    the number as printed)."""
    picked = [_picked(lines, n) for n in block.noise]
    masked, values = [], []
    for i, line in enumerate(lines):
        timed = block.timings.finditer(line) if block.timings else ()
        cuts = [(*m.span(), "<time>", -1) for m in timed]
        for d, spans in enumerate(picked):
            cuts += [(s, e, "<noise>", d) for s, e in spans[i]]
        cuts.sort()
        out, at, held = [], 0, []
        for s, e, mark, d in cuts:
            if s < at:  # overlaps a cut already made (a timing that covers the value)
                continue
            if d >= 0:
                held.append((d, line[s:e]))
                # with the padding before it: a right-aligned column pads "0" more than "2.38e-07"
                s = max(at, len(line[:s].rstrip(" ")))
            out += [line[at:s], mark]
            at = e
        masked.append("".join(out) + line[at:])
        values.append(held)
    return masked, values


def differences(block: Block, fresh: list[str]) -> list[str]:
    """How the quoted block differs from a fresh run (empty: it is true)."""
    doc, doc_values = _masked(block.text, block)
    new, new_values = _masked(fresh, block)
    problems = [
        f"noise declaration selects no value in the quoted text: {n.spec}"
        for d, n in enumerate(block.noise)
        if not any(i == d for held in doc_values for i, _ in held)
    ]
    if len(doc) != len(new):
        return [*problems, f"{len(doc)} lines quoted, {len(new)} produced"] + [
            f"  now: {x}" for x in fresh
        ]
    for k, (quoted_line, fresh_line) in enumerate(zip(doc, new, strict=True)):
        if quoted_line != fresh_line:
            problems.append(f"line {k + 1}:\n  doc: {block.text[k]}\n  now: {fresh[k]}")
            continue
        for (i, quoted), (_, now) in zip(doc_values[k], new_values[k], strict=True):
            why = block.noise[i].violation(quoted, now)
            if why:
                problems.append(
                    f"line {k + 1}: {why} (noise: {block.noise[i].spec})\n"
                    f"  doc: {block.text[k]}\n  now: {fresh[k]}"
                )
    return problems


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
                fresh = run(block.command)
                lines[block.start : block.stop] = fresh
                written = Block(**{**vars(block), "text": fresh})
                for problem in differences(written, fresh):
                    failures += 1
                    print(f"{name}:{block.line}: {problem}")
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
