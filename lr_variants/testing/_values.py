"""Checks of values: loss, gradients and probabilities against the float64 reference, in and
far past saturation, on up to 1,024 rows and 64 features at feature scales 1e-3 to 1e3, with
and without sample weights."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import strategies as st

from lr_variants._validate import F64
from lr_variants.testing import reference as ref
from lr_variants.testing import strategies as S
from lr_variants.testing._run import Context, Mismatch, check_close, run_property
from lr_variants.testing.bounds import (
    gradient_error,
    loss_error,
    probability_error,
    vs_reference,
)

# a probe's logits are scaled down to at most this |z| ("not large")
MODEST_LOGIT = 30.0


def _problem_of(case: Any) -> S.Problem:
    """The problem of a value check's input: a Problem, a Weighted, or (Weighted, factor)."""
    if isinstance(case, tuple):
        case = case[0]
    return case.problem if isinstance(case, S.Weighted) else case


def _with_problem(case: Any, p: S.Problem, rows: int | None = None) -> Any:
    """``case`` with its problem replaced by ``p`` (and its weights cut to ``rows``)."""
    if isinstance(case, tuple):
        return (_with_problem(case[0], p, rows), *case[1:])
    if isinstance(case, S.Weighted):
        return (case if rows is None else case.rows(rows)).with_problem(p)
    return p


def _weights_of(case: Any) -> Any:
    if isinstance(case, tuple):
        case = case[0]
    return case.s if isinstance(case, S.Weighted) else None


ROW_COUNTS = (1, 2, 3, 5, 8, 32, 33, 64, 127, 256, 512)
FEATURE_COUNTS = (1, 2, 3, 8, 9, 16, 32)


def one_row(case: Any) -> list[Any]:
    """Each of the input's first 64 rows alone (with a positive weight)."""
    p, s = _problem_of(case), _weights_of(case)
    out = []
    for i in range(min(p.n, 64) if p.n > 1 else 0):
        if s is None or s[i] > 0:
            q = S.Problem(p.X[i : i + 1], p.y[i : i + 1], p.w, p.b, p.dtype)
            out.append(_with_problem(case, q) if s is None else (_one(case, q, s[i : i + 1])))
    return out


def _one(case: Any, q: S.Problem, s: F64) -> Any:
    w = S.Weighted(q, s)
    return (w, *case[1:]) if isinstance(case, tuple) else w


def fewer_rows(case: Any) -> list[Any]:
    """The input's first ``k`` rows, ``k`` from 1 up (weights that keep a positive sum)."""
    p, s = _problem_of(case), _weights_of(case)
    return [
        _with_problem(case, p.rows(k), k)
        for k in ROW_COUNTS
        if k < p.n and (s is None or np.any(s[:k]))
    ]


def fewer_features(case: Any) -> list[Any]:
    """The input's first ``k`` features, ``k`` from 1 up."""
    p = _problem_of(case)
    return [_with_problem(case, p.features(k)) for k in FEATURE_COUNTS if k < p.d]


REDUCE = (one_row, fewer_rows, fewer_features)


def probes(case: Any) -> list[tuple[str, Any]]:
    """Smaller versions of a failing value-check input, each with the hint that holds if it
    passes: the first 32 rows, the first 8 features, the features rescaled to ``|x| <= 1`` with
    the same logits, the logits scaled down to ``|z| <= 30``."""
    p = _problem_of(case)
    out: list[tuple[str, Any]] = []
    s = _weights_of(case)
    if p.n > 32 and (s is None or np.any(s[:32])):
        out.append(
            (
                f"fails only with more than 32 rows: the first 32 rows of this {p.n}-row input "
                "pass (a loop, a block or an index that goes wrong past row 32?)",
                _with_problem(case, p.rows(32), 32),
            )
        )
    if p.d > 8:
        out.append(
            (
                f"fails only with more than 8 features: the first 8 of these {p.d} pass",
                _with_problem(case, p.features(8)),
            )
        )
    x_max = float(np.max(np.abs(p.X))) if p.X.size else 0.0
    if x_max > 2.0 or 0.0 < x_max < 0.5:
        k = 2.0 ** -math.ceil(math.log2(x_max))
        size = "large" if x_max > 1 else "small"
        out.append(
            (
                f"fails only at {size} feature scales (|x| up to {x_max:.3g}): the same logits "
                "with the features rescaled to |x| <= 1 pass",
                _with_problem(case, p.scaled(k)),
            )
        )
    z_max = float(np.max(np.abs(p.z))) if p.X.size else 0.0
    if z_max > MODEST_LOGIT:
        k = 2.0 ** -math.ceil(math.log2(z_max / MODEST_LOGIT))
        past = ""
        if z_max > S.EXP_OVERFLOW[p.dtype]:
            past = (
                f"; exp(|z|) overflows {p.dtype} past |z| = {S.EXP_OVERFLOW[p.dtype]:.2f}: use "
                "forms that never exponentiate a positive number (logaddexp(0, z), "
                "exp(-|z|))"
            )
        out.append(
            (
                f"fails only at large |z| (this input reaches {z_max:.4g}): scaled down to "
                f"|z| <= {MODEST_LOGIT:g} it passes{past}",
                _with_problem(case, p.scaled(1.0, k)),
            )
        )
    return out


def _compare_loss(p: S.Problem, got: float, s: F64 | None = None, case: Any = None) -> None:
    u = None if s is None else s / s.sum()
    case = p if case is None else case
    expected = ref.loss(p.X, p.y, p.w, p.b, s)
    if not np.isfinite(got):
        raise Mismatch(
            f"loss: reference {expected!r}, variant {got!r} (not finite)",
            case,
            quantity="loss",
            hints=[
                "the variant's loss is not finite where the reference's is: an overflow "
                "(exp of a large |z|, log(0) of a rounded sigmoid) or 0/0"
            ],
        )
    tol = vs_reference(loss_error, p.X, p.y, p.w, p.b, dtype=p.dtype, u=u)
    tol32 = vs_reference(loss_error, p.X, p.y, p.w, p.b, dtype="float32", u=u)
    check_close("loss", got, expected, tol, case, n=p.n, tol32=tol32, dtype=p.dtype)


def _compare_gradients(
    p: S.Problem, got: tuple[F64, float], s: F64 | None = None, case: Any = None
) -> None:
    u = None if s is None else s / s.sum()
    case = p if case is None else case
    rgw, rgb = ref.gradients(p.X, p.y, p.w, p.b, s)
    tw, tb = vs_reference(gradient_error, p.X, p.y, p.w, p.b, dtype=p.dtype, u=u)
    t32w, t32b = vs_reference(gradient_error, p.X, p.y, p.w, p.b, dtype="float32", u=u)
    check_close("dL/dw", got[0], rgw, tw, case, n=p.n, tol32=t32w, dtype=p.dtype)
    check_close("dL/db", got[1], rgb, tb, case, n=p.n, tol32=t32b, dtype=p.dtype)


def _compare_probabilities(p: S.Problem, got: F64) -> None:
    expected = ref.sigmoid(ref.logits(p.X, p.w, p.b))
    tol = vs_reference(probability_error, p.X, p.w, p.b, dtype=p.dtype)
    tol32 = vs_reference(probability_error, p.X, p.w, p.b, dtype="float32")
    check_close("predict_proba", got, expected, tol, p, tol32=tol32, dtype=p.dtype)


def check_loss(ctx: Context) -> None:
    """The loss equals the float64 reference ``mean(logaddexp(0, z) - y z)`` within the derived
    bound (``lr_variants.testing.bounds.loss_error``), for ``|z|`` from 0 to near the
    dtype's largest finite value."""

    def body(p: S.Problem) -> None:
        _compare_loss(p, ctx.at(p).loss(p.X, p.y))

    run_property(
        ctx,
        S.problems(ctx.dtype),
        body,
        edges=S.edge_problems(ctx.dtype),
        reduce=REDUCE,
        probes=probes,
    )


def check_gradients(ctx: Context) -> None:
    """``(dL/dw, dL/db)`` equal the reference ``X^T (sigmoid(z) - y) / N`` within the derived
    bound (``lr_variants.testing.bounds.gradient_error``)."""

    def body(p: S.Problem) -> None:
        _compare_gradients(p, ctx.at(p).gradients(p.X, p.y))

    run_property(
        ctx,
        S.problems(ctx.dtype),
        body,
        edges=S.edge_problems(ctx.dtype),
        reduce=REDUCE,
        probes=probes,
    )


def check_probabilities(ctx: Context) -> None:
    """``predict_proba`` equals the reference sigmoid within the derived bound
    (``lr_variants.testing.bounds.probability_error``)."""

    def body(p: S.Problem) -> None:
        _compare_probabilities(p, ctx.at(p).predict_proba(p.X))

    run_property(
        ctx,
        S.problems(ctx.dtype),
        body,
        edges=S.edge_problems(ctx.dtype),
        reduce=REDUCE,
        probes=probes,
    )


def check_saturation(ctx: Context) -> None:
    """With every ``|z|`` between half the dtype's limit and near its largest finite value
    (just below and past ``exp``'s overflow at 709.78 in float64, 88.72 in float32), the loss is
    finite and accurate, and gradients and probabilities are accurate."""

    def body(p: S.Problem) -> None:
        model = ctx.at(p)
        _compare_loss(p, model.loss(p.X, p.y))
        _compare_gradients(p, model.gradients(p.X, p.y))
        _compare_probabilities(p, model.predict_proba(p.X))

    saturated = [e for e in S.edge_problems(ctx.dtype) if e.name.startswith("|z|")]
    run_property(
        ctx,
        S.saturated_problems(ctx.dtype),
        body,
        fraction=0.5,
        edges=saturated,
        reduce=REDUCE,
        probes=probes,
    )


def _ignored_weights(p: S.Problem, s: F64, got: Any, tol: Any) -> list[str]:
    """The hint when the variant's weighted loss is the unweighted reference's (and that
    differs from the weighted one)."""
    unweighted, t = ref.loss(p.X, p.y, p.w, p.b), float(np.max(tol))
    if abs(unweighted - ref.loss(p.X, p.y, p.w, p.b, s)) > 2 * t and abs(got - unweighted) <= t:
        return ["the weighted loss equals the unweighted reference: sample_weight is ignored"]
    return []


def check_sample_weights(ctx: Context) -> None:
    """Integer sample weights equal repeated rows: the weighted loss and gradients equal the
    reference on ``X`` with row ``i`` repeated ``s_i`` times (zero: dropped), within the
    weighted bound (``k = 3`` in ``lr_variants.testing.bounds``) plus the reference's."""

    def body(case: S.Weighted) -> None:
        p, s, shown = case.problem, case.s, case
        model = ctx.at(p)
        rows = np.repeat(np.arange(p.n), s.astype(np.int64))
        rp = S.Problem(p.X[rows], p.y[rows], p.w, p.b, p.dtype)
        loss = model.loss(p.X, p.y, sample_weight=s)
        tol = vs_reference(loss_error, p.X, p.y, p.w, p.b, dtype=p.dtype, u=s / s.sum())
        hints = _ignored_weights(p, s, loss, tol)
        try:
            _compare_loss(p, loss, s, shown)
            # the repeated-rows reference, and the bound of the weighted computation
            check_close(
                "loss (vs repeated rows)",
                loss,
                ref.loss(rp.X, rp.y, rp.w, rp.b),
                loss_error(p.X, p.y, p.w, p.b, p.dtype, s / s.sum())
                + loss_error(rp.X, rp.y, rp.w, rp.b, "float64"),
                shown,
                n=p.n,
                dtype=p.dtype,
            )
            _compare_gradients(p, model.gradients(p.X, p.y, sample_weight=s), s, shown)
        except Mismatch as m:
            m.hints = hints + m.hints
            raise

    run_property(
        ctx,
        S.weighted_problems(ctx.dtype, "integer"),
        body,
        edges=S.edge_weighted(ctx.dtype),
        reduce=REDUCE,
        probes=probes,
    )


def check_weight_scale(ctx: Context) -> None:
    """Scale invariance: weights ``s`` and ``c s`` (``c`` from ``2**-60`` to ``1e30``) give the
    same loss and gradients, within twice the weighted bound (two computations of one value)."""

    factors = st.sampled_from([2.0**-60, 1e-3, 3.0, 1e30])
    cases = st.tuples(S.weighted_problems(ctx.dtype, "positive"), factors)

    def body(case: tuple[S.Weighted, float]) -> None:
        (p, s), c = (case[0].problem, case[0].s), case[1]
        model = ctx.at(p)
        u = s / s.sum()
        tol = 2 * loss_error(p.X, p.y, p.w, p.b, p.dtype, u)
        tw, tb = gradient_error(p.X, p.y, p.w, p.b, p.dtype, u)
        shown = case
        names = ("with s", f"with {c:g} s")
        a, b = model.loss(p.X, p.y, sample_weight=s), model.loss(p.X, p.y, sample_weight=c * s)
        check_close("loss", b, a, tol, shown, names)
        (gw, gb), (hw, hb) = (model.gradients(p.X, p.y, sample_weight=v) for v in (s, c * s))
        check_close("dL/dw", hw, gw, 2 * tw, shown, names)
        check_close("dL/db", hb, gb, 2 * tb, shown, names)

    edges = [S.Edge(e.name, (e.case, 1e30)) for e in S.edge_weighted(ctx.dtype)]
    run_property(ctx, cases, body, fraction=0.5, edges=edges, reduce=REDUCE, probes=probes)
