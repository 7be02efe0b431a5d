"""Whole-process benchmarks: what a user waits for, from the shell prompt to the last line.

Six programs, each a fresh process (``subprocess``), with ``OMP_NUM_THREADS=1`` (torch's
intra-op threads buy nothing on these tiny tensors, and on a busy machine they make the
timing erratic; recorded in ``extra_info``):

- ``lr-variants train --variant numpy`` (never imports torch),
- ``lr-variants train --variant module`` (``nn.Module`` + ``torch.optim.SGD``), and its fast
  form (``--impl fast``: ``EagerSGD``, which does not import ``torch._dynamo``),
- the reference article's script (``lr_variants.article.run_article_script``: its
  ``DataLoader``, ``nn.Module``, ``nn.BCELoss`` and ``optim.SGD``, printing as it does), run
  as a program (``python -c``);
- ``lr-variants compare`` on the five classic variants' textbook forms, and on every variant
  and form (``COMPARE``; 3 rounds each, as each run takes seconds).

Each benchmark times the whole run, and also the same program with no training
(``--epochs 0``; the article's program reads ``ARTICLE_EPOCHS``, its only change): that is the
start-up, i.e. interpreter, imports, data, and building the model and optimizer. Training is
the difference of the two minima. ``benchmark.extra_info`` holds ``startup_s``, ``total_s``,
``training_s``, every round's times, the command and the thread setting.

Run: ``.venv/bin/python -m pytest bench/test_startup.py`` (5 rounds each, group "startup"),
or as a plain test, one round each: ``... bench/test_startup.py --benchmark-disable``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
ROUNDS = 5  # with --benchmark-disable: 1
COMPARE_ROUNDS = 3
THREADS = "1"
COMPARE = {
    "compare_classic": [
        "--impl",
        "textbook",
        "--variants",
        "numpy,autograd,module,torch_manual,scratch",
    ],
    "compare_all": [],
}

# The article's script is written once, in lr_variants.article; this runs it as a program,
# printing what the article prints. ARTICLE_EPOCHS is the benchmark's only change.
ARTICLE_SCRIPT = """\
import os

from lr_variants.article import run_article_script

run_article_script(epochs=int(os.environ.get("ARTICLE_EPOCHS", "100")), echo=True)
"""


def _lr_variants() -> list[str]:
    """The console script beside this interpreter (what users run), else ``python -m``."""
    script = Path(sys.executable).with_name("lr-variants")
    return [str(script)] if script.exists() else [sys.executable, "-m", "lr_variants"]


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-2000:]
    return seconds, proc.stdout


def _case(name: str) -> tuple[list[str], list[str], dict[str, str]]:
    """(full command, start-up command, extra environment) for one benchmark."""
    if name == "article_script":
        argv = [sys.executable, "-c", ARTICLE_SCRIPT]
        return argv, argv, {"ARTICLE_EPOCHS": "0"}
    if name in COMPARE:
        argv = [*_lr_variants(), "compare", *COMPARE[name]]
        return argv, [*argv, "--epochs", "0"], {}
    argv = [*_lr_variants(), "train", "--variant", name.removesuffix("_fast")]
    if name.endswith("_fast"):
        argv += ["--impl", "fast"]
    return argv, [*argv, "--epochs", "0"], {}


@pytest.mark.benchmark(group="startup")
@pytest.mark.parametrize("name", ["numpy", "module", "module_fast", "article_script", *COMPARE])
def test_startup(benchmark: Any, name: str) -> None:
    full, startup, startup_env = _case(name)
    env = {**os.environ, "OMP_NUM_THREADS": THREADS, "PYTHONPATH": str(REPO)}
    rounds = 1 if benchmark.disabled else COMPARE_ROUNDS if name in COMPARE else ROUNDS

    startups = [_timed(startup, {**env, **startup_env})[0] for _ in range(rounds)]
    totals: list[float] = []
    outputs: list[str] = []

    def run() -> None:
        seconds, out = _timed(full, env)
        totals.append(seconds)
        outputs.append(out)

    benchmark.pedantic(run, rounds=rounds, iterations=1)

    lines = outputs[-1].splitlines()
    if name in COMPARE:  # the header, then a row per variant and form
        assert lines[1].split()[:2] == ["variant", "impl"] and len(lines) >= 7
    else:
        assert len(lines) == 11 and lines[0].startswith("Epoch [10/100], Loss: ")
        assert lines[-1].startswith("Accuracy: 0.99")
    startup_s, total_s = min(startups), min(totals)
    benchmark.extra_info.update(
        {
            "program": name,
            "command": " ".join(full),
            "OMP_NUM_THREADS": THREADS,
            "rounds": rounds,
            "startup_s": startup_s,
            "total_s": total_s,
            "training_s": max(total_s - startup_s, 0.0),
            "startup_rounds_s": startups,
            "total_rounds_s": totals,
        }
    )
    print(
        f"\n{name}: start-up {startup_s:.3f} s, total {total_s:.3f} s, training "
        f"{total_s - startup_s:.3f} s (min of {rounds}, OMP_NUM_THREADS={THREADS})"
    )
