"""Checking a read graph against the chain rule, node by node.

For a batch ``(X, y)`` of ``N`` rows and parameters ``(w, b)``, with ``z = X w + b`` and
``p = sigmoid(z)``, the chain rule (``docs/math.md``) gives::

    dL/dz = (p - y) / N,      dL/dw = X^T dL/dz,      dL/db = sum dL/dz
    dL/dp = (p - y) / (N p (1 - p))        (where the graph goes through p: nn.BCELoss)

Each gradient a node received or sent is mapped, through the quantity it is a gradient of, to
the term it must equal, evaluated in float64 from the same rounded inputs, and compared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lr_variants._validate import F64
from lr_variants.explain._graphs import WHY, RawNode
from lr_variants.explain._records import Check, Edge, Explanation, GraphNode, Term
from lr_variants.explain._render import LOSS_FORMS, fmt, paren
from lr_variants.scratch import sigmoid_array

LOSSES: tuple[str, ...] = tuple(LOSS_FORMS)
# a gradient "agrees" when max |graph - chain rule| <= RTOL * scale (the term's largest entry;
# for the sums dL/dw, dL/db the sum of their terms' sizes): ~1000 ulps of float32, far above
# rounding and far below what saturation does
RTOL = {"float32": 1e-4, "float64": 1e-10}


@dataclass(frozen=True)
class Expect:
    """A chain-rule term; ``scale`` (default ``max |value|``) is what errors are relative to."""

    formula: str
    value: F64
    scale: float | None = None


def chain_rule(
    X: F64, y: F64, w: F64, b: float, loss: str, variant: str
) -> tuple[dict[str, Expect], dict[tuple[str, str], Expect], list[Term]]:
    """The hand-derived gradients: by quantity, by (consumer, input) for a shared input, and the
    list to print."""
    n = len(y)
    z = X @ w + b
    p, q = sigmoid_array(z), sigmoid_array(-z)  # q = 1 - p without cancellation
    dz = (p - y) / n
    with np.errstate(divide="ignore"):
        dp = np.where(y == 1, -1 / p, 1 / q) / n  # (p - y) / (p (1 - p)) for y in {0, 1}
    ones = np.full(n, 1 / n)
    # a sum's rounding error scales with the sum of its terms' sizes, not with the result (which
    # cancellation can make tiny): the sums dL/dw and dL/db are measured against that
    expected = {
        "L": Expect("1", np.ones(())),
        "l": Expect("1 / N", ones),
        "softplus(z)": Expect("1 / N", ones),
        "z y": Expect("-1 / N", -ones),
        "p": Expect("(p - y) / (N p (1 - p))", dp),
        "z": Expect("(p - y) / N", dz),
        "Xw": Expect("dL/dz", dz),
        "w": Expect("X^T dL/dz", X.T @ dz, float(np.max(np.abs(X).T @ np.abs(dz)))),
        "b": Expect("sum dL/dz", np.asarray(dz.sum()), float(np.abs(dz).sum())),
    }
    # z feeds two nodes in the scratch stable graph: each sends its share, backward() adds them
    branches = {
        ("softplus(z)", "z"): Expect("sigmoid(z) / N", p / n),
        ("z y", "z"): Expect("-y / N", -y / n),
    }
    terms = [Term("z", "X w + b", z), Term("p", "sigmoid(z)", p)]
    if variant == "scratch":
        terms.append(Term("dL/dl", "1 / N", ones))
    if loss == "sigmoid_bce":
        terms.append(Term("dL/dp", expected["p"].formula, dp))
    elif variant == "scratch":
        terms += [
            Term("dL/dz via softplus", "sigmoid(z) / N", p / n),
            Term("dL/dz via z y", "-y / N", -y / n),
        ]
    terms += [
        Term("dL/dz", "(p - y) / N", dz),
        Term("dL/dw", "X^T dL/dz", X.T @ dz),
        Term("dL/db", "sum dL/dz", np.asarray(dz.sum())),
    ]
    return expected, branches, terms


def compare(got: Any, term: str, x: Expect, rtol: float) -> Check:
    """``max |got - expected| / scale`` against ``rtol``."""
    e = np.asarray(x.value, dtype=np.float64).reshape(-1)
    if got is None:
        return Check(term, x.value, math.inf, False)
    g = np.asarray(got, dtype=np.float64).reshape(-1)
    if g.size != e.size:
        return Check(term, x.value, math.inf, False)
    scale = float(np.max(np.abs(e), initial=0.0)) if x.scale is None else x.scale
    error = float(np.max(np.abs(g - e), initial=0.0)) / max(scale, np.finfo(np.float64).tiny)
    return Check(term, x.value, error, bool(error <= rtol))


def checked(
    raw: RawNode,
    i: int,
    raws: list[RawNode],
    expected: dict[str, Expect],
    branches: dict[tuple[str, str], Expect],
    rtol: float,
) -> GraphNode:
    """Node ``i`` with the gradient it received and each one it sent checked."""

    def check(got: Any, quantity: str | None, consumer: str | None) -> Check | None:
        if quantity is None or quantity not in expected:
            return None
        x = branches.get((consumer or "", quantity), expected[quantity])
        return compare(got, f"dL/d{paren(quantity)} = {x.formula}", x, rtol)

    in_check = check(raw.grad_in, raw.produces, None)
    edges = tuple(
        Edge(j, name, None if g is None else np.asarray(g, dtype=np.float64), None)
        if j is None
        else Edge(
            j,
            raws[j].produces or "?",
            np.asarray(g, dtype=np.float64),
            check(g, raws[j].produces, raw.produces),
        )
        for j, name, g in raw.children
    )
    grad_in = None if raw.grad_in is None else np.asarray(raw.grad_in, dtype=np.float64)
    why = WHY.get(raw.op.rstrip("0123456789"), "")
    return GraphNode(
        i, raw.op, raw.produces, raw.saved, why, grad_in, in_check, edges, raw.arguments
    )


def with_notes(e: Explanation) -> Explanation:
    """Say where and why the graph departs from the chain rule, row by row."""
    notes = []
    z, p, y = e.term("z").value, e.p_graph, e.y
    rows = e.saturated
    if rows:
        notes.append(
            f"rows {rows}: z = {fmt(z[rows])}, so sigmoid(z) rounds to exactly "
            f"{fmt(p[rows])} in {e.dtype} (1 - p is below half an ulp of 1 once z > ~"
            f"{'16.6' if e.dtype == 'float32' else '36.7'})"
        )
    if e.loss == "stable":
        if rows:
            notes.append(
                "the stable graph never forms log(p), log(1 - p) or 1/(p (1 - p)): its loss node "
                "works from z, so every gradient stays exact at saturation"
            )
        return replace(e, notes=tuple(notes))
    wrong = [i for i in rows if p[i] != y[i]]
    if wrong:
        exact = np.logaddexp(0, z[wrong]) - y[wrong] * z[wrong]
        notes.append(
            f"rows {wrong} are confidently wrong: BCELoss takes log(0) = -inf and clamps it at "
            f"-100, so each counts 100 (exact: {fmt(exact)});"
            f" the batch loss is {e.loss_graph:.6g}, the exact one {e.loss_exact:.6g}"
        )
    with np.errstate(over="ignore"):
        clamped = [int(i) for i in np.flatnonzero(p * (1 - p) < 1e-12)]
    if clamped:
        notes.append(
            f"rows {clamped}: p (1 - p) = {fmt((p * (1 - p))[clamped])} < 1e-12, so "
            "BCELoss's backward divides by 1e-12 instead: dL/dp comes out 0 (p = y) or "
            "+-1e12/N, not (p - y)/(N p (1 - p)); SigmoidBackward then multiplies by the rounded "
            "p (1 - p), and dL/dz = (p - y)/N is lost for those rows (0 where p rounded to 0 or 1)"
        )
    notes.append(
        "the stable graph (--loss stable) has no sigmoid node: one node turns z into "
        "(sigmoid(z) - y) / N; this one rounds p = sigmoid(z), divides by p (1 - p) and "
        "multiplies by it again, which is exact only while p (1 - p) is well above 1e-12"
    )
    return replace(e, notes=tuple(notes))
