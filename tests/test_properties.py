"""Cross-check suite: every variant's loss, gradient and trajectory against
independent float64 references, with tolerances derived from rounding-error bounds.

The bounds (``loss_error``, ``gradient_error``, ``probability_error``, ``step_error``) and the
assertions that use them live in ``tests/bounds.py``, derived in ``docs/testing.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import reference as ref
import torch
import torch.nn.functional as F
from bounds import (
    EPS,
    check_close,
    check_that,
    gradient_error,
    logit_error,
    loss_error,
    probability_error,
    step_error,
    vs_reference,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import (
    Z_SIGMOID_ONE_F32,
    Z_SIGMOID_ZERO_F32,
    Problem,
    Run,
    edge_examples,
    extreme_float32_problems,
    make_problem,
    moderate_problems,
    problems,
    runs,
    unsaturated_problems,
)

import lr_variants as lv

# every implementation under test: each built-in variant's textbook form ("numpy") and its tuned
# twin where it has one ("numpy:fast")
VARIANTS: tuple[str, ...] = tuple(
    name if impl == "textbook" else f"{name}:{impl}"
    for name in lv.VARIANTS
    for impl in lv.impls(name)
)
TWINS: tuple[str, ...] = tuple(v for v in VARIANTS if ":" in v)


def create(variant: str, n_features: int, **options: Any) -> lv.Model:
    """``lv.create`` for an entry of :data:`VARIANTS` (``"name"`` or ``"name:impl"``)."""
    name, _, impl = variant.partition(":")
    return lv.create(name, n_features, impl=impl or "textbook", **options)


LOG2 = math.log(2.0)


def scaled(fraction: float) -> settings:
    """The loaded profile's ``max_examples`` times ``fraction`` (at least 1): expensive
    properties run fewer examples, and every profile still sizes all of them."""
    loaded = settings.default
    assert loaded is not None  # conftest.py has loaded a profile
    return settings(max_examples=max(1, round(loaded.max_examples * fraction)))


# ======================================================================= models

_MODELS: dict[tuple[Any, ...], lv.Model] = {}


def model_at(variant: str, p: Problem, *, lr: float = 0.1, **options: Any) -> lv.Model:
    """A model of ``variant`` for ``p``'s shape and dtype, its parameters set to ``(p.w, p.b)``.

    Models are cached per (variant, D, dtype, lr, options) and reused through ``set_params``:
    creating torch models per example costs more than the checks themselves. A reused model's
    optimizer state is reset, so that no momentum buffer leaks from one example to the next.
    """
    key = (variant, p.d, p.dtype, lr, tuple(sorted(options.items())))
    model = _MODELS.get(key)
    if model is None:
        model = _MODELS[key] = create(variant, p.d, lr=lr, dtype=p.dtype, **options)
    model.set_params(p.w, p.b)
    model.set_state({})
    return model


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    """Run this module's tests with one torch intra-op thread, restoring the setting after.

    The problems here have at most 128 rows, too few for threads to pay off, and on a shared
    2-core machine an OpenMP barrier can wait a whole scheduler tick (~4 ms) for a descheduled
    worker: measured 5.2 s vs 0.7 s for one trajectory property. The error bounds hold for any
    summation order, so the thread count cannot change a verdict.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# parametrized, not a fixture: Hypothesis rejects function-scoped fixtures under @given
per_variant = pytest.mark.parametrize("variant", VARIANTS)


# ======================================================================= agreement with the reference


def check_against_reference(variant: str, p: Problem, model: lv.Model) -> None:
    __tracebackhide__ = True
    X, y, w, b, dt = p.X, p.y, p.w, p.b, p.dtype
    kw = {"variant": variant, "dtype": dt}
    check_close(
        model.loss(X, y),
        ref.loss(X, y, w, b),
        vs_reference(loss_error, X, y, w, b, dtype=dt),
        quantity="loss",
        **kw,
    )
    gw, gb = model.gradients(X, y)
    rgw, rgb = ref.gradients(X, y, w, b)
    tw, tb = vs_reference(gradient_error, X, y, w, b, dtype=dt)
    check_close(gw, rgw, tw, quantity="dL/dw", **kw)
    check_close(gb, rgb, tb, quantity="dL/db", **kw)
    check_close(
        model.predict_proba(X),
        ref.sigmoid(ref.logits(X, w, b)),
        vs_reference(probability_error, X, w, b, dtype=dt),
        quantity="predict_proba",
        **kw,
    )


@per_variant
@edge_examples()
@given(problem=problems())
def test_loss_gradient_and_probabilities_match_float64_reference(
    variant: str, problem: Problem
) -> None:
    """Every variant's loss, gradient and probabilities equal the float64 reference on the same
    (dtype-rounded) inputs within the derived rounding-error bound."""
    check_against_reference(variant, problem, model_at(variant, problem))


@per_variant
@scaled(0.5)
@given(problem=moderate_problems())
def test_gradient_matches_central_differences(variant: str, problem: Problem) -> None:
    """In float64 every variant's gradient equals central finite differences of its own loss
    within truncation plus rounding plus the gradient's own error bound."""
    # h = 2**-14 (6.1e-5) balances the truncation h^2/6 |L'''| <= h^2/6 mean|x|^3 / (6 sqrt 3)
    # (|sigmoid''| <= 1/(6 sqrt 3); <= 2e-9 for |x| <= 3) against the rounding, the two losses'
    # error bounds over the step (~1e-12 / 6e-5 = 2e-8): both far below a wrong gradient's error
    p = problem
    model = model_at(variant, p)
    gw, gb = model.gradients(p.X, p.y)
    theta = np.append(p.w, p.b)
    Xt = np.column_stack([p.X, np.ones(p.n)])
    h = 2.0**-14
    fd, tol = np.empty(p.d + 1), np.empty(p.d + 1)
    for k in range(p.d + 1):
        up, down = theta.copy(), theta.copy()
        up[k] += h
        down[k] -= h
        step = up[k] - down[k]  # the step actually taken after rounding theta +- h
        model.set_params(up[:-1], up[-1])
        l_up = model.loss(p.X, p.y)
        model.set_params(down[:-1], down[-1])
        l_down = model.loss(p.X, p.y)
        fd[k] = (l_up - l_down) / step
        truncation = (step / 2) ** 2 / 6 * np.mean(np.abs(Xt[:, k]) ** 3) / (6 * math.sqrt(3))
        rounding = (
            loss_error(p.X, p.y, up[:-1], up[-1], "float64")
            + loss_error(p.X, p.y, down[:-1], down[-1], "float64")
        ) / step
        tol[k] = truncation + rounding
    tw, tb = gradient_error(p.X, p.y, p.w, p.b, "float64")
    check_close(
        np.append(gw, gb),
        fd,
        tol + np.append(tw, tb),
        variant=variant,
        dtype="float64",
        quantity="(dL/dw, dL/db) vs central differences",
        note=f"; h = {h}",
    )


def torch_loss(
    variant: str, X: np.ndarray, y: np.ndarray
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The loss of ``(w, b)`` built the way the torch variants build it, in float64:
    ``nn.Linear`` (``F.linear``) + ``BCEWithLogitsLoss`` for "module", ``X @ w + b`` +
    ``binary_cross_entropy_with_logits`` otherwise."""
    Xt, yt = torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    if variant.startswith("module"):
        return lambda w, b: F.binary_cross_entropy_with_logits(
            F.linear(Xt, w.unsqueeze(0), b.reshape(1)).squeeze(-1), yt
        )
    return lambda w, b: F.binary_cross_entropy_with_logits(Xt @ w + b, yt)


@per_variant
@scaled(0.3)
@given(problem=moderate_problems())
def test_gradient_equals_torch_autograd_and_gradcheck_passes(
    variant: str, problem: Problem
) -> None:
    """torch.autograd.gradcheck passes for the loss built as the torch variants build it, and
    every variant's float64 gradient equals that loss's autograd gradient within twice the
    float64 gradient bound."""
    p = problem
    f = torch_loss(variant, p.X, p.y)
    wt = torch.tensor(p.w, dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(p.b, dtype=torch.float64, requires_grad=True)
    # gradcheck's own defaults (eps 1e-6, atol 1e-5, rtol 1e-3) are ample in float64 for |z| <= 98
    assert torch.autograd.gradcheck(f, (wt, bt)), f"gradcheck failed for {variant}'s torch loss"
    tgw, tgb = torch.autograd.grad(f(wt, bt), (wt, bt))
    gw, gb = model_at(variant, p).gradients(p.X, p.y)
    tw, tb = gradient_error(p.X, p.y, p.w, p.b, "float64")
    kw = {"variant": variant, "dtype": "float64"}
    check_close(gw, tgw.numpy(), 2 * tw, quantity="dL/dw vs torch autograd", **kw)
    check_close(gb, float(tgb), 2 * tb, quantity="dL/db vs torch autograd", **kw)


# ======================================================================= identities


@per_variant
@edge_examples()
@given(problem=problems())
def test_loss_is_nonnegative(variant: str, problem: Problem) -> None:
    """Every variant's loss is >= 0 exactly (a mean of -log of probabilities), not just within
    rounding."""
    loss = model_at(variant, problem).loss(problem.X, problem.y)
    check_that(loss >= 0.0, variant=variant, dtype=problem.dtype, message=f"loss = {loss!r} < 0")


@per_variant
@edge_examples()
@given(problem=problems())
def test_loss_at_zero_parameters_is_log_2(variant: str, problem: Problem) -> None:
    """At w = 0, b = 0 every variant's loss is log 2 whatever X and y."""
    p = make_problem(problem.X, problem.y, np.zeros(problem.d), 0.0, problem.dtype)
    tol = vs_reference(loss_error, p.X, p.y, p.w, p.b, dtype=p.dtype)
    loss = model_at(variant, p).loss(p.X, p.y)
    check_close(loss, LOG2, tol, variant=variant, dtype=p.dtype, quantity="loss at w = 0, b = 0")


@per_variant
@edge_examples()
@given(problem=problems())
def test_flipping_labels_and_parameter_signs_keeps_the_loss(variant: str, problem: Problem) -> None:
    """Every variant's loss is unchanged when y -> 1 - y and (w, b) -> (-w, -b), since
    l(-z, 1 - y) = l(z, y)."""
    p = problem
    model = model_at(variant, p)
    loss = model.loss(p.X, p.y)
    model.set_params(-p.w, -p.b)
    flipped = model.loss(p.X, 1.0 - p.y)
    tol = 2 * loss_error(p.X, p.y, p.w, p.b, p.dtype)  # two computations of one exact value
    check_close(
        flipped,
        loss,
        tol,
        variant=variant,
        dtype=p.dtype,
        quantity="loss with flipped labels and signs",
    )


@per_variant
@edge_examples()
@given(problem=problems())
def test_gradient_is_x_transpose_residual_over_n(variant: str, problem: Problem) -> None:
    """Every variant's gradient equals X^T (sigmoid(z) - y) / N and mean(sigmoid(z) - y) computed
    in float64 from the variant's own predict_proba."""
    p = problem
    model = model_at(variant, p)
    gw, gb = model.gradients(p.X, p.y)
    r = model.predict_proba(p.X) - p.y
    dp = probability_error(p.X, p.w, p.b, p.dtype)  # the error of the variant's own p
    tw, tb = vs_reference(gradient_error, p.X, p.y, p.w, p.b, dtype=p.dtype)
    kw = {"variant": variant, "dtype": p.dtype}
    check_close(
        gw,
        p.X.T @ r / p.n,
        tw + np.abs(p.X).T @ dp / p.n,
        quantity="dL/dw vs X^T (p - y) / N",
        **kw,
    )
    check_close(gb, np.mean(r), tb + np.mean(dp), quantity="dL/db vs mean(p - y)", **kw)


@per_variant
@edge_examples(perm_seed=0)
@given(problem=problems(max_n=32), perm_seed=st.integers(0, 2**32 - 1))
def test_loss_invariant_to_row_permutation_and_duplication(
    variant: str, problem: Problem, perm_seed: int
) -> None:
    """Every variant's loss and gradient are unchanged by permuting the rows and by stacking the
    whole data set twice."""
    p = problem
    model = model_at(variant, p)
    kw = {"variant": variant, "dtype": p.dtype}
    loss, (gw, gb) = model.loss(p.X, p.y), model.gradients(p.X, p.y)
    tl = loss_error(p.X, p.y, p.w, p.b, p.dtype)
    tw, tb = gradient_error(p.X, p.y, p.w, p.b, p.dtype)
    order = np.random.default_rng(perm_seed).permutation(p.n)
    X2, y2 = np.vstack([p.X, p.X]), np.concatenate([p.y, p.y])
    tl2 = loss_error(X2, y2, p.w, p.b, p.dtype)
    tw2, tb2 = gradient_error(X2, y2, p.w, p.b, p.dtype)
    for what, (X, y), (t_l, t_w, t_b) in (
        ("rows permuted", (p.X[order], p.y[order]), (2 * tl, 2 * tw, 2 * tb)),
        ("data duplicated", (X2, y2), (tl + tl2, tw + tw2, tb + tb2)),
    ):
        check_close(model.loss(X, y), loss, t_l, quantity=f"loss, {what}", **kw)
        g2w, g2b = model.gradients(X, y)
        check_close(g2w, gw, t_w, quantity=f"dL/dw, {what}", **kw)
        check_close(g2b, gb, t_b, quantity=f"dL/db, {what}", **kw)


# ======================================================================= trajectories


def reference_run(
    run: Run, dtype: str
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """The float64 reference SGD on ``run``'s batches, with the tolerances it implies.

    Returns ``(batches, thetas, losses, param_tol, loss_tol)``: ``thetas[k]`` the reference
    parameters after k steps (``thetas[0]`` the start), ``losses[k]`` the loss of batch k before
    its step, ``param_tol[k]`` the allowed ``|theta_hat_k - theta_k|``, ``loss_tol[k]`` the
    allowed error of step k's loss.

    Growth: ``lr * L <= 1`` (``strategies.runs``), so each exact step
    ``T(theta) = theta - lr grad L_batch(theta)`` is non-expansive (gradient of a convex,
    L-smooth function, ``lr <= 2 / L``). If the variant computes ``T(theta_hat) + e_k`` then
    ``|theta_hat_{k+1} - theta_{k+1}| <= |theta_hat_k - theta_k| + |e_k|``: errors add, they do
    not amplify, and ``param_tol[k] = 2 * sum_{j<k} (step_error(dtype) + step_error(float64))``
    (the reference rounds too; the 2 covers evaluating the bound at the reference's parameters
    instead of the variant's, which differ by far less than the parameters themselves). A step's
    loss is allowed its own error plus ``mean_i |(x_i, 1)| * param_tol[k]`` (``|dl/dz| <= 1``).
    """
    p = run.problem
    idx = list(lv.batches(p.n, epochs=run.epochs, batch_size=run.batch_size, seed=run.seed))
    path = ref.sgd(p.X, p.y, p.w, p.b, lr=run.lr, index_batches=idx)  # type: ignore[no-untyped-call]
    thetas = [np.append(p.w, p.b)] + [np.append(w, b) for w, b in path]
    k = len(idx)
    losses, loss_tol, param_tol = np.empty(k), np.empty(k), np.zeros(k + 1)
    row_norm = np.sqrt(np.sum(p.X**2, axis=1) + 1.0)
    for j, rows in enumerate(idx):
        Xb, yb = p.X[rows], p.y[rows]
        w, b = thetas[j][:-1], float(thetas[j][-1])
        losses[j] = ref.loss(Xb, yb, w, b)
        loss_tol[j] = (
            vs_reference(loss_error, Xb, yb, w, b, dtype=dtype)
            + np.mean(row_norm[rows]) * param_tol[j]
        )
        g = np.append(*ref.gradients(Xb, yb, w, b))
        local = sum(
            step_error(Xb, yb, w, b, g, thetas[j + 1], run.lr, dt) for dt in (dtype, "float64")
        )
        param_tol[j + 1] = param_tol[j] + 2 * local
    return idx, thetas, losses, param_tol, loss_tol


@per_variant
@scaled(0.25)
@given(run=runs())
def test_sgd_steps_follow_the_reference_trajectory(variant: str, run: Run) -> None:
    """After every one of k <= 200 model.step calls on lr_variants.batches, every variant's
    parameters and returned losses agree with float64 reference SGD within a tolerance that
    grows with k."""
    p = run.problem
    model = create(variant, p.d, lr=run.lr, dtype=p.dtype)
    model.set_params(p.w, p.b)
    idx, thetas, losses, param_tol, loss_tol = reference_run(run, p.dtype)
    kw = {"variant": variant, "dtype": p.dtype}
    for k, rows in enumerate(idx):
        loss = model.step(p.X[rows], p.y[rows])
        check_close(loss, losses[k], loss_tol[k], quantity=f"loss returned by step {k + 1}", **kw)
        w, b = model.get_params()
        check_close(
            np.append(w, b),
            thetas[k + 1],
            param_tol[k + 1],
            quantity=f"(w, b) after step {k + 1} of {len(idx)}",
            **kw,
        )


@per_variant
@scaled(0.25)
@given(run=runs())
def test_train_follows_the_reference_trajectory(variant: str, run: Run) -> None:
    """lr_variants.train gives every variant the final parameters and per-batch losses of
    float64 reference SGD on the same batches within a tolerance that grows with k."""
    p = run.problem
    model = create(variant, p.d, lr=run.lr, dtype=p.dtype)
    model.set_params(p.w, p.b)
    history = lv.train(model, p.X, p.y, epochs=run.epochs, batch_size=run.batch_size, seed=run.seed)
    idx, thetas, losses, param_tol, loss_tol = reference_run(run, p.dtype)
    kw = {"variant": variant, "dtype": p.dtype}
    check_close(history.batch_loss.ravel(), losses, loss_tol, quantity="train's batch losses", **kw)
    w, b = model.get_params()
    check_close(
        np.append(w, b),
        thetas[-1],
        param_tol[-1],
        quantity=f"(w, b) after train ({len(idx)} steps)",
        **kw,
    )


# ======================================================================= stability


@per_variant
@given(problem=extreme_float32_problems())
def test_stable_loss_is_finite_for_finite_float32_inputs(variant: str, problem: Problem) -> None:
    """For float32 inputs up to |x| * |w| = 1e35 (logits to 1.7e36) every variant's loss,
    gradient and probabilities are finite and equal the float64 reference within the bound."""
    p = problem
    model = model_at(variant, p)
    loss, (gw, gb) = model.loss(p.X, p.y), model.gradients(p.X, p.y)
    finite = bool(np.isfinite(loss) and np.isfinite(gw).all() and np.isfinite(gb))
    check_that(
        finite,
        variant=variant,
        dtype=p.dtype,
        message=f"not finite: loss {loss!r}, dL/dw {gw!r}, dL/db {gb!r}",
    )
    check_against_reference(variant, p, model)


def article_loss_error(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, dtype: str) -> float:
    """Bound on the error of ``nn.BCELoss()(sigmoid(z), y)``: the stable bound plus, for y = 0,
    ``-log(1 - p_hat) + log(1 - p) = -log(1 - delta e^z) <= a / (1 - a)`` with
    ``p_hat = p (1 + delta)``, ``|delta| <= 4 eps``, ``a = 4 eps e^z`` (1 - p is formed from a
    rounded p: its relative error is amplified by p / (1 - p) = e^z); for y = 1,
    ``-log(1 + delta) <= 2 |delta|``. Valid while ``a < 1/2`` (z <= 12 in float32)."""
    z = ref.logits(X, w, b) + logit_error(X, w, b, dtype)
    a = 4 * EPS[dtype] * np.exp(np.minimum(z, 700.0))
    extra = np.where(y == 0.0, a / (1.0 - a), 8 * EPS[dtype])
    return loss_error(X, y, w, b, dtype) + float(np.mean(extra))


@scaled(0.5)
@given(problem=unsaturated_problems())
def test_article_loss_agrees_with_stable_where_sigmoid_does_not_saturate(problem: Problem) -> None:
    """For logits in [-25, 12] the article's form (module, loss="sigmoid_bce") has the stable
    loss's value and gradient within the sum of their error bounds."""
    p = problem
    article = model_at("module", p, loss="sigmoid_bce")
    stable = model_at("module", p)
    kw = {"variant": "module(sigmoid_bce) vs module", "dtype": p.dtype}
    tol = article_loss_error(p.X, p.y, p.w, p.b, p.dtype) + loss_error(p.X, p.y, p.w, p.b, p.dtype)
    check_close(article.loss(p.X, p.y), stable.loss(p.X, p.y), tol, quantity="loss", **kw)
    # the gradient: BCELoss's backward (p - y) / (p (1 - p)) times sigmoid's p (1 - p) cancels
    # up to a few roundings (8 eps relative) while p (1 - p) >= 1e-12, i.e. z >= -27.63
    aw, ab = article.gradients(p.X, p.y)
    sw, sb = stable.gradients(p.X, p.y)
    tw, tb = gradient_error(p.X, p.y, p.w, p.b, p.dtype)
    check_close(aw, sw, 2 * tw + 8 * EPS[p.dtype] * np.abs(sw), quantity="dL/dw", **kw)
    check_close(ab, sb, 2 * tb + 8 * EPS[p.dtype] * abs(sb), quantity="dL/db", **kw)


# float32 logits where the article's form departs (torch 2.x, CPU), found by bisection over
# float32 values with torch (docs/testing.md shows the search):
Z_ONE = Z_SIGMOID_ONE_F32  # 16.635532: smallest z with sigmoid(z) == 1 (1 - p < half an ulp)
Z_ZERO = Z_SIGMOID_ZERO_F32  # -88.72284: largest z with sigmoid(z) == 0 (exp(-z) overflows)
Z_GRAD = float(np.float32(-27.63102))  # smallest z with p (1 - p) >= 1e-12 (BCELoss's epsilon)


def _next(z: float, direction: float) -> float:
    return float(np.nextafter(np.float32(z), np.float32(direction)))


def test_article_loss_departs_exactly_at_pinned_thresholds() -> None:
    """In float32 the article's form departs from the stable loss exactly at sigmoid's rounding
    to 1 (z >= 16.635532: loss 100, gradient 0 for y = 0), its underflow to 0 (z <= -88.72284:
    loss 100, gradient 0 for y = 1) and BCELoss's 1e-12 clamp (z < -27.63102: the gradient
    shrinks by p (1 - p) / 1e-12)."""
    one = make_problem([[1.0]], [0.0], [0.0], 0.0, "float32")
    models = {
        "module(sigmoid_bce)": model_at("module", one, loss="sigmoid_bce"),
        "module": model_at("module", one),
    }
    X1 = np.array([[1.0]])

    def at(which: str, z: float, y: float) -> tuple[float, float, float]:
        """``(p, loss, dL/dz)`` of one row with logit ``z`` (``1 * z + 0``, exact) and label y."""
        model = models[which]
        model.set_params([z], 0.0)
        return model.predict_proba(X1)[0], model.loss(X1, [y]), model.gradients(X1, [y])[0][0]

    def expect(which: str, z: float, y: float, what: str, value: float, rel: float = 0.0) -> None:
        """``what`` (p, loss or grad) at ``(z, y)`` equals ``value`` within ``rel`` relative
        (0: exactly; 1e-6 ~ 8 float32 ulps: a few roundings)."""
        __tracebackhide__ = True
        got = at(which, z, y)[("p", "loss", "grad").index(what)]
        quantity = f"{what} at z = {z!r}, y = {y:g}"
        check_close(got, value, rel * abs(value), variant=which, quantity=quantity, dtype="float32")

    A, S = "module(sigmoid_bce)", "module"
    # sigmoid rounds to 1 from Z_ONE on: log(1 - p) = log 0 is clamped at -100, the gradient is 0
    below = _next(Z_ONE, 0.0)
    expect(A, Z_ONE, 0.0, "p", 1.0)
    p_below = at(A, below, 0.0)[0]
    check_that(
        p_below < 1.0, variant=A, dtype="float32", message=f"p({below!r}) = {p_below!r}, not < 1"
    )
    for z in (Z_ONE, 17.0, 89.0, 1e4):
        expect(A, z, 0.0, "loss", 100.0)
        expect(A, z, 0.0, "grad", 0.0)
        expect(S, z, 0.0, "loss", z, rel=1e-6)  # the true loss and gradient
        expect(S, z, 0.0, "grad", 1.0, rel=1e-6)
    # one ulp below, the loss is -log(1 - p) with 1 - p = 2**-23: finite, but 0.69 short of z
    expect(A, below, 0.0, "loss", 23 * LOG2, rel=1e-6)
    expect(A, below, 0.0, "grad", 1.0, rel=1e-6)
    expect(S, below, 0.0, "loss", below, rel=1e-6)
    # sigmoid is 0 from Z_ZERO down (exp(-z) overflows): log p is clamped at -100, gradient 0
    above = _next(Z_ZERO, 0.0)
    expect(A, Z_ZERO, 1.0, "p", 0.0)
    p_above = at(A, above, 1.0)[0]
    check_that(
        p_above > 0.0, variant=A, dtype="float32", message=f"p({above!r}) = {p_above!r}, not > 0"
    )
    for z in (Z_ZERO, -89.0, -1e4):
        expect(A, z, 1.0, "loss", 100.0)
        expect(A, z, 1.0, "grad", 0.0)
        expect(S, z, 1.0, "loss", -z, rel=1e-6)
        expect(S, z, 1.0, "grad", -1.0, rel=1e-6)
    expect(A, above, 1.0, "loss", -above, rel=1e-6)  # p is subnormal there, the loss still right
    # BCELoss's backward divides by max(p (1 - p), 1e-12): from Z_GRAD down the gradient shrinks
    f32 = np.float32
    for z, side in ((Z_GRAD, True), (_next(Z_GRAD, -100.0), False)):
        p32 = f32(at(A, z, 1.0)[0])
        q = float((f32(1) - p32) * p32)  # p (1 - p) as BCELoss's backward computes it
        ok = (q >= 1e-12) == side
        check_that(ok, variant=A, dtype="float32", message=f"p (1 - p) = {q!r} at z = {z!r}")
    for z in (Z_GRAD, -20.0, -10.0):  # above it: the true gradient p - 1
        expect(A, z, 1.0, "grad", at(A, z, 1.0)[0] - 1.0, rel=1e-6)
    for z in (-28.0, -30.0, -40.0, -60.0):  # below it: the loss is right, the gradient is not
        pz = at(A, z, 1.0)[0]
        expect(A, z, 1.0, "loss", -z, rel=1e-6)
        expect(A, z, 1.0, "grad", -(1 - pz) * pz / 1e-12, rel=1e-5)
        expect(S, z, 1.0, "grad", pz - 1.0, rel=1e-6)


# ======================================================================= devices


@pytest.mark.parametrize("other", VARIANTS[1:])
@edge_examples()
@given(problem=problems())
def test_variants_agree_with_each_other_on_cpu(other: str, problem: Problem) -> None:
    """On CPU, in float32 and float64, every variant's loss, gradient, probabilities and one SGD
    step agree with the first variant's within the sum of both error bounds."""
    p, base = problem, VARIANTS[0]
    a, b_ = model_at(base, p, lr=0.25), model_at(other, p, lr=0.25)
    _check_pair(a, b_, p, f"{other} vs {base}")


@pytest.mark.parametrize("twin", TWINS)
@edge_examples()
@given(problem=problems())
def test_tuned_twins_agree_with_their_textbook_recipe(twin: str, problem: Problem) -> None:
    """Every tuned implementation's loss, gradient, probabilities and one SGD step agree with
    its own textbook recipe within the sum of both error bounds."""
    p, base = problem, twin.partition(":")[0]
    a, b_ = model_at(base, p, lr=0.25), model_at(twin, p, lr=0.25)
    _check_pair(a, b_, p, f"{twin} vs {base}")


def _check_pair(a: lv.Model, b_: lv.Model, p: Problem, label: str) -> None:
    __tracebackhide__ = True
    X, y, w, b, dt = p.X, p.y, p.w, p.b, p.dtype
    kw = {"variant": label, "dtype": dt}
    check_close(b_.loss(X, y), a.loss(X, y), 2 * loss_error(X, y, w, b, dt), quantity="loss", **kw)
    tw, tb = gradient_error(X, y, w, b, dt)
    (aw, ab), (bw, bb) = a.gradients(X, y), b_.gradients(X, y)
    check_close(bw, aw, 2 * tw, quantity="dL/dw", **kw)
    check_close(bb, ab, 2 * tb, quantity="dL/db", **kw)
    check_close(
        b_.predict_proba(X),
        a.predict_proba(X),
        2 * probability_error(X, w, b, dt),
        quantity="predict_proba",
        **kw,
    )
    a.step(X, y)
    b_.step(X, y)
    g = np.append(*ref.gradients(X, y, w, b))
    theta1 = np.append(w, b) - a.lr * g
    tol = 2 * step_error(X, y, w, b, g, theta1, a.lr, dt)
    check_close(
        np.append(*b_.get_params()),
        np.append(*a.get_params()),
        tol,
        quantity="(w, b) after one step",
        **kw,
    )


CUDA = torch.cuda.is_available()


@per_variant
@pytest.mark.skipif(
    not CUDA,
    reason="CUDA is not available here (torch.cuda.is_available() is False): CPU vs CUDA not compared",
)
@scaled(0.5)
@given(problem=problems())
def test_cpu_and_cuda_agree(variant: str, problem: Problem) -> None:
    """Where CUDA is present, each variant's loss, gradient, probabilities and one SGD step on
    CUDA agree with the same variant on CPU within twice the error bound."""
    # the float32 bound assumes TF32 off for matmul (torch's default); TF32 would need 2**-10
    if torch.backends.cuda.matmul.allow_tf32:
        pytest.skip("torch.backends.cuda.matmul.allow_tf32 is on: float32 matmul is TF32")
    p = problem
    try:
        gpu = model_at(variant, p, lr=0.25, device="cuda")
    except ValueError as exc:
        pytest.skip(f"{variant} does not run on CUDA: {exc}")
    _check_pair(model_at(variant, p, lr=0.25), gpu, p, f"{variant} cuda vs cpu")
