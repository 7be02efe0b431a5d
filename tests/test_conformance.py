"""The conformance kit (lr_variants.testing) catches planted faults by name, passes correct
code, and every built-in variant passes its own suite through the same public entry points."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import lr_variants as lv
from lr_variants.testing import ConformanceError, Report, check_variant, variant_checks
from lr_variants.testing import strategies as S

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "lr_variants_example"


# ======================================================================= correct code


def good_gradient(w, b, X, y, sample_weight):
    """A correct plain-NumPy loss-and-gradient function."""
    z = X @ w + b
    u = np.full(len(y), 1.0 / len(y), dtype=X.dtype) if sample_weight is None else sample_weight
    e = np.exp(-np.abs(z))
    r = u * (np.where(z >= 0, 1.0, e) / (1.0 + e) - y)
    return u @ (np.logaddexp(0.0, z) - y * z), X.T @ r, r.sum()


class Planted:
    """A full NumPy variant with its own SGD rule; ``fault`` plants one bug (``""``: none)."""

    def __init__(self, w, b, *, sgd, dtype, device="cpu", fault=""):
        from lr_variants.arrays import NumpyArrays

        self.arrays, self.o, self.fault = NumpyArrays(dtype), sgd, fault
        self.w = np.array(w, dtype=self.arrays.dtype)
        self.b = np.array(b, dtype=self.arrays.dtype)
        self.bufs: list[Any] = [None, None]
        self.optimizer = self  # get_state / set_state below

    def get_state(self):
        keys = ("momentum_w", "momentum_b")
        return {
            k: np.array(v, np.float64)
            for k, v in zip(keys, self.bufs, strict=True)
            if v is not None
        }

    def set_state(self, state):
        if self.fault == "set_state_ignored":
            return
        keys = ("momentum_w", "momentum_b")
        self.bufs = [self.arrays.convert(state[k]) if k in state else None for k in keys]

    def get_params(self):
        return self.w.astype(np.float64), float(self.b)

    def set_params(self, w, b):
        self.w[...], self.b[...] = w, b
        if self.fault == "set_params_resets_momentum":
            self.bufs = [None, None]

    def probabilities(self, X):
        z = (X @ self.w + self.b).astype(np.float64)
        return np.exp(-np.logaddexp(0.0, -z))

    def loss(self, X, y, u=None):
        z = X @ self.w + self.b
        losses = np.logaddexp(0.0, z) - y * z
        return losses.mean() if u is None else losses @ u

    def gradients(self, X, y, u=None):
        gw, gb = self._grad(X, y, u)
        if self.fault == "gradients_mutate":
            self.w -= 1e-3 * gw  # a "peek ahead" left in by mistake
        return gw.astype(np.float64), float(gb)

    def step(self, X, y, u=None):
        loss = self.loss(X, y, u)
        o = self.o
        for i, (p, g) in enumerate(zip([self.w, self.b], self._grad(X, y, u), strict=True)):
            g = -g if o.maximize else g
            if o.weight_decay and (i == 0 or o.decay_bias or self.fault == "decay_bias_always"):
                g = g + o.weight_decay * p
            if o.momentum:
                if self.bufs[i] is None and self.fault != "momentum_starts_at_zero":
                    self.bufs[i] = g.copy()
                else:
                    prev = np.zeros_like(g) if self.bufs[i] is None else self.bufs[i]
                    self.bufs[i] = o.momentum * prev + (1 - o.dampening) * g
                g = g + o.momentum * self.bufs[i] if o.nesterov else self.bufs[i]
            p -= o.lr * g
        return loss

    def _grad(self, X, y, u):
        z = X @ self.w + self.b
        r = np.exp(-np.logaddexp(0.0, -z)) - y
        r = r / len(y) if u is None else r * u
        return X.T @ r, r.sum()


def planted(fault: str) -> Any:
    def factory(w, b, *, sgd, dtype, device="cpu"):
        return Planted(w, b, sgd=sgd, dtype=dtype, device=device, fault=fault)

    return factory


# ======================================================================= planted faults


def sums_instead_of_mean(w, b, X, y, s):
    loss, gw, gb = good_gradient(w, b, X, y, s)
    return loss * len(y), gw * len(y), gb * len(y)


def ignores_weights(w, b, X, y, s):
    return good_gradient(w, b, X, y, None)


def unstable_loss(w, b, X, y, s):
    _, gw, gb = good_gradient(w, b, X, y, s)
    p = 1.0 / (1.0 + np.exp(-(X @ w + b)))
    u = np.full(len(y), 1.0 / len(y)) if s is None else s
    return u @ -(y * np.log(p) + (1 - y) * np.log(1 - p)), gw, gb


def nondeterministic(w, b, X, y, s):
    order = np.random.permutation(len(y))  # summing in a random order changes the rounding
    return good_gradient(w, b, X[order], y[order], None if s is None else s[order])


def gradient_sign_flipped_bias(w, b, X, y, s):
    loss, gw, gb = good_gradient(w, b, X, y, s)
    return loss, gw, -gb


def overflowing(w, b, X, y, s):
    """The textbook sigmoid and softplus: right up to |z| = 709 (float64), NaN past it."""
    z = X @ w + b
    u = np.full(len(y), 1.0 / len(y), dtype=X.dtype) if s is None else s
    p = np.exp(z) / (1 + np.exp(z))
    r = u * (p - y)
    return u @ (np.log(1 + np.exp(z)) - y * z), X.T @ r, r.sum()


def counts_row_33_twice(w, b, X, y, s):
    """A batch-processing slip that only shows past 32 rows."""
    if len(y) > 32:
        X, y = np.vstack([X, X[32:33]]), np.append(y, y[32])
        s = None if s is None else np.append(s, s[32]) / (1 + s[32])
    return good_gradient(w, b, X, y, s)


def halves_features_past_8(w, b, X, y, s):
    loss, gw, gb = good_gradient(w, b, X, y, s)
    gw = gw.copy()
    gw[8:] *= 0.5
    return loss, gw, gb


def clips_large_features(w, b, X, y, s):
    """Data "cleaned" by clipping: right on features of scale 1, wrong on unscaled ones."""
    return good_gradient(w, b, np.clip(X, -100.0, 100.0), y, s)


def calls_sys_exit(w, b, X, y, s):
    sys.exit(0)


class NotAnException(BaseException):
    """A BaseException that is not an Exception (nor KeyboardInterrupt)."""


def raises_base_exception(w, b, X, y, s):
    raise NotAnException("planted")


def float32_inside(w, b, X, y, s):
    f = np.float32
    return good_gradient(
        w.astype(f), b.astype(f), X.astype(f), y.astype(f), None if s is None else s.astype(f)
    )


FAULTS = {
    # name: (gradient function or factory, the check that must fail, a hint it must give)
    "sums_instead_of_mean": (sums_instead_of_mean, "gradients/float64", "times the reference"),
    "ignores_weights": (ignores_weights, "sample_weights/float64", ""),
    "unstable_loss": (unstable_loss, "saturation/float64", ""),
    "nondeterministic": (nondeterministic, "determinism/float64", "same bits"),
    "bias_gradient_sign": (gradient_sign_flipped_bias, "gradients/float64", "sign flipped"),
    "float32_in_float64_mode": (float32_inside, "gradients/float64", "float32 level"),
    "overflow_past_the_threshold": (overflowing, "loss/float64", "exp(|z|) overflows"),
    "bug_only_in_large_batches": (counts_row_33_twice, "gradients/float64", "more than 32 rows"),
    "bug_only_past_8_features": (halves_features_past_8, "gradients/float64", "than 8 features"),
    "bug_only_at_large_scales": (clips_large_features, "gradients/float64", "large feature"),
    "sys_exit_inside_a_call": (calls_sys_exit, "loss/float64", "SystemExit(0)"),
    "base_exception_inside_a_call": (raises_base_exception, "gradients/float64", "NotAnException"),
    "momentum_starts_at_zero": (planted("momentum_starts_at_zero"), "sgd_momentum/float64", ""),
    "decay_bias_always": (planted("decay_bias_always"), "sgd_weight_decay/float64", ""),
    "gradients_mutate": (planted("gradients_mutate"), "pure_queries/float64", ""),
    "set_state_ignored": (planted("set_state_ignored"), "state_roundtrip/float64", ""),
    "set_params_resets_momentum": (
        planted("set_params_resets_momentum"),
        "set_params_keeps_momentum/float64",
        "",
    ),
}


def register(name: str, obj: Any) -> str:
    if lv.registry.is_factory(obj):
        return lv.register_variant(name, obj)
    return lv.from_gradient(obj, name)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the unstable loss overflows, as planted
@pytest.mark.parametrize("fault", list(FAULTS))
def test_planted_fault_is_caught_by_name(fault: str) -> None:
    """Each planted fault makes the check named for it fail (run alone through variant_checks,
    to keep shrinking time small), with the failing input and the hint the numbers give; the
    faults that show only on large inputs are caught with one drawn example: by the edge-case
    tier, which always runs."""
    obj, check, hint = FAULTS[fault]
    name = register(f"fault_{fault}", obj)
    checks = dict(variant_checks(name, dtypes=("float64",), max_examples=1))
    with pytest.raises(ConformanceError) as info:
        checks[check]()
    message = str(info.value)
    assert f"\n{check} FAILED" in message, message
    assert "input:" in message
    assert [r.name for r in info.value.report.failed] == [check]
    assert hint in message, message


def test_failure_message_shows_shrunk_input_reference_and_variant() -> None:
    name = lv.from_gradient(ignores_weights, "fault_message_example")
    with pytest.raises(ConformanceError) as info:
        check_variant(name, dtypes=("float64",), max_examples=10)
    message = str(info.value)
    assert {"sample_weights/float64", "zero_weight_batch/float64"} <= {
        r.name for r in info.value.report.failed
    }
    detail = next(r.detail for r in info.value.report.failed if r.name.startswith("sample_weights"))
    assert "reference" in detail and "variant" in detail and "tolerance" in detail
    # shrunk: a handful of rows at most, and the message is executable make_problem(...)
    assert "make_problem(X=[[" in detail
    assert detail.count("], [") <= 3, detail
    assert message.startswith(f"variant {name!r} failed")


def test_shrunk_input_is_executable() -> None:
    """The input a failure shows rebuilds a problem that fails the same way (strategies'
    make_problem or gaussian_problem, with .rows/.features where it was reduced)."""
    name = lv.from_gradient(counts_row_33_twice, "fault_executable_input")
    checks = dict(variant_checks(name, dtypes=("float64",), max_examples=5))
    with pytest.raises(ConformanceError) as info:
        checks["gradients/float64"]()
    shown = info.value.report.failed[0].detail.split("input: ")[1].split(": ", 1)[-1]
    namespace = {k: getattr(S, k) for k in ("make_problem", "gaussian_problem")}
    p = eval(shown.splitlines()[0], namespace)
    assert p.n == 33  # reduced to the smallest row count that fails
    gw, _ = lv.create(name, p.d, dtype="float64").engine.gradients(p.X, p.y)
    _, rw, _ = good_gradient(p.w, np.array(p.b), p.X, p.y, None)
    assert not np.allclose(gw, rw)


# ======================================================================= reports


def _failure(fn: Any, name: str, **kwargs: Any) -> ConformanceError:
    register(name, fn)
    with pytest.raises(ConformanceError) as info:
        check_variant(name, **{"dtypes": ("float64",), "max_examples": 5, **kwargs})
    return info.value


def test_one_block_per_root_cause_with_knock_on_failures_folded() -> None:
    """A wrong sign in dL/db fails 12 checks (every optimizer check follows from it): one block,
    headed by the gradient check, naming the others and the hint."""
    error = _failure(gradient_sign_flipped_bias, "report_sign")
    report = error.report
    assert len(report.failed) >= 8
    assert [r.name for r in report.root_causes] == ["gradients/float64"]
    assert all(
        r.cause == "gradients/float64" for r in report.failed if r.name != "gradients/float64"
    )
    message = str(error)
    assert message.count(" FAILED") == 1
    assert "sign flipped" in message and "sgd_momentum/float64" in message
    assert report.to_dict()["root_causes"] == ["gradients/float64"]


def test_failures_after_a_query_that_moves_the_model_follow_from_pure_queries() -> None:
    """gradients() that moves the parameters also fails the checks that query one model
    several times (saturation, weight_scale, determinism): one root cause, pure_queries."""
    error = _failure(planted("gradients_mutate"), "report_mutating_query")
    assert [r.name for r in error.report.root_causes] == ["pure_queries/float64"]
    assert len(error.report.failed) >= 3


def test_a_bad_signature_is_said_once() -> None:
    def three_arguments(w, b, X):
        return 0.0, w, b

    error = _failure(three_arguments, "report_signature")
    message = str(error)
    assert len(error.report.root_causes) == 1
    assert message.count("takes 3 positional arguments") == 1, message
    assert "fn(w, b, X, y, sample_weight)" in message


def test_an_error_at_float32_level_in_float64_mode_is_named() -> None:
    message = str(_failure(float32_inside, "report_float32"))
    assert "error at float32 level in float64 mode" in message


def test_only_weighted_cases_fail_is_a_hint() -> None:
    error = _failure(ignores_weights, "report_weights")
    assert [r.name for r in error.report.root_causes] == ["sample_weights/float64"]
    assert "only weighted cases fail" in str(error)


def test_public_names_in_tracebacks() -> None:
    """The error and the report name the module users import them from."""
    import traceback

    error = _failure(sums_instead_of_mean, "report_traceback")
    text = "".join(traceback.format_exception_only(type(error), error))
    assert text.startswith("lr_variants.testing.ConformanceError: variant 'report_traceback'")
    assert type(error.report).__module__ == "lr_variants.testing"


def test_progress_is_reported_per_check() -> None:
    name = lv.from_gradient(good_gradient, "report_progress")
    seen: list[tuple[int, int, str, Any]] = []
    check_variant(name, dtypes=("float32",), max_examples=2, progress=lambda *a: seen.append(a))
    assert len(seen) == 2 * 19
    assert seen[0] == (1, 19, "loss/float32", None)
    assert seen[-1][2:] == ("rejected_call/float32", seen[-1][3]) and seen[-1][3].status == "passed"


# ======================================================================= determinism


def test_nondeterminism_is_a_finding_and_other_findings_are_kept() -> None:
    """Sums in a varying order and ignored weights: both root causes are reported, the
    first as non-determinism with the two differing results; nothing of Hypothesis's own
    (FlakyFailure, ExceptionGroup) leaves check_variant."""

    def shuffled_and_unweighted(w, b, X, y, s):
        return nondeterministic(w, b, X, y, None)

    error = _failure(shuffled_and_unweighted, "determinism_and_weights", max_examples=20)
    roots = {r.name: r for r in error.report.root_causes}
    assert "sample_weights/float64" in roots
    nondet = [r for r in error.report.failed if r.kind == "nondeterministic"]
    assert nondet and any(r.name in roots for r in nondet)
    message = str(error)
    assert "FAILED: determinism" in message
    assert "first run:" in message and "second run:" in message


def test_a_flaky_failure_never_leaves_the_kit() -> None:
    """A variant that fails one call in three: whatever Hypothesis makes of it, the kit
    reports a finding."""
    calls = iter(range(10**9))

    def sometimes(w, b, X, y, s):
        loss, gw, gb = good_gradient(w, b, X, y, s)
        return (loss + 1.0 if next(calls) % 3 == 0 else loss), gw, gb

    error = _failure(sometimes, "flaky_every_third")
    assert "loss/float64" in {r.name for r in error.report.failed}
    assert "non-deterministic" in str(error)


# ======================================================================= nothing run, n/a


def test_nothing_run_is_an_error_not_a_pass(capsys: pytest.CaptureFixture[str]) -> None:
    """A variant that runs only on CUDA, checked without a GPU: every check is an error with
    the reason; check_variant raises and the CLI exits 1."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the CUDA-only variant runs")
    lv.register_variant("cuda_only", planted(""), devices=("cuda",))
    with pytest.raises(ConformanceError) as info:
        check_variant("cuda_only", max_examples=2)
    report = info.value.report
    assert not report.ok and len(report.errors) == 38 and not report.failed
    assert "no GPU is available" in str(info.value)
    assert str(info.value).count("NOT RUN") == 1
    checks = dict(variant_checks("cuda_only", max_examples=2))
    with pytest.raises(ConformanceError, match="nothing was run"):
        checks["loss/float64"]()
    status, out, _ = _cli(["check", "cuda_only", "--max-examples", "2"], capsys)
    assert status == 1 and "38 not run" in out


class NoDampening(Planted):
    """torch's SGD without dampening (as optax's): refuses what it does not implement."""

    def __init__(self, w, b, *, sgd, dtype, device="cpu"):
        if sgd.dampening:
            raise NotImplementedError("dampening")
        super().__init__(w, b, sgd=sgd, dtype=dtype, device=device)


def test_declared_unsupported_options_are_not_applicable() -> None:
    name = lv.register_variant("no_dampening", NoDampening)
    with pytest.raises(ConformanceError) as info:
        check_variant(name, dtypes=("float64",), max_examples=3)
    assert "NotImplementedError: dampening" in str(info.value)
    report = check_variant(name, dtypes=("float64",), max_examples=3, unsupported={"dampening"})
    assert report.ok
    na = [r for r in report if r.status == "not applicable"]
    assert [r.name for r in na] == ["sgd_momentum/float64"]
    assert "declared" in na[0].detail and "dampening" in str(report)
    assert report.to_dict()["unsupported"] == ["dampening"]
    checks = dict(variant_checks(name, dtypes=("float64",), unsupported={"dampening"}))
    with pytest.raises(pytest.skip.Exception, match="not applicable"):
        checks["sgd_momentum/float64"]()


def test_declarations_are_read_from_the_registration() -> None:
    from lr_variants.testing import declared_unsupported

    assert declared_unsupported("numpy") == frozenset()
    with pytest.raises(ValueError, match="unsupported must be one of"):
        check_variant("numpy", unsupported={"damping"})


# ======================================================================= heavy frameworks


def test_models_are_reused_between_examples() -> None:
    """A variant whose models cost a compilation each is made a few dozen times per dtype,
    not once per example."""
    made = []

    def counted(w, b, *, sgd, dtype, device="cpu"):
        made.append(dtype)
        return Planted(w, b, sgd=sgd, dtype=dtype, device=device)

    name = lv.register_variant("counted_models", counted)
    checks = dict(variant_checks(name, dtypes=("float64",), max_examples=100))
    for check in ("loss", "gradients", "probabilities", "sample_weights"):
        checks[f"{check}/float64"]()
    assert len(made) <= 4 * len(S.D_SIZES), len(made)


# ======================================================================= correct code passes


def test_correct_gradient_function_passes_both_dtypes() -> None:
    name = lv.from_gradient(good_gradient, "conformance_good")
    report = check_variant(name, max_examples=8)
    assert isinstance(report, Report) and report.ok
    names = [r.name for r in report]
    assert "loss/float64" in names and "sgd_maximize/float32" in names
    text = str(report)
    assert "passed" in text and "tolerance" in text.splitlines()[1]
    assert report.to_dict()["ok"] is True


def test_correct_planted_factory_passes() -> None:
    name = lv.register_variant("conformance_planted_ok", planted(""))
    assert check_variant(name, max_examples=8).ok


BUILTINS = [(name, impl) for name in lv.VARIANTS for impl in lv.impls(name)]


@pytest.mark.parametrize(("name", "impl"), BUILTINS, ids=[f"{n}-{i}" for n, i in BUILTINS])
def test_builtin_variant_passes_its_conformance_suite(name: str, impl: str) -> None:
    """Small example counts: tests/test_properties.py covers the built-ins in depth."""
    report = check_variant(name, impl=impl, max_examples=3)
    assert report.ok and {r.status for r in report} == {"passed"}


lv.from_gradient(good_gradient, "conformance_parametrized")


@pytest.mark.parametrize(
    ("check_name", "check"),
    variant_checks("conformance_parametrized", dtypes=("float32",), max_examples=3),
)
def test_variant_checks_parametrize(check_name: str, check: Any) -> None:
    """What a user's test file looks like."""
    check()


def test_variant_checks_raise_conformance_error_for_the_failing_check() -> None:
    name = lv.from_gradient(sums_instead_of_mean, "conformance_parametrized_bad")
    checks = dict(variant_checks(name, dtypes=("float64",), max_examples=5))
    checks["determinism/float64"]()  # deterministic, just wrong: passes
    with pytest.raises(ConformanceError, match="loss/float64 FAILED"):
        checks["loss/float64"]()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dtypes": ("float16",)}, "dtypes must be one of"),
        ({"dtypes": "float64"}, "dtypes must be a non-empty sequence"),
        ({"max_examples": 0}, "max_examples must be"),
        ({"impl": "fast"}, "impl must be one of"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    name = lv.from_gradient(good_gradient, "conformance_args")
    with pytest.raises(ValueError, match=match):
        check_variant(name, **kwargs)
    with pytest.raises(ValueError, match="name must be one of"):
        check_variant("no_such_variant")


# ======================================================================= packaging


def _run(code: str, *paths: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    pythonpath = os.pathsep.join([*map(str, paths), str(ROOT)])
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": pythonpath, **(env or {})},
        timeout=120,
    )


def test_import_lr_variants_does_not_import_the_kit_or_hypothesis() -> None:
    out = _run(
        "import sys, lr_variants; print('lr_variants.testing' in sys.modules, 'hypothesis' in sys.modules)"
    )
    assert out.stdout.split() == ["False", "False"], out.stderr


def test_kit_without_hypothesis_says_how_to_install_it() -> None:
    out = _run(
        """
        import sys
        sys.modules['hypothesis'] = None  # as if not installed
        try:
            import lr_variants.testing
        except ImportError as exc:
            print(exc)
        """
    )
    assert "pip install 'lr_variants[test]'" in out.stdout, out.stderr


def _installed_example(tmp_path: Path) -> Path:
    """The example package made visible as if pip-installed: a ``.dist-info`` with its entry
    points (read from its pyproject.toml) in a directory on ``sys.path``, next to the source
    directory; no network, no build, no venv."""
    import tomllib

    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    info = tmp_path / f"{project['name']}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    lines = ["[lr_variants.variants]"] + [
        f"{k} = {v}" for k, v in project["entry-points"]["lr_variants.variants"].items()
    ]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_example_plugin_is_discovered_checked_and_compared(tmp_path: Path) -> None:
    """The example package's two entry points are found by lr_variants.variants(), pass
    check_variant, and appear as rows of lr_variants.compare (what bench runs too)."""
    site = _installed_example(tmp_path)
    out = _run(
        """
        import json, lr_variants as lv
        from lr_variants.testing import check_variant
        names = [n for n in lv.variants() if n.startswith('example_')]
        ok = {n: check_variant(n, max_examples=3).ok for n in names}
        X, y = lv.two_blobs(60, seed=1)
        result = lv.compare(X, y, variants=['numpy', *names], impls=('textbook',), epochs=2)
        rows = [r.label for r in result.results]
        print(json.dumps({'names': names, 'ok': ok, 'rows': rows}))
        """,
        site,
        EXAMPLE,
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.splitlines()[-1])
    assert got["names"] == ["example_grad", "example_full"]
    assert got["ok"] == {"example_grad": True, "example_full": True}
    assert any(r.startswith("example_full") for r in got["rows"])
    assert any(r.startswith("example_grad") for r in got["rows"])


# ======================================================================= the CLI


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from lr_variants.cli import main

    status = main(args)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module ``usercode_<id>`` in the current directory with ``good`` and ``bad`` gradient
    functions, as a user's working directory holds it."""
    module = f"usercode_{abs(hash(tmp_path)) % 10**8}"
    (tmp_path / f"{module}.py").write_text(
        "import numpy as np\n"
        "def good(w, b, X, y, s):\n"
        "    z = X @ w + b\n"
        "    u = np.full(len(y), 1.0 / len(y), dtype=X.dtype) if s is None else s\n"
        "    e = np.exp(-np.abs(z))\n"
        "    r = u * (np.where(z >= 0, 1.0, e) / (1.0 + e) - y)\n"
        "    return u @ (np.logaddexp(0.0, z) - y * z), X.T @ r, r.sum()\n"
        "def bad(w, b, X, y, s):\n"
        "    loss, gw, gb = good(w, b, X, y, None)\n"
        "    return loss, gw, gb\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    return module


def test_cli_check_passes_fails_and_rejects(
    user_module: str, capsys: pytest.CaptureFixture[str]
) -> None:
    small = ["--dtypes", "float64", "--max-examples", "3"]
    status, out, _ = _cli(["check", f"{user_module}:good", *small], capsys)
    assert status == 0 and "19 passed, 0 failed" in out
    status, out, _ = _cli(["check", f"{user_module}:bad", *small, "--json"], capsys)
    report = json.loads(out)
    assert status == 1 and report["ok"] is False
    failed = [c["name"] for c in report["checks"] if c["status"] == "failed"]
    assert "sample_weights/float64" in failed
    for bad, match in [
        ([f"{user_module}:nope"], "has no attribute 'nope'"),
        (["no_such_module_xyz:f"], "cannot import 'no_such_module_xyz'"),
        (["numpy", "--dtypes", "float16"], "--dtypes must name dtypes"),
        (["not_a_variant"], "or package.module:attribute; got 'not_a_variant'"),
    ]:
        status, out, err = _cli(["check", *bad], capsys)
        assert status == 2 and err.startswith("lr-variants: error:") and match in err, err
        assert err.count("\n") == 1


def test_cli_progress_on_a_terminal_only(
    user_module: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal, one progress line per check on stderr; none under --json, none when
    stderr is not a terminal."""
    small = ["--dtypes", "float32", "--max-examples", "2"]
    _, _, err = _cli(["check", f"{user_module}:good", *small], capsys)
    assert err == ""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    _, _, err = _cli(["check", f"{user_module}:good", *small], capsys)
    lines = err.splitlines()
    assert len(lines) == 19 and lines[0].startswith("[1/19] loss/float32 ... passed (")
    status, out, err = _cli(["check", f"{user_module}:good", *small, "--json"], capsys)
    assert status == 0 and err == "" and json.loads(out)["ok"] is True


def test_cli_unsupported_option(capsys: pytest.CaptureFixture[str]) -> None:
    lv.register_variant("cli_no_dampening", NoDampening)
    args = ["check", "cli_no_dampening", "--dtypes", "float64", "--max-examples", "2"]
    status, out, _ = _cli([*args, "--unsupported", "dampening"], capsys)
    assert status == 0 and "1 not applicable (declared unsupported: dampening)" in out
    status, _, err = _cli([*args, "--unsupported", "damping"], capsys)
    assert status == 2 and "--unsupported must name options" in err and err.count("\n") == 1


# ======================================================================= docs/plugins.md

PLUGINS = ROOT / "docs" / "plugins.md"
CONVENTIONS = {  # the snippet's marker: the module it needs
    "scikit-learn": "sklearn",
    "statsmodels": "statsmodels",
    "torch": "torch",
    "JAX": "jax",
    "HIPS autograd": "autograd",
}


def _snippet(text: str) -> str:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from run_snippet import snippet
    finally:
        sys.path.pop(0)
    return snippet(PLUGINS, text)


@pytest.mark.parametrize("library", list(CONVENTIONS))
def test_conventions_snippet_passes_the_kit(library: str) -> None:
    """Each library's glue in the conventions table passes every check, both dtypes (a few
    drawn examples; the edge-case tier in full)."""
    pytest.importorskip(CONVENTIONS[library], reason=f"{library} is not installed here")
    namespace: dict[str, Any] = {}
    exec(
        compile(_snippet(f"# conventions: {library}"), f"plugins.md[{library}]", "exec"), namespace
    )
    name = lv.from_gradient(namespace["grad"], f"conventions_{CONVENTIONS[library]}")
    assert check_variant(name, max_examples=3).ok


def test_full_variant_in_the_docs_is_the_example_package() -> None:
    shown = _snippet("class ExampleVariant")
    source = (EXAMPLE / "lr_variants_example" / "full.py").read_text()
    assert shown in source
    code = [line for line in shown.splitlines() if line.strip()]
    assert (
        len(code) <= 42
    )  # "about 40 lines": non-blank lines, the imports and declaration included
