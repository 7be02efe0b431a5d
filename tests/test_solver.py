"""Tests of the exact Newton reference solver, against formulas written out independently here."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lr_variants.data import two_blobs
from lr_variants.solver import SeparationError, Solution, objective, solve

# ---------------------------------------------------------------- independent plain formulas


def with_ones(X: np.ndarray) -> np.ndarray:
    return np.column_stack([X, np.ones(len(X))])


def plain_objective(X: np.ndarray, y: np.ndarray, theta: np.ndarray, l2: float) -> float:
    """The textbook form: fine here, where no fitted probability is near 0 or 1 in float64."""
    p = 1.0 / (1.0 + np.exp(-(with_ones(X) @ theta)))
    bce = -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))
    return float(bce + 0.5 * l2 * np.sum(theta[:-1] ** 2))


def plain_gradient(X: np.ndarray, y: np.ndarray, theta: np.ndarray, l2: float) -> np.ndarray:
    p = 1.0 / (1.0 + np.exp(-(with_ones(X) @ theta)))
    return with_ones(X).T @ (p - y) / len(y) + l2 * np.append(theta[:-1], 0.0)


def theta_of(sol: Solution) -> np.ndarray:
    return np.append(sol.w, sol.b)


def overlapping(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from a logistic model, so the classes overlap and the MLE is finite."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    p = 1.0 / (1.0 + np.exp(-(X @ np.array([1.0, -2.0]) + 0.5)))
    return X, (rng.random(n) < p).astype(float)


CASES = {
    "overlapping, l2=0": (*overlapping(), 0.0),
    "overlapping, l2=0.1": (*overlapping(), 0.1),
    "article blobs, l2=1e-3": (*two_blobs(500, 42), 1e-3),
}


@pytest.fixture(params=list(CASES), scope="module")
def case(request: pytest.FixtureRequest) -> tuple[np.ndarray, np.ndarray, float, Solution]:
    X, y, l2 = CASES[request.param]
    return X, y, l2, solve(X, y, l2=l2)


# ---------------------------------------------------------------- optimality


def test_gradient_vanishes_at_the_solution(case: tuple) -> None:
    X, y, l2, sol = case
    assert sol.converged and sol.grad_norm <= 1e-10
    assert np.abs(plain_gradient(X, y, theta_of(sol), l2)).max() <= 1e-9
    assert sol.loss == pytest.approx(plain_objective(X, y, theta_of(sol), l2), rel=1e-12)


def test_no_nearby_point_is_lower(case: tuple) -> None:
    # f rises by ~ delta^T H delta / 2 >= 1e-9 for |delta| ~ 1e-3, far above rounding (1e-16)
    X, y, l2, sol = case
    rng = np.random.default_rng(1)
    best = plain_objective(X, y, theta_of(sol), l2)
    for delta in 1e-3 * rng.normal(size=(200, X.shape[1] + 1)):
        assert best <= plain_objective(X, y, theta_of(sol) + delta, l2)


def test_penalized_solution_is_stationary_and_matches_gradient_descent() -> None:
    X, y = overlapping()
    l2 = 0.1
    sol = solve(X, y, l2=l2, tol=1e-13)
    p = 1.0 / (1.0 + np.exp(-(X @ sol.w + sol.b)))
    # stationarity (to tol): the intercept balances the residuals, the data gradient l2 w
    assert abs(np.mean(p - y)) <= 1e-13
    np.testing.assert_allclose(X.T @ (p - y) / len(y), -l2 * sol.w, rtol=0, atol=1e-13)
    # plain full-batch gradient descent with step 1/L, L = lambda_max(Xt^T Xt) / (4N) + l2 (f's
    # gradient is L-Lipschitz), converges linearly to the same unique minimizer
    lipschitz = np.linalg.eigvalsh(with_ones(X).T @ with_ones(X)).max() / (4 * len(y)) + l2
    theta = np.zeros(3)
    for _ in range(20_000):
        grad = plain_gradient(X, y, theta, l2)
        if np.abs(grad).max() < 1e-13:
            break
        theta -= grad / lipschitz
    np.testing.assert_allclose(theta_of(sol), theta, atol=1e-10)


# ---------------------------------------------------------------- Hessian and standard errors


SIGNS = [(1, 1), (1, -1), (-1, 1), (-1, -1)]


def test_hessian_matches_central_finite_differences(case: tuple) -> None:
    X, y, l2, sol = case
    theta, k, h = theta_of(sol), X.shape[1] + 1, 1e-4
    fd = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            ei, ej = h * np.eye(k)[i], h * np.eye(k)[j]
            f = [plain_objective(X, y, theta + si * ei + sj * ej, l2) for si, sj in SIGNS]
            fd[i, j] = (f[0] - f[1] - f[2] + f[3]) / (4 * h * h)
    # error: truncation ~ h^2 f''''/6 ~ 1e-9 plus rounding ~ eps |f| / h^2 ~ 1e-8: 1e-6 is safe
    np.testing.assert_allclose(sol.hessian, fd, atol=1e-6)
    np.testing.assert_array_equal(sol.hessian, sol.hessian.T)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # raised inside torch's own import
def test_hessian_matches_torch_autograd(case: tuple) -> None:
    torch = pytest.importorskip("torch")
    X, y, l2, sol = case
    Xt, yt = torch.from_numpy(with_ones(X)), torch.from_numpy(y)

    def objective(theta: torch.Tensor) -> torch.Tensor:
        bce = torch.nn.functional.binary_cross_entropy_with_logits(Xt @ theta, yt)
        return bce + 0.5 * l2 * (theta[:-1] ** 2).sum()

    expected = torch.func.hessian(objective)(torch.from_numpy(theta_of(sol))).numpy()
    # both are float64 sums of the same N terms in different orders: rounding only
    np.testing.assert_allclose(sol.hessian, expected, rtol=1e-10, atol=1e-14)


def test_standard_errors_are_the_inverse_information() -> None:
    X, y = overlapping()
    sol = solve(X, y)
    p = 1.0 / (1.0 + np.exp(-(X @ sol.w + sol.b)))
    information = with_ones(X).T @ (with_ones(X) * (p * (1 - p))[:, None])  # N H, summed
    assert sol.standard_errors is not None
    np.testing.assert_allclose(sol.standard_errors, np.sqrt(np.diag(np.linalg.inv(information))))
    assert solve(X, y, l2=0.1).standard_errors is None


def test_estimates_lie_within_a_few_standard_errors_of_the_truth() -> None:
    # The MLE is asymptotically normal around the truth with these standard errors; at N = 20000
    # each z-score is ~N(0, 1), so |z| > 4 for any of the 4 has probability ~4 * 6e-5. The seed
    # is fixed, so the test is deterministic; the bound only says a correct solver passes it.
    rng = np.random.default_rng(2024)
    truth = np.array([1.0, -2.0, 0.5, 0.3])  # (w..., b)
    X = rng.normal(size=(20_000, 3))
    y = (rng.random(len(X)) < 1.0 / (1.0 + np.exp(-(with_ones(X) @ truth)))).astype(float)
    sol = solve(X, y)
    assert sol.standard_errors is not None
    assert np.all(sol.standard_errors < 0.05)  # informative: ~1/sqrt(N * Fisher information)
    assert np.abs((theta_of(sol) - truth) / sol.standard_errors).max() < 4.0


# ---------------------------------------------------------------- separation


def test_article_data_are_perfectly_separated() -> None:
    X, y = two_blobs(500, 42)
    with pytest.raises(SeparationError, match=r"perfectly separated.*no finite maximum-likelihood"):
        solve(X, y)
    sol = solve(X, y, l2=1e-3)
    assert sol.converged and np.all(np.abs(theta_of(sol)) < 10)


QUASI_1D = (np.array([[-2.0], [-1.0], [0.0], [0.0], [1.0], [2.0]]), np.array([0, 0, 0, 1, 1, 1.0]))
# separated points from 1e-3 to 100 away from the boundary: their margins grow at rates 1e5 apart
QUASI_WIDE = (np.array([[-100.0], [-1e-3], [0.0], [0.0], [1e-3], [100.0]]), QUASI_1D[1])


def quasi_2d() -> tuple[np.ndarray, np.ndarray]:
    """Two classes split by the line x0 = 0, plus points of both classes ON that line."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 2))
    X[:, 0] += np.sign(X[:, 0])  # keep off the line
    on_line = np.column_stack([np.zeros(8), rng.normal(size=8)])
    y = np.concatenate([(X[:, 0] > 0).astype(float), [0, 1, 0, 1, 0, 1, 1, 0]])
    return np.vstack([X, on_line]), y


@pytest.mark.parametrize("data", [QUASI_1D, QUASI_WIDE, quasi_2d()], ids=["1-D", "wide", "2-D"])
def test_quasi_separation_is_detected(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    on_line = int(np.sum(X[:, 0] == 0.0))
    with pytest.raises(SeparationError, match=rf"quasi-completely \({on_line} points on the"):
        solve(X, y)
    for tol in (1e-4, 1e-14):  # neither stopping early nor going on into rounding may hide it
        with pytest.raises(SeparationError, match="quasi-completely"):
            solve(X, y, tol=tol)
    assert solve(X, y, l2=0.01).converged


def test_separation_beyond_the_certificate_is_still_an_error() -> None:
    # rates 1e12 apart: no certificate is found, but Newton never settles; no huge numbers back
    X = np.array([[-1e4], [-1e-8], [0.0], [0.0], [1e-8], [1e4]])
    with pytest.raises(SeparationError, match="apparently separated"):
        solve(X, QUASI_1D[1])


def test_nearly_separated_data_are_not_flagged() -> None:
    # one pair out of order makes the classes overlap: a finite, if large, estimate exists
    X = np.array([[-3.0], [-2.0], [-1.0], [0.0], [1e-3], [1.0], [2.0], [3.0]])
    y = np.array([0, 0, 0, 1, 0, 1, 1, 1.0])
    sol = solve(X, y)
    assert sol.converged and 8.0 < sol.w[0] < 9.0


def test_separation_error_is_a_value_error_and_one_class_is_rejected() -> None:
    assert issubclass(SeparationError, ValueError)
    X, _ = overlapping(20)
    for l2 in (0.0, 1.0):  # l2 does not reach the intercept
        with pytest.raises(SeparationError, match="one class"):
            solve(X, np.zeros(20), l2=l2)


@pytest.mark.parametrize("column", ["constant", "repeated"])
def test_singular_hessian_is_a_clear_error(column: str) -> None:
    X, y = overlapping()
    extra = np.full(len(X), 3.0) if column == "constant" else X[:, 0]
    X = np.column_stack([X, extra])
    with pytest.raises(ValueError, match=r"rank 3 < 4 .*pass weight_decay > 0"):
        solve(X, y)
    assert solve(X, y, l2=0.1).converged  # the penalty makes the minimizer unique


# ---------------------------------------------------------------- arguments and API


X_OK, Y_OK = overlapping(20)
BAD = [
    ({"X": np.where(np.eye(20, 2) == 1, np.nan, X_OK)}, ValueError, "X must hold finite"),
    ({"X": X_OK[:, 0]}, ValueError, "X must be 2-D"),
    ({"y": np.where(np.arange(20) == 3, 2.0, Y_OK)}, ValueError, "y must hold only 0 and 1"),
    ({"l2": -1.0}, ValueError, "l2 must be >= 0"),
    ({"l2": "big"}, TypeError, "l2 must be a real number"),
    ({"tol": 0.0}, ValueError, "tol must be > 0"),
    ({"max_iter": 0}, ValueError, "max_iter must be >= 1"),
    ({"max_iter": 2.5}, TypeError, "max_iter must be an integer"),
]


@pytest.mark.parametrize(("change", "error", "message"), BAD, ids=[str(b[0])[:20] for b in BAD])
def test_bad_arguments_are_rejected(change: dict, error: type, message: str) -> None:
    args = {"X": X_OK, "y": Y_OK, **change}
    with pytest.raises(error, match=message):
        solve(args.pop("X"), args.pop("y"), **args)


def test_max_iter_limits_the_steps_and_the_solution_is_frozen() -> None:
    X, y = overlapping()
    sol = solve(X, y, max_iter=1)
    assert sol.n_iter == 1 and not sol.converged and sol.grad_norm > 1e-10
    with pytest.raises(dataclasses.FrozenInstanceError):
        sol.b = 0.0  # type: ignore[misc]


def test_the_solver_does_not_import_torch() -> None:
    code = "import sys, lr_variants.solver; print('torch' in sys.modules)"
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "False"


def test_weight_decay_is_the_name_and_l2_its_alias() -> None:
    """``weight_decay=`` (as create() and --weight-decay) and its former name ``l2=`` give the
    same solution; both at once, or a bad value, is a ValueError naming the argument."""
    X, y = two_blobs(100, 1)
    named, alias = solve(X, y, weight_decay=0.1), solve(X, y, l2=0.1)
    assert np.array_equal(named.w, alias.w) and named.b == alias.b and named.loss == alias.loss
    assert solve(X, y, weight_decay=0.1).loss > solve(X, y, weight_decay=0.01).loss
    with pytest.raises(
        ValueError,
        match=r"^pass weight_decay or its alias l2, not both; got "
        r"weight_decay=0\.1 and l2=0\.1$",
    ):
        solve(X, y, weight_decay=0.1, l2=0.1)
    with pytest.raises(ValueError, match="weight_decay"):
        solve(X, y, weight_decay=-1.0)
    with pytest.raises(ValueError, match="l2"):
        solve(X, y, l2=-1.0)
    w, b = named.w, named.b
    assert objective(X, y, w, b, weight_decay=0.1) == objective(X, y, w, b, l2=0.1) == named.loss
    with pytest.raises(ValueError, match="not both"):
        objective(X, y, w, b, weight_decay=0.1, l2=0.1)
