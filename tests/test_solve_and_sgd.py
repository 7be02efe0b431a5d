"""SGD meets the exact solver: long full-batch training converges to solve()'s point, and the
CLI reports both."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lr_variants as lv
from lr_variants.cli import main


def _overlapping(n: int = 200, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    p = 1.0 / (1.0 + np.exp(-(X @ [1.0, -2.0, 0.5] + 0.3)))
    return X, (rng.random(n) < p).astype(float)


@pytest.mark.parametrize("variant", lv.VARIANTS)
def test_full_batch_gradient_descent_reaches_the_solver_optimum(variant: str) -> None:
    """Full-batch gradient descent on mean BCE + (l2/2)||w||^2 converges to solve()'s minimizer.

    The objective is strongly convex (curvature >= l2 = 0.1 in w, and the data give the intercept
    curvature ~ mean p(1-p) ~ 0.2) and L-smooth with L <= (max|x|^2 + 1)/4 + l2 ~ 4, so with
    lr = 0.5 the error contracts by at least 1 - 0.5 * 0.1 = 0.95 per step: 600 steps take an
    O(1) start below 1e-13, and float64 rounding stops it near 1e-15."""
    X, y = _overlapping()
    opt = lv.solve(X, y, l2=0.1)
    model = lv.create(variant, 3, lr=0.5, dtype="float64", weight_decay=0.1, seed=1)
    lv.train(model, X, y, epochs=600, batch_size=None)
    w, b = model.get_params()
    np.testing.assert_allclose(w, opt.w, rtol=0, atol=1e-10)
    assert b == pytest.approx(opt.b, abs=1e-10)
    assert lv.solver.objective(X, y, w, b, l2=0.1) == pytest.approx(opt.loss, rel=1e-13)


def test_objective_matches_the_model_loss_plus_penalty() -> None:
    X, y = _overlapping(30)
    model = lv.create("numpy", 3, dtype="float64")
    w, b = model.get_params()
    expected = model.loss(X, y) + 0.5 * 0.3 * float(w @ w)
    assert lv.solver.objective(X, y, w, b, l2=0.3) == pytest.approx(expected, rel=1e-14)


def test_compare_reports_distance_to_the_optimum(tmp_path, capsys) -> None:
    X, y = _overlapping()
    path = tmp_path / "d.npz"
    np.savez(path, X=X, y=y)
    args = ["compare", "--json", "--data", str(path), "--dtype", "float64", "--epochs", "50"]
    assert main([*args, "--variants", "numpy,module", "--weight-decay", "0.1"]) == 0
    out = json.loads(capsys.readouterr().out)
    opt = lv.solve(X, y, l2=0.1)
    assert out["optimum"]["loss"] == pytest.approx(opt.loss, rel=1e-14)
    for r in out["results"]:
        assert 0 <= r["loss_gap"] < 1e-3 and r["optimum_distance"] < 0.1


def test_compare_on_separable_data_says_there_is_no_optimum(capsys) -> None:
    assert main(["compare", "--variants", "numpy", "--epochs", "1"]) == 0
    assert (
        "optimum: none to compare with: the data are perfectly separated" in capsys.readouterr().out
    )


def test_solve_cli(capsys) -> None:
    assert main(["solve", "--l2", "0.001", "--json"]) == 0
    sol = json.loads(capsys.readouterr().out)["solution"]
    X, y = lv.two_blobs()
    ref = lv.solve(X, y, l2=0.001)
    np.testing.assert_array_equal(sol["w"], ref.w)
    assert sol["converged"] and sol["standard_errors"] is None
    assert main(["solve"]) == 2
    assert "perfectly separated" in capsys.readouterr().err
