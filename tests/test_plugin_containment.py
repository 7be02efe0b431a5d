"""Hostile plug-ins: code the library did not write may raise, call ``sys.exit``, hang, print or
return something that is not a variant. Through the real command line (a subprocess: exit
status, stderr, stdout) and the kit's API, each is one line naming the variant, the phase and
the exception, never obeyed, never a traceback (unless ``--debug``), and never a pass; every
call into a plug-in has a time limit; plug-in specs resolve in every launch path; installed
entry points are imported only when their name is asked for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import lr_variants as lv
from lr_variants import _contain, registry, specs

REPO = Path(__file__).resolve().parents[1]

# one module of plug-ins, each failing one way; `good` is a correct gradient function
HOSTILE = textwrap.dedent(
    """
    import sys, time
    import numpy as np

    def good(w, b, X, y, s):
        u = np.full(len(y), 1.0 / len(y), dtype=X.dtype) if s is None else s
        z = X @ w + b
        e = np.exp(-np.abs(z))
        r = u * (np.where(z >= 0, 1.0, e) / (1.0 + e) - y)
        return u @ (np.logaddexp(0.0, z) - y * z), X.T @ r, r.sum()

    def runtime(w, b, X, y, s):
        raise RuntimeError("planted runtime\\nsecond line")

    def keyerror(w, b, X, y, s):
        return {}["planted_key"]

    def zerodiv(w, b, X, y, s):
        return 1 / 0

    def recursion(w, b, X, y, s):
        return recursion(w, b, X, y, s)

    def assertion(w, b, X, y, s):
        assert len(y) < 0, "planted assertion"

    def exits(w, b, X, y, s):
        sys.exit(3)

    def hangs(w, b, X, y, s):
        while True:
            pass

    def sleeps(w, b, X, y, s):
        time.sleep(600)

    def stubborn(w, b, X, y, s):  # swallows whatever interrupts it, then keeps going
        while True:
            try:
                time.sleep(600)
            except BaseException:
                pass

    def marked(w, b, X, y, s):  # says it is inside (a file), then swallows every interruption
        open("inside", "w").close()
        stubborn(w, b, X, y, s)

    def marked_sleeps(w, b, X, y, s):  # says it is inside, then sleeps (Ctrl-C ends it)
        open("inside", "w").close()
        time.sleep(600)

    def sleeps_in_ranks(w, b, X, y, s):  # correct in one process, hangs in a launch's ranks
        import torch.distributed as dist
        if dist.is_available() and dist.is_initialized():
            time.sleep(600)
        return good(w, b, X, y, s)

    class ExitsWhenRead:  # NumPy reads it through __array__, which exits
        def __array__(self, dtype=None, copy=None):
            sys.exit(5)

    class HangsWhenRead:
        def __array__(self, dtype=None, copy=None):
            time.sleep(600)

    def array_exits(w, b, X, y, s):
        return 0.0, ExitsWhenRead(), 0.0

    def array_hangs(w, b, X, y, s):
        return 0.0, HangsWhenRead(), 0.0

    class Unprintable(Exception):
        def __str__(self):
            return 1 / 0

    def unprintable(w, b, X, y, s):
        raise Unprintable()

    def prints(w, b, X, y, s):
        print("a plug-in's print")
        return good(w, b, X, y, s)

    def tensor(w, b, X, y, s):
        import torch
        t = torch.zeros(len(w), dtype=torch.float64, requires_grad=True)
        return t.sum(), t, t.sum()

    def factory_none(w, b, *, sgd, dtype, device):
        return None

    def factory_int(w, b, *, sgd, dtype, device):
        return 7

    def factory_raises(w, b, *, sgd, dtype, device):
        raise ValueError("planted in the factory")

    def factory_exits(w, b, *, sgd, dtype, device):
        sys.exit(0)

    class Half:  # a half-made variant: no arrays, no optimizer, no loss
        def __init__(self, w, b, *, sgd, dtype, device):
            pass

        def step(self, X, y, u=None):
            return 0.0

    from lr_variants.textbook.numpy import NumpyLogisticRegression

    class StepRaises:
        def __init__(self, w, b, *, sgd, dtype, device="cpu"):
            inner = NumpyLogisticRegression(w, b, sgd=sgd, dtype=dtype)
            self.arrays, self.optimizer = inner.arrays, inner.optimizer
            self.get_params, self.set_params = inner.get_params, inner.set_params
            self.probabilities, self.loss, self.gradients = (
                inner.probabilities, inner.loss, inner.gradients
            )

        def step(self, X, y, u=None):
            raise ZeroDivisionError("planted in step")

    def params_none(w, b, *, sgd, dtype, device="cpu"):  # get_params returns None
        inner = NumpyLogisticRegression(w, b, sgd=sgd, dtype=dtype)
        inner.get_params = lambda: None
        return inner

    def probabilities_short(w, b, *, sgd, dtype, device="cpu"):  # 3 values for any X
        inner = NumpyLogisticRegression(w, b, sgd=sgd, dtype=dtype)
        inner.probabilities = lambda X: np.zeros(3)
        return inner

    class StepExits(StepRaises):
        def step(self, X, y, u=None):
            sys.exit(5)
    """
)


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``hostile.py`` in the current directory; registrations undone afterwards."""
    (tmp_path / "hostile.py").write_text(HOSTILE)
    (tmp_path / "exits_on_import.py").write_text("import sys\nsys.exit(4)\n")
    (tmp_path / "raises_on_import.py").write_text("raise KeyError('at import')\n")
    (tmp_path / "hangs_on_import.py").write_text("while True:\n    pass\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(registry, "_REGISTERED", {})
    monkeypatch.setattr(specs, "_RESOLVED", {})
    monkeypatch.setattr(specs, "_SPECS", {})
    yield tmp_path
    sys.modules.pop("hostile", None)


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m lr_variants ARGS`` in ``cwd``, the package importable from the checkout."""
    environ = {**os.environ, "PYTHONPATH": str(REPO)}
    for variable in (_contain.DEBUG_VARIABLE, _contain.TIMEOUT_VARIABLE):
        environ.pop(variable, None)
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "lr_variants", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environ,
        timeout=timeout,
        check=False,
    )


def one_line(err: str) -> str:
    """The one error line stderr holds (nothing else), no traceback."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("lr-variants: error: "), err
    assert "Traceback" not in err
    return lines[0]


# ------------------------------------------------------------------- raise, exit, return junk

FAILURES = {
    # attribute: (phase, what the line must say)
    "runtime": ("gradient", "RuntimeError: planted runtime"),
    "keyerror": ("gradient", "KeyError: 'planted_key'"),
    "zerodiv": ("gradient", "ZeroDivisionError: division by zero"),
    "recursion": ("gradient", "RecursionError: maximum recursion depth exceeded"),
    "assertion": ("gradient", "AssertionError: planted assertion"),
    "exits": ("gradient", "SystemExit(3)"),
    "tensor": ("gradient", "Tensor that requires grad"),
    "factory_none": ("factory", "it returned None, not a variant"),
    "factory_int": ("factory", "it returned int 7, not a variant"),
    "Half": ("factory", "it returned a Half object, not a variant"),
    "factory_raises": ("factory", "ValueError: planted in the factory"),
    "factory_exits": ("factory", "SystemExit(0)"),
    "StepRaises": ("step", "ZeroDivisionError: planted in step"),
    "StepExits": ("step", "SystemExit(5)"),
}


@pytest.mark.parametrize("attr", list(FAILURES))
def test_a_failing_plugin_is_one_line_naming_variant_phase_and_exception(hostile, attr) -> None:
    phase, said = FAILURES[attr]
    out = cli("train", "--variant", f"hostile:{attr}", "--epochs", "2", "--json", cwd=hostile)
    assert out.returncode == 1, out.stderr
    line = one_line(out.stderr)
    assert f"plug-in variant '{attr}' failed in {phase}: " in line and said in line, line
    assert out.stdout == ""


@pytest.mark.parametrize(
    "module, said",
    [("exits_on_import", "SystemExit(4)"), ("raises_on_import", "KeyError: 'at import'")],
)
def test_a_module_failing_at_import_is_one_line_and_exit_2(hostile, module, said) -> None:
    for argv in (["train", "--variant"], ["compare", "--variants"], ["check"]):
        out = cli(*argv, f"{module}:grad", cwd=hostile)
        assert out.returncode == 2, out.stderr
        line = one_line(out.stderr)
        assert f"cannot import '{module}'" in line and said in line, line


def test_debug_shows_the_plugins_traceback(hostile) -> None:
    for extra, env in ((["--debug"], {}), ([], {"LR_VARIANTS_DEBUG": "1"})):
        out = cli(
            "train", "--variant", "hostile:runtime", "--epochs", "1", *extra, cwd=hostile, env=env
        )
        assert out.returncode == 1
        assert "Traceback" in out.stderr and 'hostile.py", line' in out.stderr, out.stderr
        assert out.stderr.splitlines()[-1].startswith("lr-variants: error: plug-in variant")
    out = cli("check", "exits_on_import:grad", "--debug", cwd=hostile)
    assert out.returncode == 2 and "SystemExit: 4" in out.stderr, out.stderr


def test_a_plugins_print_never_reaches_json_stdout(hostile) -> None:
    for argv in (
        ["train", "--variant", "hostile:prints", "--epochs", "1", "--json"],
        ["compare", "--variants", "numpy,hostile:prints", "--epochs", "1", "--json"],
    ):
        out = cli(*argv, cwd=hostile)
        assert out.returncode == 0, out.stderr
        json.loads(out.stdout)  # nothing but the JSON object
        assert "a plug-in's print" in out.stderr


@pytest.mark.parametrize(
    ("attr", "said"),
    [
        ("array_exits", "failed in gradient: SystemExit(5): it called sys.exit"),
        ("array_hangs", "did not return from gradient within 1 s"),
        ("unprintable", "failed in gradient: Unprintable (its message could not be read)"),
    ],
)
def test_what_a_plugin_returns_or_raises_is_read_inside_the_guard(hostile, attr, said) -> None:
    """Reading the plug-in's result (its ``__array__``) or its exception's message runs the
    plug-in's code too: contained like the call."""
    start = time.monotonic()
    out = cli(
        "train", "--variant", f"hostile:{attr}", "--epochs", "1", "--plugin-timeout", "1",
        cwd=hostile,
    )  # fmt: skip
    assert out.returncode == 1, out.stderr
    assert said in one_line(out.stderr)
    assert time.monotonic() - start < 60


@pytest.mark.parametrize(
    ("attr", "said"),
    [
        ("params_none", "failed in get_params: it must return (w, b); got None"),
        ("probabilities_short", "failed in probabilities: it must return one probability per row"),
    ],
)
def test_what_a_variants_methods_return_is_checked_and_named(hostile, attr, said) -> None:
    for command in (["train"], ["compare", "--impl", "textbook"]):
        flag = "--variant" if command == ["train"] else "--variants"
        out = cli(*command, flag, f"hostile:{attr}", "--epochs", "1", cwd=hostile)
        assert out.returncode == 1, out.stderr
        assert said in one_line(out.stderr)


# ------------------------------------------------------------------------------ time limits


def test_a_callers_alarm_stays_theirs(hostile) -> None:
    """The time limit borrows SIGALRM only while it is free: a caller's handler and running
    timer are left alone, and after a plug-in call SIGALRM is as it was."""
    import signal

    name = specs.resolve("hostile:good")
    X, y = lv.two_blobs(50)
    lv.train(lv.create(name, 2), X, y, epochs=1)
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL  # handed back
    fired: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        lv.train(lv.create(name, 2), X, y, epochs=1)  # while their timer runs
        deadline = time.monotonic() + 10
        while not fired and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fired, "the caller's timer was cancelled"
        fired.clear()
        signal.setitimer(signal.ITIMER_REAL, 0.2)  # and their handler still gets it after
        deadline = time.monotonic() + 10
        while not fired and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("attr", ["hangs", "sleeps", "stubborn"])
def test_a_plugin_past_its_time_limit_ends_the_run_with_one_line(hostile, attr) -> None:
    for argv in (
        ["train", "--variant", f"hostile:{attr}", "--epochs", "1"],
        ["check", f"hostile:{attr}", "--dtypes", "float64"],
    ):
        start = time.monotonic()
        out = cli(*argv, "--plugin-timeout", "0.5", cwd=hostile, timeout=60)
        took = time.monotonic() - start
        assert out.returncode == 1, out.stderr
        line = one_line(out.stderr)
        assert f"plug-in variant '{attr}' did not return from gradient within 0.5 s" in line
        assert "passed" not in out.stdout  # never a pass for code that did not finish
        assert took < 20, took  # the interpreter's start and imports, plus 0.5 s


@pytest.mark.parametrize("attr", ["marked_sleeps", "marked"])
def test_ctrl_c_inside_a_plugin_is_an_interrupted_run(hostile, attr) -> None:
    """Ctrl-C while a plug-in runs ends the run as Ctrl-C does anywhere (one line, exit
    status 130), also when the plug-in catches the KeyboardInterrupt and goes on: GRACE
    seconds later, long before its time limit."""
    environ = {**os.environ, "PYTHONPATH": str(REPO)}
    environ.pop(_contain.TIMEOUT_VARIABLE, None)
    cmd = [sys.executable, "-m", "lr_variants", "train", "--variant", f"hostile:{attr}"]
    proc = subprocess.Popen(
        [*cmd, "--plugin-timeout", "300"],
        cwd=hostile,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120  # the start-up, on a busy machine
        while not (hostile / "inside").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(2)  # SIGINT
        start = time.monotonic()
        _, err = proc.communicate(timeout=60)
        took = time.monotonic() - start
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == ["lr-variants: interrupted"], err
    assert took < _contain.GRACE + 30, took  # not the 300 s limit


def test_the_time_limit_comes_from_the_environment_and_covers_imports(hostile) -> None:
    out = cli(
        "train",
        "--variant",
        "hangs_on_import:grad",
        cwd=hostile,
        env={"LR_VARIANTS_PLUGIN_TIMEOUT": "0.5"},
    )
    assert out.returncode == 1
    assert "did not return from import within 0.5 s" in one_line(out.stderr)


@pytest.mark.parametrize("value", ["0", "-1", "1e-6", "nan", "inf", "1e7", "soon", "9" * 5000])
def test_a_bad_time_limit_is_one_line_and_exit_2(hostile, value) -> None:
    out = cli("train", "--variant", "hostile:good", "--plugin-timeout", value, cwd=hostile)
    assert out.returncode == 2 and "--plugin-timeout" in one_line(out.stderr)
    assert len(out.stderr) < 300  # a huge value is not echoed whole
    out = cli("check", "hostile:good", cwd=hostile, env={"LR_VARIANTS_PLUGIN_TIMEOUT": value})
    assert out.returncode == 2 and "LR_VARIANTS_PLUGIN_TIMEOUT" in one_line(out.stderr)
    assert len(out.stderr) < 300


def test_check_variant_ends_at_the_time_limit_and_never_passes(hostile) -> None:
    from lr_variants.testing import check_variant

    name = specs.resolve("hostile:sleeps")
    _contain.set_timeout(0.2)
    try:
        start = time.monotonic()
        with pytest.raises(_contain.PluginTimeout, match="did not return from gradient"):
            check_variant(name, dtypes=("float64",), max_examples=2)
        assert time.monotonic() - start < 5
    finally:
        _contain.set_timeout(None)


# ---------------------------------------------------------------------- the kit's own API


@pytest.mark.parametrize("attr", ["exits", "factory_exits", "StepExits", "factory_none", "Half"])
def test_check_variant_never_lets_systemexit_out(hostile, attr) -> None:
    from lr_variants.testing import ConformanceError, check_variant

    name = specs.resolve(f"hostile:{attr}")
    with pytest.raises(ConformanceError) as info:
        check_variant(name, dtypes=("float64",), max_examples=2)
    assert not info.value.report.ok
    assert info.value.report.failed


def test_check_on_a_nondeterministic_plugin_is_a_finding_without_a_traceback(hostile) -> None:
    (hostile / "flaky.py").write_text(
        textwrap.dedent(
            """
            from hostile import good
            calls = [0]

            def grad(w, b, X, y, s):
                calls[0] += 1
                loss, gw, gb = good(w, b, X, y, s)
                return loss + (calls[0] % 2) * 1e-3, gw, gb
            """
        )
    )
    out = cli("check", "flaky:grad", "--dtypes", "float64", "--max-examples", "5", cwd=hostile)
    assert out.returncode == 1, out.stderr
    assert "non-deterministic" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr
    assert "ExceptionGroup" not in out.stdout + out.stderr


# --------------------------------------------------------------------------------- compare


def test_compare_keeps_going_when_a_plugin_fails(hostile) -> None:
    argv = ["compare", "--variants", "numpy,hostile:runtime,mine=hostile:good,hostile:factory_none"]
    out = cli(*argv, "--epochs", "2", "--impl", "textbook", cwd=hostile)
    assert out.returncode == 1, out.stderr
    rows = out.stdout.splitlines()
    assert rows[1].split()[7] == "time/ref"  # after "train s"
    numpy_row = next(r for r in rows if r.startswith("numpy "))
    assert numpy_row.split()[5] == "1.00"  # the reference row's own ratio
    assert any(r.startswith("mine ") for r in rows)
    assert any(
        r.startswith("runtime ") and "failed in gradient: RuntimeError: planted runtime" in r
        for r in rows
    )
    assert any(r.startswith("factory_none ") and "failed in factory" in r for r in rows)
    out = cli(*argv, "--epochs", "2", "--impl", "textbook", "--json", cwd=hostile)
    assert out.returncode == 1
    got = json.loads(out.stdout)
    assert [r["variant"] for r in got["results"]] == ["numpy", "mine"]
    assert got["results"][0]["time_ratio"] == 1.0
    assert {f["variant"]: f["phase"] for f in got["failed"]} == {
        "runtime": "gradient",
        "factory_none": "factory",
    }
    assert "max_abs_param_diff" in got["results"][1]  # the existing keys stay


def test_lv_compare_raises_unless_asked_to_keep_going(hostile) -> None:
    X, y = lv.two_blobs(40, seed=1)
    with pytest.raises(_contain.PluginError, match="failed in gradient: RuntimeError"):
        lv.compare(X, y, variants=["numpy", "hostile:runtime"], impls=["textbook"], epochs=1)
    c = lv.compare(
        X, y, variants=["numpy", "hostile:runtime"], impls=["textbook"], epochs=1, keep_going=True
    )
    assert [r.variant for r in c.results] == ["numpy"]
    assert [(f.variant, f.phase) for f in c.failed] == [("runtime", "gradient")]


# ------------------------------------------------------------------------------ label=spec


def test_label_names_a_plugin(hostile) -> None:
    out = cli(
        "compare",
        "--variants",
        "numpy,mine=hostile:good",
        "--epochs",
        "1",
        "--impl",
        "textbook",
        "--json",
        cwd=hostile,
    )
    assert out.returncode == 0, out.stderr
    assert [r["variant"] for r in json.loads(out.stdout)["results"]] == ["numpy", "mine"]
    out = cli(
        "check", "mine=hostile:good", "--dtypes", "float64", "--max-examples", "2", cwd=hostile
    )
    assert out.returncode == 0, out.stderr
    assert "conformance of variant 'mine'" in out.stdout


@pytest.mark.parametrize(
    "variants, said",
    [
        ("numpy,numpy=hostile:good", "must not be a built-in variant's name"),
        ("numpy,my-label=hostile:good", "must be a Python identifier"),
        ("mine=hostile:good,mine=hostile:runtime", "must give each label once"),
        ("hostile:good,good=hostile:runtime", "must name each variant once"),
        ("mine=numpy", "label=package.module:attribute"),
    ],
)
def test_bad_labels_are_one_line_and_exit_2(hostile, variants, said) -> None:
    for command in (["compare"], ["plot", "--out", "x.png"]):
        out = cli(*command, "--variants", variants, "--epochs", "1", cwd=hostile)
        assert out.returncode == 2, out.stderr
        assert said in one_line(out.stderr)
    assert not (hostile / "x.png").exists()


# -------------------------------------------------------------------------- launch paths


@pytest.mark.slow
def test_plugins_resolve_in_every_worker_of_a_launch(hostile) -> None:
    out = cli(
        "compare",
        "--world-size",
        "2",
        "--force-world-size",
        "--variants",
        "numpy,hostile:good,mine=hostile:good",
        "--epochs",
        "2",
        "--impl",
        "textbook",
        "--json",
        cwd=hostile,
    )
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["results"]
    assert [r["variant"] for r in rows] == ["numpy", "good", "mine"]
    assert all(r["ranks_equal"] for r in rows)


@pytest.mark.slow
def test_the_time_limit_of_the_flag_reaches_the_workers_of_a_launch(hostile) -> None:
    start = time.monotonic()
    out = cli(
        "compare",
        "--world-size",
        "2",
        "--force-world-size",
        "--variants",
        "hostile:sleeps_in_ranks",
        "--epochs",
        "1",
        "--plugin-timeout",
        "3",
        cwd=hostile,
    )
    took = time.monotonic() - start
    assert out.returncode == 1, out.stderr
    assert "did not return from gradient within 3 s" in one_line(out.stderr)
    assert took < 55, took  # not the 60 s default


@pytest.mark.slow
def test_torchrun_ranks_resolve_a_plugin_spec_as_one_process_does(hostile) -> None:
    train = ["train", "--variant", "hostile:good", "--epochs", "20", "--dtype", "float64"]
    one = cli(*train, "--quiet", cwd=hostile)
    assert one.returncode == 0, one.stderr
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    ranks = subprocess.run(
        [*torchrun, "-m", "lr_variants", *train, "--quiet", "--distributed"],
        capture_output=True,
        text=True,
        cwd=hostile,
        env=env,
        timeout=240,
        check=False,
    )
    assert ranks.returncode == 0, ranks.stderr
    assert ranks.stdout == one.stdout  # rank 0 prints what one process prints
    failing = subprocess.run(
        [*torchrun, "-m", "lr_variants", "train", "--variant", "hostile:runtime", "--distributed"],
        capture_output=True,
        text=True,
        cwd=hostile,
        env=env,
        timeout=240,
        check=False,
    )
    assert failing.returncode != 0
    said = "plug-in variant 'runtime' failed in gradient: RuntimeError: planted runtime"
    assert failing.stderr.count(said) == 2  # one line from each rank


# ------------------------------------------------------------------ entry points, lazily

RECORDER = textwrap.dedent(
    """
    import os
    open(os.environ["IMPORTED_LOG"], "a").write("imported\\n")

    def grad(w, b, X, y, s):
        from hostile import good
        return good(w, b, X, y, s)
    """
)


def test_entry_points_are_imported_only_when_their_name_is_asked_for(hostile) -> None:
    site = hostile / "site"
    info = site / "recorder_pkg-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: recorder_pkg\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[lr_variants.variants]\nrecorded = recorder_mod:grad\nbroken = exits_on_import:grad\n"
    )
    (site / "recorder_mod.py").write_text(RECORDER)
    log = hostile / "imported.log"
    script = textwrap.dedent(
        f"""
        import sys
        sys.path[:0] = [{str(site)!r}, {str(hostile)!r}]
        import lr_variants as lv
        from lr_variants import specs
        from pathlib import Path
        log = Path({str(log)!r})
        assert specs.resolve("numpy") == "numpy"
        lv.create("numpy", 2)
        names = lv.variants()
        assert "recorded" in names and "broken" in names, names
        assert not log.exists(), "listing or resolving a built-in imported a plug-in"
        lv.create("recorded", 2)
        assert log.read_text() == "imported\\n"
        try:
            lv.create("broken", 2)
        except ValueError as exc:
            print(exc)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "IMPORTED_LOG": str(log)},
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "variant 'broken' is installed but failed to load" in out.stdout
    assert "SystemExit(4)" in out.stdout


def test_the_cost_of_containment_is_off_the_builtins_path() -> None:
    """Built-in variants are not wrapped; a plug-in's variant is (its methods contained)."""
    assert not isinstance(lv.create("numpy", 2).engine, _contain.Guarded)
    name = lv.register_variant("contained_numpy", _numpy_factory)
    assert isinstance(lv.create(name, 2).engine, _contain.Guarded)


def _numpy_factory(w, b, *, sgd, dtype, device="cpu"):  # type: ignore[no-untyped-def]
    from lr_variants.textbook.numpy import NumpyLogisticRegression

    return NumpyLogisticRegression(w, b, sgd=sgd, dtype=dtype)
