"""Checks of values: loss, gradients and probabilities against the float64 reference, in and
far into saturation, with and without sample weights."""

from __future__ import annotations

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


def _edges(dtype: str) -> tuple[S.Problem, ...]:
    """Inputs every value check runs first: ``z = 0``, one row, and rows at the logit limit."""
    t = S.LOGIT_LIMIT[dtype]
    return (
        S.make_problem([[0.5, -2.0], [1.0, 0.0]], [1, 0], [0.0, 0.0], 0.0, dtype),
        S.make_problem([[1.0, -0.5, 0.25]], [1], [0.5, 2.0, -1.0], -0.5, dtype),
        S.make_problem([[1.0], [-1.0], [1.0], [-1.0]], [0, 1, 1, 0], [t], 0.0, dtype),
    )


def _compare_loss(p: S.Problem, got: float, s: F64 | None = None, tol_extra: float = 0.0) -> None:
    u = None if s is None else s / s.sum()
    if not np.isfinite(got):
        raise Mismatch(
            f"loss: reference {ref.loss(p.X, p.y, p.w, p.b, s)!r}, variant {got!r} (not finite)"
            f"\n    input: {p!r}" + ("" if s is None else f", sample_weight={s.tolist()!r}")
        )
    tol = vs_reference(loss_error, p.X, p.y, p.w, p.b, dtype=p.dtype, u=u) + tol_extra
    case = p if s is None else (p, s.tolist())
    check_close("loss", got, ref.loss(p.X, p.y, p.w, p.b, s), tol, case)


def _compare_gradients(p: S.Problem, got: tuple[F64, float], s: F64 | None = None) -> None:
    u = None if s is None else s / s.sum()
    rgw, rgb = ref.gradients(p.X, p.y, p.w, p.b, s)
    tw, tb = vs_reference(gradient_error, p.X, p.y, p.w, p.b, dtype=p.dtype, u=u)
    case = p if s is None else (p, s.tolist())
    check_close("dL/dw", got[0], rgw, tw, case)
    check_close("dL/db", got[1], rgb, tb, case)


def _compare_probabilities(p: S.Problem, got: F64) -> None:
    expected = ref.sigmoid(ref.logits(p.X, p.w, p.b))
    check_close(
        "predict_proba",
        got,
        expected,
        vs_reference(probability_error, p.X, p.w, p.b, dtype=p.dtype),
        p,
    )


def check_loss(ctx: Context) -> None:
    """The loss equals the float64 reference ``mean(logaddexp(0, z) - y z)`` within the derived
    bound (:func:`lr_variants.testing.bounds.loss_error`), for ``|z|`` up to the dtype's limit."""

    def body(p: S.Problem) -> None:
        _compare_loss(p, ctx.at(p).loss(p.X, p.y))

    run_property(ctx, S.problems(ctx.dtype), body, examples=_edges(ctx.dtype))


def check_gradients(ctx: Context) -> None:
    """``(dL/dw, dL/db)`` equal the reference ``X^T (sigmoid(z) - y) / N`` within the derived
    bound (:func:`lr_variants.testing.bounds.gradient_error`)."""

    def body(p: S.Problem) -> None:
        _compare_gradients(p, ctx.at(p).gradients(p.X, p.y))

    run_property(ctx, S.problems(ctx.dtype), body, examples=_edges(ctx.dtype))


def check_probabilities(ctx: Context) -> None:
    """``predict_proba`` equals the reference sigmoid within the derived bound
    (:func:`lr_variants.testing.bounds.probability_error`)."""

    def body(p: S.Problem) -> None:
        _compare_probabilities(p, ctx.at(p).predict_proba(p.X))

    run_property(ctx, S.problems(ctx.dtype), body, examples=_edges(ctx.dtype))


def check_saturation(ctx: Context) -> None:
    """With every ``|z|`` between half the dtype's limit and the limit (700 in float64, 88 in
    float32), the loss is finite and accurate, and gradients and probabilities are accurate."""

    def body(p: S.Problem) -> None:
        model = ctx.at(p)
        _compare_loss(p, model.loss(p.X, p.y))
        _compare_gradients(p, model.gradients(p.X, p.y))
        _compare_probabilities(p, model.predict_proba(p.X))

    run_property(ctx, S.saturated_problems(ctx.dtype), body, fraction=0.5)


@st.composite
def _weighted(draw: st.DrawFn, dtype: str, weights: str) -> tuple[S.Problem, F64]:
    p = draw(S.problems(dtype, max_n=12))
    make = S.integer_weights if weights == "integer" else S.positive_weights
    return p, draw(make(p.n))


def check_sample_weights(ctx: Context) -> None:
    """Integer sample weights equal repeated rows: the weighted loss and gradients equal the
    reference on ``X`` with row ``i`` repeated ``s_i`` times (zero: dropped), within the
    weighted bound (``k = 3`` in :mod:`lr_variants.testing.bounds`) plus the reference's."""

    def body(case: tuple[S.Problem, F64]) -> None:
        p, s = case
        model = ctx.at(p)
        rows = np.repeat(np.arange(p.n), s.astype(np.int64))
        rp = S.Problem(p.X[rows], p.y[rows], p.w, p.b, p.dtype)
        loss = model.loss(p.X, p.y, sample_weight=s)
        # the repeated-rows reference, and the bound of the weighted computation
        _compare_loss(p, loss, s)
        check_close(
            "loss (vs repeated rows)",
            loss,
            ref.loss(rp.X, rp.y, rp.w, rp.b),
            loss_error(p.X, p.y, p.w, p.b, p.dtype, s / s.sum())
            + loss_error(rp.X, rp.y, rp.w, rp.b, "float64"),
            (p, s.tolist()),
        )
        _compare_gradients(p, model.gradients(p.X, p.y, sample_weight=s), s)

    run_property(ctx, _weighted(ctx.dtype, "integer"), body)


def check_weight_scale(ctx: Context) -> None:
    """Scale invariance: weights ``s`` and ``c s`` (``c`` from ``2**-60`` to ``1e30``) give the
    same loss and gradients, within twice the weighted bound (two computations of one value)."""

    @st.composite
    def cases(draw: st.DrawFn) -> tuple[S.Problem, F64, float]:
        p, s = draw(_weighted(ctx.dtype, "positive"))
        return p, s, draw(st.sampled_from([2.0**-60, 1e-3, 3.0, 1e30]))

    def body(case: tuple[S.Problem, F64, float]) -> None:
        p, s, c = case
        model = ctx.at(p)
        u = s / s.sum()
        tol = 2 * loss_error(p.X, p.y, p.w, p.b, p.dtype, u)
        tw, tb = gradient_error(p.X, p.y, p.w, p.b, p.dtype, u)
        shown = (p, s.tolist(), c)
        names = ("with s", f"with {c:g} s")
        a, b = model.loss(p.X, p.y, sample_weight=s), model.loss(p.X, p.y, sample_weight=c * s)
        check_close("loss", b, a, tol, shown, names)
        (gw, gb), (hw, hb) = (model.gradients(p.X, p.y, sample_weight=v) for v in (s, c * s))
        check_close("dL/dw", hw, gw, 2 * tw, shown, names)
        check_close("dL/db", hb, gb, 2 * tb, shown, names)

    run_property(ctx, cases(), body, fraction=0.5)
