"""The command line under bad input and a hostile environment: one line on stderr, a meaningful
exit status (2 bad input, 1 divergence or unwritable output, 130 Ctrl-C), never a traceback,
and stdout either valid JSON or empty."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from lr_variants.cli import main

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
HUGE = str(10**30)
# How long a child process may take to reach each point (start training, exit after a signal,
# finish a short run): a few seconds on an idle machine; generous because on a machine loaded
# many times over (the whole suite stretched tenfold) each step slows accordingly. A child that
# is really stuck fails the test after this long instead of hanging it.
LIMIT = 300


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors leave through parser.exit
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_line(err: str) -> None:
    assert err.count("\n") == 1 and err.startswith("lr-variants: ") and "Traceback" not in err


@pytest.mark.parametrize(
    "argv,message",
    [
        (["compare", "--variants", "module", "--threads", "100000"], "--threads: must be from 1"),
        (["compare", "--threads", "0"], "--threads: must be from 1"),
        (["compare", "--threads", HUGE], "argument --threads"),
        (["compare", "--epochs", HUGE], "argument --epochs"),
        (["compare", "--article", "--batch-size", HUGE], "argument --batch-size"),
        (["compare", "--variants", "numpy", "--lr", "1e39"], "lr must be representable"),
        (["compare", "--variants", "numpy", "--weight-decay", "1e308"], "weight_decay must be"),
        (["compare", "--variants", "numpy", "--epochs", "100000000"], "must be at most"),
        (["compare", "--data", "", "--variants", "numpy"], "--data must name a CSV"),
        (["train", "--data", ""], "--data must name a CSV"),
        (["compare", "--impl", "quick"], "argument --impl: invalid choice: 'quick'"),
        (["plot", "--out", "x.jpg", "--variants", "numpy"], "--out must end in .png"),
        (["plot", "--out", "", "--variants", "numpy"], "--out must be a .png file or a dir"),
        (["plot", "--out", "/proc/x/y.png", "--variants", "numpy"], "--out must be a path"),
        (["explain", "--saturate", "1e308"], "--saturate must be small enough"),
        (["explain", "--saturate", "-1"], "--saturate must be > 0.0"),
        (["explain", "--dot", "/proc/x/y.dot"], "--dot must be a writable file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # plot --out x.jpg would land here
    code, out, err = _run(argv, capsys)
    assert code == 2 and out == ""
    _one_line(err)
    assert message in err
    assert not (tmp_path / "x.jpg").exists()  # no directory named like a picture


def test_output_paths_that_are_not_regular_files(tmp_path: Path, capsys) -> None:
    """A file where a directory must be, and a FIFO (writing would block forever)."""
    file = tmp_path / "FILE"
    file.write_text("")
    argv = ["plot", "--variants", "numpy", "--epochs", "1", "--out", str(file / "sub")]
    pytest.importorskip("matplotlib")
    code, _, err = _run(argv, capsys)
    assert code == 2 and "--out must be a path this process can write" in err
    _one_line(err)
    fifo = tmp_path / "f.png"
    os.mkfifo(fifo)
    code, _, err = _run([*argv[:-1], str(fifo)], capsys)
    assert code == 2 and "is not a regular file" in err
    code, _, err = _run(["explain", "--dot", str(fifo)], capsys)
    assert code == 2 and "--dot must be a regular file" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["compare", "--variants", "numpy", "--lr", "1e38", "--batch-size", "1000", "--epochs", "1"],
        ["compare", "--lr", "1e308", "--dtype", "float64", "--batch-size", "1000", "--epochs", "1"],
    ],
)
@pytest.mark.parametrize("as_json", [False, True])
def test_divergence_is_one_line_exit_1_and_nothing_on_stdout(argv, as_json, capsys) -> None:
    """The last step overflows (its loss, taken before the step, is still finite): caught at
    the end; with --json stdout stays empty rather than holding NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a NumPy RuntimeWarning fails the test
        code, out, err = _run([*argv, *(["--json"] if as_json else [])], capsys)
    assert code == 1 and out == ""
    _one_line(err)
    assert "numpy: training diverged" in err


def test_degenerate_data_trains_and_says_why_there_is_no_optimum(tmp_path, capsys) -> None:
    """A constant column, a repeated column and fewer rows than features + 1."""
    path = tmp_path / "d.csv"
    path.write_text("a,b,c,label\n1,3,3,0\n1,5,5,1\n")
    code, out, _err = _run(["compare", "--data", str(path), "--epochs", "2", "--json"], capsys)
    assert code == 0
    result = json.loads(out)
    assert len(result["results"]) >= 5 and all(r["loss"] > 0 for r in result["results"])
    assert "rank" in result["optimum"] and "pass --weight-decay > 0" in result["optimum"]
    code, out, _ = _run(["compare", "--data", str(path), "--epochs", "2"], capsys)
    assert code == 0 and out.splitlines()[-1].startswith("optimum: none: X plus an intercept")


def test_the_penalty_has_one_name(capsys) -> None:
    code, _, err = _run(["solve"], capsys)
    assert code == 2 and err.endswith("pass --weight-decay > 0\n")
    code, out, _ = _run(["compare", "--variants", "numpy", "--epochs", "1"], capsys)
    assert "pass --weight-decay > 0" in out and "l2" not in out
    for flag in ("--weight-decay", "--l2"):
        code, out, _ = _run(["solve", flag, "0.01", "--json"], capsys)
        assert code == 0 and json.loads(out)["weight_decay"] == 0.01


def _child(*argv: str, **kwargs) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lr_variants", *argv],
        cwd=REPO,
        env=ENV,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_ctrl_c_is_one_line_and_exit_130() -> None:
    proc = _child("train", "--variant", "module", "--epochs", "100000", stdout=subprocess.PIPE)
    # train prints a line every 10 epochs as it goes: once the first is out, training is
    # under way (the package's own imports, before any handler can exist, are long done); no
    # fixed wait, which a loaded machine could outlast before training starts
    assert proc.stdout is not None
    started, _, _ = select.select([proc.stdout], [], [], LIMIT)
    if not started:
        proc.kill()
        pytest.fail(f"train printed nothing within {LIMIT} s")
    assert proc.stdout.readline().startswith("Epoch [10/100000]")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=LIMIT)
    assert proc.returncode == 130
    assert err == "lr-variants: interrupted\n"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_a_full_disk_on_stdout_is_one_line() -> None:
    with open("/dev/full", "w") as full:
        proc = _child("train", "--variant", "numpy", "--epochs", "20", stdout=full)
        _, err = proc.communicate(timeout=LIMIT)
    assert proc.returncode == 1
    assert err == "lr-variants: error: cannot write to standard output: No space left on device\n"


def test_a_closed_pipe_is_quiet() -> None:
    proc = _child("compare", "--variants", "numpy", "--epochs", "2", stdout=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.close()  # the reader went away, as `| head -0` does
    _, err = proc.communicate(timeout=LIMIT)
    assert err == "" and proc.returncode == 0


@pytest.mark.skipif(sys.platform == "win32", reason="sh and >&- are POSIX")
@pytest.mark.parametrize(
    "argv", [["train"], ["train", "--json"], ["compare", "--variants", "numpy"]]
)
def test_a_closed_stdout_is_one_line_and_exit_1(argv: list[str]) -> None:
    """Started with stdout closed (``>&-``): one line, exit status 1, before any training
    (a traceback, "'NoneType' object has no attribute 'flush'", before)."""
    script = 'exec "$0" -m lr_variants "$@" --epochs 1 >&-'
    out = subprocess.run(
        ["sh", "-c", script, sys.executable, *argv],
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    assert out.stderr == (
        "lr-variants: error: cannot write to standard output: it is closed (redirect it to a "
        "file, or to /dev/null to discard it)\n"
    )


WARNING_PLUGIN = """
import warnings

import numpy as np


def gradient(w, b, X, y, s):
    warnings.warn("a plug-in's warning\\nover two lines")
    z = X @ w + b
    p = 1 / (1 + np.exp(-z))
    return np.mean(np.logaddexp(0, z) - y * z), X.T @ (p - y) / len(y), np.mean(p - y)
"""


def test_a_warning_is_one_line_without_its_source(tmp_path: Path) -> None:
    """A warning raised while the command runs is one ``lr-variants: warning:`` line, never
    Python's two lines with the source line that raised it."""
    (tmp_path / "warner.py").write_text(WARNING_PLUGIN)
    argv = ["train", "--variant", "warner:gradient", "--epochs", "2"]
    out = subprocess.run(
        [sys.executable, "-m", "lr_variants", *argv],
        cwd=REPO,
        env={**ENV, "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr == (
        "lr-variants: warning: a plug-in's warning over two lines (UserWarning)\n"
    ), out.stderr
