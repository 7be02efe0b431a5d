"""Checks of the optimizer: every ``torch.optim.SGD`` option over many steps against the
float64 rule of ``lr_variants.testing.reference``, and a zero-weight batch inside ``train``."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
from hypothesis import strategies as st

from lr_variants._validate import F64
from lr_variants.testing import reference as ref
from lr_variants.testing import strategies as S
from lr_variants.testing._run import Context, Mismatch, run_property
from lr_variants.testing.bounds import gradient_error, smoothness, trajectory_error, vs_reference
from lr_variants.testing.reference import SGDRule
from lr_variants.training import train

Weights = F64 | None


def reference_run(
    p: S.Problem, rule: SGDRule, batches: list[np.ndarray], weights: list[Weights] | None = None
) -> tuple[F64, F64]:
    """The float64 parameters ``(w, b)`` after each step (one row per step) and the bound
    ``lr_variants.testing.bounds.trajectory_error`` on a ``p.dtype`` run's distance from
    them. A batch whose weights are all zero contributes a zero gradient."""
    params: list[F64] = [p.w.copy(), np.array(p.b)]
    bufs: list[F64 | None] = [None, None]
    path, grad_errors, mags = [], [], []
    for k, idx in enumerate(batches):
        Xb, yb, s = p.X[idx], p.y[idx], None if weights is None else weights[k]
        w, b = params[0], float(params[1])
        if s is not None and not s.any():
            gw, gb, G = np.zeros_like(w), 0.0, 0.0
        else:
            gw, gb = ref.gradients(Xb, yb, w, b, s)
            u = None if s is None else s / s.sum()
            tw, tb = vs_reference(gradient_error, Xb, yb, w, b, dtype=p.dtype, u=u)
            G = math.hypot(float(np.linalg.norm(tw)), tb)
        grads = [gw, np.array(gb)]
        buf_before = float(
            np.linalg.norm(
                np.concatenate([np.ravel(v) for v in bufs if v is not None] or [np.zeros(1)])
            )
        )
        params_next, dirs, bufs = ref.sgd_step(rule, params, grads, bufs)
        theta_next, d, g = (np.append(*v) for v in (params_next, dirs, grads))
        decayed = np.append(params[0], params[1] if rule.decay_bias else 0.0)
        B = rule.momentum * buf_before + float(np.linalg.norm(g)) if rule.momentum else 0.0
        mags.append(
            (
                float(np.linalg.norm(theta_next) + rule.lr * np.linalg.norm(d)),
                rule.lr * float(np.linalg.norm(g) + rule.weight_decay * np.linalg.norm(decayed)),
                B,
            )
        )
        grad_errors.append(G)
        params = params_next
        path.append(theta_next)
    tol = trajectory_error(rule, smoothness(p.X), grad_errors, mags, p.dtype)
    return np.array(path), tol


def _check_path(
    got: list[F64], expected: F64, tol: F64, what: str, case: object, first: int = 1
) -> None:
    for k, (g, e, t) in enumerate(zip(got, expected, tol, strict=True)):
        dist = float(np.linalg.norm(g - e))
        if not dist <= t:
            step = k + first
            hint = (
                "the first step already differs"
                if step == 1
                else f"steps 1 to {step - 1} agree and step {step} does not: something carried "
                "from step to step (a momentum buffer, a stale or accumulated gradient)"
            )
            shown_e, shown_g = _short(e), _short(g)
            raise Mismatch(
                f"{what}: after step {step}, (w, b) reference {shown_e}, variant {shown_g}; "
                f"distance {dist:.3g} > tolerance {t:.3g}",
                case,
                quantity="(w, b)",
                hints=[hint] if len(got) > 1 or step > 1 else [],
            )


def _short(v: F64) -> str:
    """A parameter vector, its first 8 values and the bias when it is long."""
    values = v.tolist()
    if len(values) <= 9:
        return repr(values)
    return f"[{', '.join(map(repr, values[:8]))}, ... ({len(v) - 1} weights), {values[-1]!r}]"


def describe(rule: SGDRule) -> str:
    """``SGD(lr=..., momentum=...)`` with the options that differ from their defaults."""
    default = SGDRule()
    changed = [
        f"{f.name}={getattr(rule, f.name)!r}"
        for f in dataclasses.fields(rule)
        if f.name == "lr" or getattr(rule, f.name) != getattr(default, f.name)
    ]
    return f"SGD({', '.join(changed)})"


def run_probes(run: S.Run) -> list[tuple[str, S.Run]]:
    """Smaller versions of a failing run, each with the hint that holds if it passes."""
    p, steps = run.problem, len(run.batches)
    out = []
    if run.batch_size > 32:
        out.append(
            (
                f"fails only with batches of more than 32 rows: the same run in batches of 32 "
                f"passes (this one: {run.batch_size})",
                S.make_run(p, 32, steps, run.seed),
            )
        )
    if p.d > 8:
        out.append(
            (
                f"fails only with more than 8 features: the same run on the first 8 of {p.d} "
                "passes",
                S.make_run(p.features(8), run.batch_size, steps, run.seed),
            )
        )
    x_max = float(np.max(np.abs(p.X)))
    if x_max > 2.0 or 0.0 < x_max < 0.5:
        k = 2.0 ** -math.ceil(math.log2(x_max))
        out.append(
            (
                f"fails only at {'large' if x_max > 1 else 'small'} feature scales (|x| up to "
                f"{x_max:.3g}): the same run with the features rescaled to |x| <= 1 passes",
                S.make_run(p.scaled(k), run.batch_size, steps, run.seed),
            )
        )
    return out


def _sgd_check(rule_for: Callable[[float], SGDRule], doc: str) -> Callable[[Context], None]:
    def check(ctx: Context) -> None:
        def body(run: S.Run) -> None:
            rule = rule_for(run.lr)
            p = run.problem
            model = ctx.at(p, **ref.options(rule))
            got = []
            for idx in run.batches:
                model.step(p.X[idx], p.y[idx])
                got.append(np.append(*model.get_params()))
            expected, tol = reference_run(p, rule, run.batches)
            _check_path(got, expected, tol, describe(rule), run)

        run_property(
            ctx,
            S.runs(ctx.dtype),
            body,
            fraction=0.4,
            edges=S.edge_runs(ctx.dtype),
            probes=run_probes,
        )

    check.__doc__ = doc
    return check


_TRAJECTORY = (
    " Every step's (w, b) is within the error recursion of "
    ":func:`lr_variants.testing.bounds.trajectory_error` of the float64 rule."
)
check_sgd_plain = _sgd_check(lambda lr: SGDRule(lr), "Plain SGD, p <- p - lr g." + _TRAJECTORY)
check_sgd_momentum_undamped = _sgd_check(
    lambda lr: SGDRule(lr, momentum=0.9),
    "Momentum 0.9 without dampening (torch's default): the first buffer is the gradient"
    " itself, then buf <- m buf + g." + _TRAJECTORY,
)
check_sgd_momentum = _sgd_check(
    lambda lr: SGDRule(lr, momentum=0.5, dampening=0.25),
    "Momentum 0.5 with dampening 0.25: the first buffer is the gradient itself (not"
    " (1 - dampening) g from a zero buffer)." + _TRAJECTORY,
)
check_sgd_nesterov = _sgd_check(
    lambda lr: SGDRule(lr, momentum=0.5, nesterov=True),
    "Nesterov momentum 0.5: d = g + m buf." + _TRAJECTORY,
)
check_sgd_weight_decay = _sgd_check(
    lambda lr: SGDRule(lr, weight_decay=0.125),
    "Weight decay 0.125 on w only: the bias is spared unless decay_bias." + _TRAJECTORY,
)
check_sgd_decay_bias = _sgd_check(
    lambda lr: SGDRule(lr, weight_decay=0.125, decay_bias=True),
    "Weight decay 0.125 on w and b (decay_bias)." + _TRAJECTORY,
)
check_sgd_maximize = _sgd_check(
    lambda lr: SGDRule(lr, momentum=0.5, weight_decay=0.125, maximize=True),
    "maximize with momentum and weight decay: the gradient is negated before the decay is"
    " added, as torch's code does." + _TRAJECTORY,
)


@st.composite
def _zero_batch_runs(draw: st.DrawFn, dtype: str) -> tuple[S.Problem, int, int, int, F64]:
    p = draw(S.problems(dtype, max_n=256, max_d=16, max_logit=5.0).filter(lambda q: q.n >= 2))
    size = draw(st.integers(1, p.n - 1))
    zero = draw(st.integers(0, (p.n - 1) // size))
    s = draw(S.integer_weights(p.n).map(lambda a: a + 1.0))
    s[zero * size : (zero + 1) * size] = 0.0
    return p, size, zero, draw(st.integers(1, 3)), s


def check_zero_weight_batch(ctx: Context) -> None:
    """Inside ``lr_variants.train`` (plain SGD, rows in order), a batch whose sample weights are
    all zero has loss exactly 0 and leaves the parameters unchanged; the whole run stays within
    the trajectory bound of the float64 rule with that batch contributing nothing."""

    def body(case: tuple[S.Problem, int, int, int, F64]) -> None:
        p, size, zero, epochs, s = case
        shown = (p, f"batch_size={size}", f"epochs={epochs}", f"sample_weight={s.tolist()}")
        lr = 2.0 ** math.floor(math.log2(1.0 / (16.0 * smoothness(p.X))))
        model = ctx.at(p, lr=lr)
        history = train(
            model, p.X, p.y, epochs=epochs, batch_size=size, shuffle=False, sample_weight=s
        )
        losses = history.batch_loss[:, zero]
        if not np.all(losses == 0.0):
            raise Mismatch(
                f"the all-zero-weight batch {zero + 1} had loss {losses.tolist()!r} in train's "
                "epochs, expected exactly 0",
                shown,
            )
        slices = [np.arange(i, min(i + size, p.n)) for i in range(0, p.n, size)] * epochs
        expected, tol = reference_run(p, SGDRule(lr), slices, [s[i] for i in slices])
        final = [np.append(*model.get_params())]
        _check_path(final, expected[-1:], tol[-1:], "train", shown, first=len(slices))

    run_property(ctx, _zero_batch_runs(ctx.dtype), body, fraction=0.4)
