"""Per-phase timings: each variant's training step split where a clock can go between parts.

Each function replays :func:`lr_variants.train` (same conversion, batch plan and step code,
plain SGD, no sample weights) with ``time.perf_counter`` between the phases and returns the
model and the seconds per phase, summed over all steps:

- ``batching``: the per-epoch row reordering and the per-step slices (for the article's loop:
  the ``DataLoader``);
- ``forward``: logits and loss;
- ``backward``: the gradient (autograd: ``zero_grad``/``grad = None`` is in ``update``, except
  module and article, where ``zero_grad()`` precedes ``backward()`` as in their code);
- ``update``: the SGD update;
- ``readback``: the per-epoch conversion of the step losses to floats.

The step code below mirrors the engines' ``step`` (``lr_variants/variants/*.py``) statement for
statement; ``test_phases.py`` checks that the replay ends at the parameters ``train()`` reaches.
The clocks themselves cost ~0.1 us per phase per step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

import lr_variants as lv

PHASES = ("batching", "forward", "backward", "update", "readback")
Step = Callable[[Any, Any, dict[str, float]], Any]


def _uniform(e: Any, n: int, like: Any) -> Any:
    """The engine's cache of ``n`` copies of ``1/n`` (filled as the engine fills it)."""
    if n not in e.uniform:
        if isinstance(like, np.ndarray):
            e.uniform[n] = np.full(n, 1.0 / n, dtype=like.dtype)
        else:
            import torch

            e.uniform[n] = torch.full((n,), 1.0 / n, dtype=like.dtype, device=like.device)
    return e.uniform[n]


def _numpy_step(e: Any) -> Step:
    clock = time.perf_counter

    def step(Xb: Any, yb: Any, spent: dict[str, float]) -> Any:
        t0 = clock()
        n = len(yb)
        s = yb + yb
        np.subtract(1.0, s, out=s)
        t = np.dot(Xb, e.theta)
        t *= s
        nan_if_infinite = t * 0.0
        np.maximum(t, e.t_min, out=t)
        terms = np.logaddexp(t, nan_if_infinite)  # n <= 4096 here
        loss = np.dot(terms, _uniform(e, n, yb))
        t1 = clock()
        np.negative(t, out=t)
        np.exp(t, out=t)
        t += 1.0
        g = np.dot(np.divide(s, t, out=t), Xb)
        t2 = clock()
        g *= e.lr / n
        e.theta -= g
        t3 = clock()
        spent["forward"] += t1 - t0
        spent["backward"] += t2 - t1
        spent["update"] += t3 - t2
        return loss

    return step


def _torch_manual_step(e: Any) -> Step:
    import torch

    clock = time.perf_counter

    def step(Xb: Any, yb: Any, spent: dict[str, float]) -> Any:
        t0 = clock()
        n = yb.shape[0]
        z = Xb.mv(e.theta)
        t = z.addcmul_(yb, z, value=-2.0)
        terms = torch.logaddexp(t, e.zero)
        loss = terms.dot(_uniform(e, n, yb))  # n <= 4096 here
        t1 = clock()
        r = torch.sigmoid(t, out=terms)
        r.addcmul_(yb, r, value=-2.0)
        t2 = clock()
        e.theta.addmv_(Xb.t(), r, alpha=-e.lr / n)  # X^T r and the update: one op
        t3 = clock()
        spent["forward"] += t1 - t0
        spent["backward"] += t2 - t1
        spent["update"] += t3 - t2
        return loss

    return step


def _autograd_step(e: Any) -> Step:
    import torch

    clock = time.perf_counter

    def step(Xb: Any, yb: Any, spent: dict[str, float]) -> Any:
        t0 = clock()
        loss = e._loss(Xb, yb)
        t1 = clock()
        loss.backward()
        t2 = clock()
        with torch.no_grad():
            e.sgd.update([e.w, e.b], [e.w.grad, e.b.grad])
        e.w.grad = None
        e.b.grad = None
        out = loss.detach()
        t3 = clock()
        spent["forward"] += t1 - t0
        spent["backward"] += t2 - t1
        spent["update"] += t3 - t2
        return out

    return step


def _module_step(e: Any) -> Step:
    clock = time.perf_counter

    def step(Xb: Any, yb: Any, spent: dict[str, float]) -> Any:
        t0 = clock()
        loss = e._loss(Xb, yb)
        t1 = clock()
        e.optimizer.zero_grad()
        loss.backward()
        t2 = clock()
        e.optimizer.step()
        out = loss.detach()
        t3 = clock()
        spent["forward"] += t1 - t0
        spent["backward"] += t2 - t1
        spent["update"] += t3 - t2
        return out

    return step


STEPS: dict[str, Callable[[Any], Step]] = {
    "numpy": _numpy_step,
    "torch_manual": _torch_manual_step,
    "autograd": _autograd_step,
    "module": _module_step,
}


def train_phases(
    model: lv.Model, X: Any, y: Any, *, epochs: int, batch_size: int, seed: int = 42
) -> dict[str, float]:
    """Replay ``lv.train(model, X, y, epochs=..., batch_size=..., seed=...)`` with clocks."""
    assert model.sgd.plain, "the replay covers plain SGD only"
    step = STEPS[model.name](model.engine)
    arrays = model.engine.arrays
    X64, y64 = np.asarray(X, np.float64), np.asarray(y, np.float64)
    Xa, ya = arrays.convert(X64), arrays.convert(y64)
    slices, orders = lv.batch_plan(len(y64), epochs=epochs, batch_size=batch_size, seed=seed)
    spent = dict.fromkeys(PHASES, 0.0)
    clock = time.perf_counter
    for order in orders:
        t0 = clock()
        Xe, ye = (Xa, ya) if order is None else (arrays.rows(Xa, order), arrays.rows(ya, order))
        spent["batching"] += clock() - t0
        losses = []
        for s in slices:
            t0 = clock()
            Xb, yb = Xe[s], ye[s]
            spent["batching"] += clock() - t0
            losses.append(step(Xb, yb, spent))
        t0 = clock()
        arrays.floats(losses)
        spent["readback"] += clock() - t0
    return spent
