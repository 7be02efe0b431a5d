"""Checks of the contract: queries change nothing, ``set_params`` keeps momentum, state
round-trips bit for bit, results are deterministic, and a rejected call changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lr_variants._model import Model
from lr_variants.testing import reference as ref
from lr_variants.testing import strategies as S
from lr_variants.testing._run import (
    CONTRACT,
    Context,
    Mismatch,
    check_close,
    check_equal,
    check_same_state,
    run_property,
    state_bits,
)
from lr_variants.testing.bounds import EPS, TINY, gradient_error, vs_reference

MOMENTUM: dict[str, Any] = {"momentum": 0.5, "dampening": 0.25}
WARMUP = 3  # steps before the contract is examined, so that momentum buffers exist


def momentum(ctx: Context) -> dict[str, Any]:
    """``MOMENTUM`` without the options the variant declares unsupported."""
    if "momentum" in ctx.unsupported:
        return {}
    return {k: v for k, v in MOMENTUM.items() if k not in ctx.unsupported}


def _warm(ctx: Context, run: S.Run, slot: int = 0, **options: Any) -> Model:
    """A model of ``run`` (in ``slot``: distinct from the others) after ``WARMUP`` steps
    with momentum (``options`` added)."""
    p = run.problem
    model = ctx.at(p, slot=slot, lr=run.lr, **momentum(ctx), **options)
    for idx in run.batches[:WARMUP]:
        model.step(p.X[idx], p.y[idx])
    return model


def _edges(ctx: Context, steps: int) -> tuple[S.Edge, ...]:
    """The edge-case tier's runs, ``steps`` long."""
    return S.edge_runs(ctx.dtype, steps)


def _steps(model: Model, run: S.Run, start: int, stop: int) -> list[np.ndarray]:
    p = run.problem
    out = []
    for idx in run.batches[start:stop]:
        out.append(np.append(model.step(p.X[idx], p.y[idx]), np.append(*model.get_params())))
    return out


def _same_path(what: str, got: list[np.ndarray], expected: list[np.ndarray], case: Any) -> None:
    for k, (g, e) in enumerate(zip(got, expected, strict=True)):
        check_equal(f"{what}, step {k + 1}: (loss, w, b)", g, e, case)


def check_pure_queries(ctx: Context) -> None:
    """``loss``, ``gradients`` and ``predict_proba`` (with and without weights) leave the
    parameters and the momentum buffers untouched, bit for bit, and the next steps are those of
    a twin model that was never queried."""

    def body(run: S.Run) -> None:
        p = run.problem
        model, twin = _warm(ctx, run), _warm(ctx, run, slot=1)
        before = state_bits(model)
        s = np.arange(1.0, p.n + 1.0)
        for name, query in (
            ("loss", lambda: model.loss(p.X, p.y)),
            ("gradients", lambda: model.gradients(p.X, p.y)),
            ("predict_proba", lambda: model.predict_proba(p.X)),
            ("loss(sample_weight)", lambda: model.loss(p.X, p.y, sample_weight=s)),
            ("gradients(sample_weight)", lambda: model.gradients(p.X, p.y, sample_weight=s)),
        ):
            query()
            check_same_state(f"after {name}, parameters and optimizer state", model, before, run)
        stop = WARMUP + 3
        _same_path(
            "after queries", _steps(model, run, WARMUP, stop), _steps(twin, run, WARMUP, stop), run
        )

    steps = WARMUP + 3
    run_property(ctx, S.runs(ctx.dtype, steps=steps), body, fraction=0.3, edges=_edges(ctx, steps))


def check_set_params_keeps_momentum(ctx: Context) -> None:
    """``set_params`` keeps the momentum buffers (as ``torch.optim.SGD`` keeps its state when
    parameters are overwritten in place): ``get_state`` is unchanged bit for bit, and the next
    step from the new ``(w', b')`` is ``p' - lr (m buf + (1 - dampening) g(p'))`` within
    ``lr`` times the gradient's bound plus the rounding of the rule (``4 eps`` on its terms)."""

    def body(run: S.Run) -> None:
        p = run.problem
        model = _warm(ctx, run)
        state = model.get_state()
        w2, b2 = S.rounded(-p.w / 2 + 0.25, p.dtype), float(S.rounded(0.5 - p.b, p.dtype))
        before = {k: v for k, v in state_bits(model).items() if k.startswith("momentum")}
        model.set_params(w2, b2)
        after = {k: v for k, v in state_bits(model).items() if k.startswith("momentum")}
        if sorted(after) != sorted(before):
            raise Mismatch(
                f"set_params dropped momentum buffers {sorted(before)}", run, kind=CONTRACT
            )
        for key in before:
            check_equal(f"set_params: {key}", after[key], before[key], run)
        idx = run.batches[WARMUP]
        model.step(p.X[idx], p.y[idx])
        gw, gb = ref.gradients(p.X[idx], p.y[idx], w2, b2)
        rule = ref.SGDRule(run.lr, **momentum(ctx))
        bufs: list[np.ndarray | None] = [state["momentum_w"], state["momentum_b"]]
        expected, dirs, _ = ref.sgd_step(rule, [w2, np.array(b2)], [gw, np.array(gb)], bufs)
        tw, tb = vs_reference(gradient_error, p.X[idx], p.y[idx], w2, b2, dtype=p.dtype)
        theta, d = np.append(*expected), np.append(*dirs)
        grad = np.append(tw, tb) * (1 - rule.dampening)
        buf = np.abs(np.append(state["momentum_w"], state["momentum_b"])) * rule.momentum
        eps = EPS[p.dtype] + EPS["float64"]
        tol = run.lr * grad + 4 * eps * (np.abs(theta) + run.lr * (np.abs(d) + buf)) + TINY[p.dtype]
        check_close(
            "(w, b) after set_params and a step", np.append(*model.get_params()), theta, tol, run
        )

    steps = WARMUP + 1
    run_property(ctx, S.runs(ctx.dtype, steps=steps), body, fraction=0.3, edges=_edges(ctx, steps))


def check_state_roundtrip(ctx: Context) -> None:
    """``get_state``/``set_state`` (with ``get_params``/``set_params``) carried to a fresh model
    continue bit for bit: the next steps' losses and parameters are identical; and
    ``set_state({})`` makes the next step that of a fresh model."""

    def body(run: S.Run) -> None:
        p = run.problem
        model = _warm(ctx, run)
        w, b = model.get_params()
        state = model.get_state()
        copy = ctx.model(p.d, slot=1, lr=run.lr, **momentum(ctx))
        copy.set_params(w, b)
        copy.set_state(state)
        stop = WARMUP + 4
        _same_path(
            "restored copy", _steps(copy, run, WARMUP, stop), _steps(model, run, WARMUP, stop), run
        )
        fresh = ctx.model(p.d, slot=2, lr=run.lr, **momentum(ctx))
        fresh.set_params(*model.get_params())
        model.set_state({})
        _same_path("after set_state({})", _steps(model, run, 0, 2), _steps(fresh, run, 0, 2), run)

    steps = WARMUP + 4
    run_property(ctx, S.runs(ctx.dtype, steps=steps), body, fraction=0.3, edges=_edges(ctx, steps))


def check_determinism(ctx: Context) -> None:
    """Same inputs, same bits: two fresh models give identical losses, gradients, probabilities
    and steps, and a repeated query gives identical results."""

    def results(model: Model, run: S.Run) -> list[np.ndarray]:
        p = run.problem
        s = np.arange(1.0, p.n + 1.0)
        out = [np.append(*model.gradients(p.X, p.y)) for _ in range(2)]
        out += [np.array([model.loss(p.X, p.y), model.loss(p.X, p.y, sample_weight=s)])]
        out += [model.predict_proba(p.X), np.append(*model.gradients(p.X, p.y, sample_weight=s))]
        return out + _steps(model, run, 0, WARMUP)

    def body(run: S.Run) -> None:
        a = results(ctx.at(run.problem, lr=run.lr, **momentum(ctx)), run)
        b = results(ctx.at(run.problem, slot=1, lr=run.lr, **momentum(ctx)), run)
        check_equal("gradients called twice", a[1], a[0], run)
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            check_equal(f"result {k} of two identical models", y, x, run)

    run_property(
        ctx, S.runs(ctx.dtype, steps=WARMUP), body, fraction=0.3, edges=_edges(ctx, WARMUP)
    )


def _bad_calls(model: Model, p: S.Problem) -> list[tuple[str, Callable[[], Any]]]:
    X, y, d = p.X, p.y, p.d
    wider = np.column_stack([X, X[:, :1]])
    return [
        ("step(X with D + 1 columns)", lambda: model.step(wider, y)),
        ("step(y one row short)", lambda: model.step(X, y[:-1])),
        ("step(X one-dimensional)", lambda: model.step(X[:, 0], y)),
        ("step(sample_weight one short)", lambda: model.step(X, y, sample_weight=np.ones(p.n - 1))),
        ("gradients(X with D + 1 columns)", lambda: model.gradients(wider, y)),
        ("set_params(w of D + 1)", lambda: model.set_params(np.zeros(d + 1), 0.0)),
        (
            "set_state(momentum_w of D + 1)",
            lambda: model.set_state({"momentum_w": np.zeros(d + 1)}),
        ),
    ]


def check_rejected_call(ctx: Context) -> None:
    """A call with bad shapes raises ``ValueError`` (or ``TypeError``) and leaves the
    parameters and momentum buffers unchanged, bit for bit; the next step is a twin's."""

    def body(run: S.Run) -> None:
        model, twin = _warm(ctx, run), _warm(ctx, run, slot=1)
        before = state_bits(model)
        for name, call in _bad_calls(model, run.problem):
            try:
                call()
            except (ValueError, TypeError):
                pass
            else:
                raise Mismatch(f"{name} was accepted; expected ValueError", run, kind=CONTRACT)
            check_same_state(f"after rejected {name}", model, before, run)
        stop = WARMUP + 2
        _same_path(
            "after rejected calls",
            _steps(model, run, WARMUP, stop),
            _steps(twin, run, WARMUP, stop),
            run,
        )

    run_property(
        ctx,
        S.runs(ctx.dtype, steps=WARMUP + 2).filter(lambda r: r.problem.n >= 2),
        body,
        fraction=0.2,
        edges=_edges(ctx, WARMUP + 2),
    )
