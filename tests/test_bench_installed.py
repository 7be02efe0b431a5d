"""``lr-variants bench``: the benchmark suite ships in the package (``bench/`` installed as
``lr_variants._bench``) and runs from any folder, the results written there (or into --out).

The slow test installs the package without ``-e`` (its wheel's files, into a folder of its own)
and times a plug-in from a folder outside the checkout, as a user of ``pip install
"lr_variants[bench]"`` would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from setuptools import find_packages

from lr_variants.cli import bench, main

REPO = Path(__file__).resolve().parents[1]
PUBLISHED = sorted((REPO / "bench" / "results").glob("*.json"))
# a from_gradient plug-in: the mean binary cross-entropy and its gradient, in NumPy
MYMOD = """\
import numpy as np


def grad(w, b, X, y, weights=None):
    z = X @ w + b
    s = np.ones(len(y), dtype=X.dtype) if weights is None else weights
    loss = np.sum(s * (np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))) / np.sum(s)
    r = s * (1 / (1 + np.exp(-z)) - y) / np.sum(s)
    return loss, X.T @ r, np.sum(r)
"""
# the plug-in on the article workload only (QUICK sizes): its float32 and float64 rows
SUBSET = ["--", "-k", "test_train[article-grad-"]


def test_every_package_and_the_benchmark_suite_are_installed() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    assert set(find_packages(str(REPO), include=["lr_variants*"])) <= listed
    assert config["package-dir"] == {"lr_variants._bench": "bench"}
    assert "lr_variants._bench" in listed and (REPO / "bench" / "__init__.py").is_file()


def test_help_says_where_results_go_and_what_publish_does(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "write its results into the current folder (or --out)" in out
    assert "--publish, in a source checkout only, runs the checkout's bench/report.py" in out


def test_publish_runs_the_checkouts_report_and_is_refused_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--publish (a flag users script) runs bench/report.py --publish where the checkout is,
    and is one line and exit status 2 outside one."""
    ran: list[tuple[list[str], str]] = []

    def fake_run(cmd: list[str], cwd: Path, check: bool) -> subprocess.CompletedProcess[str]:
        ran.append((cmd, str(cwd)))
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    monkeypatch.chdir(REPO / "docs")  # below the checkout's root
    assert main(["bench", "--publish", "--", "-k", "article"]) == 0
    assert ran == [
        ([sys.executable, "bench/report.py", "--publish", "--", "-k", "article"], str(REPO))
    ]
    monkeypatch.chdir(tmp_path)
    assert main(["bench", "--publish"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--publish rewrites docs/benchmarks.md of a source checkout" in err[0]
    assert len(ran) == 1


def test_the_suite_is_found_as_a_package() -> None:
    assert (bench.suite() / "conftest.py").is_file()
    assert (bench.suite() / "test_train.py").is_file()


@pytest.mark.skipif(not PUBLISHED, reason="no published run under bench/results/")
def test_render_only_writes_into_out_and_nothing_beside_the_suite(tmp_path: Path) -> None:
    before = sorted((REPO / "bench" / "results").iterdir())
    json_file = PUBLISHED[-1]
    assert main(["bench", "--render-only", str(json_file), "--out", str(tmp_path / "o")]) == 0
    md = tmp_path / "o" / f"{json_file.stem}.md"
    assert md.is_file() and md.with_suffix(".png").stat().st_size > 0
    assert "| `numpy` |" in md.read_text()
    assert sorted((REPO / "bench" / "results").iterdir()) == before
    # the suite's folder was on sys.path for the run only: a process spawned later must find
    # tests/test_distributed.py, not bench/'s module of that name
    assert str(bench.suite()) not in sys.path


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--out", "afile"], "--out must be a folder; got 'afile'"),
        (["--render-only", ""], "--render-only must name a JSON file; got an empty string"),
        (["--render-only", "x.json", "--", "-k", "a"], "--render-only runs nothing"),
        (["--variants", "nosuch_module_xyz:grad"], "cannot import 'nosuch_module_xyz'"),
        (["--", "--benchmark-disable"], "--benchmark-disable times nothing"),
        (["--publish", "--out", "elsewhere"], "--out has no effect with --publish"),
    ],
)
def test_bad_arguments_are_one_line(tmp_path: Path, monkeypatch, capsys, argv, message) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("")
    assert main(["bench", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # nothing written


def _rows(folder: Path) -> tuple[list[str], dict]:
    (json_file,) = folder.glob("*.json")
    data = json.loads(json_file.read_text())
    assert json_file.with_suffix(".md").is_file() and json_file.with_suffix(".png").is_file()
    return sorted(b["name"] for b in data["benchmarks"]), data["machine_info"]["lr_variants"]


EXPECTED = [
    "test_train[article-grad-textbook-cpu-float32]",
    "test_train[article-grad-textbook-cpu-float64]",
]


@pytest.mark.slow
def test_bench_times_a_plugin_from_any_folder(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "mymod.py").write_text(MYMOD)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LR_BENCH_QUICK", "1")
    assert main(["bench", "--variants", "mymod:grad", "--out", "res", *SUBSET]) == 0
    names, info = _rows(tmp_path / "res")
    assert names == EXPECTED and info["plugin_variants"] == ["grad"]
    assert "LR_BENCH_VARIANTS" not in os.environ  # set for the run only
    assert str(bench.suite()) not in sys.path


@pytest.mark.slow
def test_bench_runs_from_a_non_editable_install(tmp_path: Path) -> None:
    """The wheel's files, not the checkout: built, installed into a folder of their own, put
    first on the path of a run from a folder outside the checkout."""
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    build = [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(REPO)]
    subprocess.run(build, check=True, capture_output=True)
    (wheel,) = wheels.glob("lr_variants-*.whl")
    install = [*pip, "install", "--no-deps", "--no-compile", "--target", str(site), str(wheel)]
    subprocess.run(install, check=True, capture_output=True)
    assert (site / "lr_variants" / "_bench" / "test_train.py").is_file()

    work = tmp_path / "work"
    work.mkdir()
    (work / "mymod.py").write_text(MYMOD)
    env = {**os.environ, "PYTHONPATH": str(site), "LR_BENCH_QUICK": "1"}
    env.pop("LR_BENCH_VARIANTS", None)
    cmd = [sys.executable, "-m", "lr_variants", "bench", "--variants", "mymod:grad", *SUBSET]
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    # the suite that ran is the installed copy, and the results are in the current folder
    assert f"-m pytest {site / 'lr_variants' / '_bench'} " in proc.stdout
    names, info = _rows(work)
    assert names == EXPECTED and info["plugin_variants"] == ["grad"]
