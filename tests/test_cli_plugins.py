"""Plug-in variants wherever variant names are taken: a registered name, or
``package.module:attribute`` naming a gradient function or a factory in a module on disk
(``compare --variants``, ``train --variant``, ``lv.compare``, the estimator); a bad spec is one
line and exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import lr_variants as lv
from lr_variants import registry, specs
from lr_variants.cli import main

# a gradient function as a user writes it: the stable mean BCE and its gradient, in the dtype
# of the arrays it is given
MYMOD = textwrap.dedent(
    """
    import numpy as np

    def grad(w, b, X, y, sample_weight):
        z = X @ w + b
        p = 1 / (1 + np.exp(-z))
        u = np.full(len(y), 1 / len(y), dtype=X.dtype) if sample_weight is None else sample_weight
        loss = np.sum(u * (np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))
        g = u * (p - y)
        return loss, X.T @ g, np.sum(g)

    not_callable = 3
    """
)


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``mymod.py`` in the current directory (not on ``sys.path``); registrations and the
    import undone afterwards."""
    (tmp_path / "mymod.py").write_text(MYMOD)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(registry, "_REGISTERED", {})
    monkeypatch.setattr(specs, "_RESOLVED", {})
    yield tmp_path
    sys.modules.pop("mymod", None)


def test_compare_runs_a_gradient_function_from_the_current_directory(plugin_dir, capsys) -> None:
    assert str(plugin_dir) not in sys.path
    argv = ["compare", "--variants", "numpy,mymod:grad", "--epochs", "2", "--impl", "textbook"]
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = {r["variant"]: r for r in out["results"]}
    assert list(rows) == ["numpy", "grad"] and out["settings"]["variants"] == ["numpy", "grad"]
    # float32, 64 steps of the same formula, perhaps computed in a different order: parameters
    # of size ~1 agree to a few hundred float32 ulps (eps 1.2e-7) at worst
    assert rows["grad"]["max_abs_param_diff"] <= 1e-5
    assert abs(rows["grad"]["loss"] - rows["numpy"]["loss"]) < 1e-5
    assert str(plugin_dir) not in sys.path  # the current directory was added for the import only


def test_train_runs_a_plugin_in_a_fresh_process(plugin_dir) -> None:
    cmd = [sys.executable, "-m", "lr_variants", "train", "--variant", "mymod:grad", "--epochs", "2"]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=plugin_dir, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Accuracy: ") and out.stderr == ""


@pytest.mark.parametrize(
    "argv,message",
    [
        (["compare", "--variants", "numpy,nosuch:thing"], "cannot import 'nosuch'"),
        (["compare", "--variants", "os:path"], "not a variant factory or a gradient function"),
        (["compare", "--variants", "mymod:not_callable"], "not a variant factory"),
        (["compare", "--variants", "mymod:nothing"], "has no attribute 'nothing'"),
        (["compare", "--variants", "my-mod:grad"], "must be package.module:attribute"),
        (["train", "--variant", "nosuch:thing"], "--variant: variant must be package.module"),
        (["plot", "--out", "x.png", "--variants", "os:path"], "--variants: variant must be"),
    ],
)
def test_bad_specs_are_one_line_and_exit_2(plugin_dir, capsys, argv, message) -> None:
    assert main([*argv, "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert not (plugin_dir / "x.png").exists()


def test_help_says_plugins_are_accepted(capsys) -> None:
    for command, flag in (
        ("compare", "--variants"),
        ("train", "--variant"),
        ("plot", "--variants"),
    ):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert flag in text and "package.module:attribute" in text and "plug-in" in text
        assert all(name in text for name in lv.VARIANTS)


def test_registered_names_and_specs_through_lv_compare(plugin_dir) -> None:
    assert specs.resolve("mymod:grad") == "grad"
    grad = sys.modules["mymod"].grad
    lv.from_gradient(grad, "mine")
    X, y = lv.two_blobs(50)
    c = lv.compare(X, y, variants=["numpy", "mine", "mymod:grad"], impls=["textbook"], epochs=2)
    assert [r.variant for r in c.results] == ["numpy", "mine", "grad"]
    # the same function twice: the same float32 trajectory, bit for bit
    np.testing.assert_array_equal(c.results[1].theta, c.results[2].theta)
    assert c.results[1].max_abs_param_diff < 1e-5
    # resolving again reuses the name; a different object under a taken name gets module_attr
    assert specs.resolve("mymod:grad") == "grad" and lv.variants()[-2:] == ("grad", "mine")
    registry.register_variant("other", lambda w, b, *, sgd, dtype, device: None)
    (plugin_dir / "pkg_other.py").write_text(MYMOD.replace("def grad", "def other"))
    try:
        assert specs.resolve("pkg_other:other") == "pkg_other_other"
    finally:
        sys.modules.pop("pkg_other", None)
    with pytest.raises(ValueError, match=r"variants must be one of .*'mine'.*; got 'jax'"):
        lv.compare(X, y, variants=["jax"])


def test_estimator_takes_registered_names_and_specs(plugin_dir) -> None:
    pytest.importorskip("sklearn")
    from lr_variants.estimator import SGDLogisticRegression

    X, y = lv.two_blobs(50)
    plain = SGDLogisticRegression("numpy", epochs=3, random_state=0).fit(X, y)
    plugged = SGDLogisticRegression("mymod:grad", epochs=3, random_state=0).fit(X, y)
    np.testing.assert_allclose(plugged.coef_, plain.coef_, atol=1e-5)  # float32, as above
    with pytest.raises(ValueError, match=r"variant must be package.module:attribute"):
        SGDLogisticRegression("nosuch:thing").fit(X, y)


def test_plugin_variants_join_the_benchmarks_and_such_a_run_is_never_published(
    plugin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LR_BENCH_VARIANTS (what `lr-variants bench --variants` sets) adds your variants to the
    timed workloads; bench/report.py refuses to publish such a run."""
    bench = Path(__file__).resolve().parents[1] / "bench"
    monkeypatch.syspath_prepend(str(bench))
    monkeypatch.setenv("LR_BENCH_VARIANTS", "mymod:grad")
    import report
    import test_train

    ids = [case.id for case in test_train._cases()]
    assert any("-grad-textbook-cpu-float32" in i for i in ids)
    run = {"machine_info": {"lr_variants": {"quick_sizes": False, "plugin_variants": ["grad"]}}}
    assert any("plug-in variants" in reason for reason in report.missing({**run, "benchmarks": []}))
