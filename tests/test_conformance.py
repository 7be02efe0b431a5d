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
        from lr_variants._backends import NumpyArrays

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


FAULTS = {
    # name: (gradient function or factory, the check that must fail)
    "sums_instead_of_mean": (sums_instead_of_mean, "gradients/float64"),
    "ignores_weights": (ignores_weights, "sample_weights/float64"),
    "unstable_loss": (unstable_loss, "saturation/float64"),
    "nondeterministic": (nondeterministic, "determinism/float64"),
    "bias_gradient_sign": (gradient_sign_flipped_bias, "gradients/float64"),
    "momentum_starts_at_zero": (planted("momentum_starts_at_zero"), "sgd_momentum/float64"),
    "decay_bias_always": (planted("decay_bias_always"), "sgd_weight_decay/float64"),
    "gradients_mutate": (planted("gradients_mutate"), "pure_queries/float64"),
    "set_state_ignored": (planted("set_state_ignored"), "state_roundtrip/float64"),
    "set_params_resets_momentum": (
        planted("set_params_resets_momentum"),
        "set_params_keeps_momentum/float64",
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
    to keep shrinking time small), with the failing input in the message."""
    obj, check = FAULTS[fault]
    name = register(f"fault_{fault}", obj)
    checks = dict(variant_checks(name, dtypes=("float64",), max_examples=10))
    with pytest.raises(ConformanceError) as info:
        checks[check]()
    message = str(info.value)
    assert f"\n{check} FAILED" in message, message
    assert "input:" in message
    assert [r.name for r in info.value.report.failed] == [check]


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
    assert report.ok and not [r for r in report if r.status == "skipped"]


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
    assert status == 0 and "18 passed, 0 failed" in out
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
