"""Look inside autograd: one loss evaluation's backward graph, node by node, against the chain rule.

For a batch ``(X, y)`` of ``N`` rows and parameters ``(w, b)``, with ``z = X w + b`` and
``p = sigmoid(z)``, the chain rule (``docs/math.md``) gives::

    dL/dz = (p - y) / N,      dL/dw = X^T dL/dz,      dL/db = sum dL/dz
    dL/dp = (p - y) / (N p (1 - p))        (where the graph goes through p: nn.BCELoss)

:func:`explain` builds a variant's graph for one loss evaluation and records every node: its
operation, what it saved for the backward pass, the gradient it received and the gradient it
sent to each input (captured by hooks while ``backward()`` runs). Each gradient is mapped to the
chain-rule term it must equal, compared, and the first node (from the loss down) that disagrees
is named. :func:`per_sample_gradients` and :func:`hessian` compute the per-row gradients and the
Hessian with ``torch.func``; :func:`analytic_per_sample_gradients` and
:func:`analytic_hessian` are their closed forms.

Torch is imported inside the functions that use it: importing this module imports no torch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from lr_variants._validate import (
    F64,
    check_choice,
    check_data,
    check_features,
    check_params,
    check_real,
)
from lr_variants.scratch import Tensor, binary_cross_entropy, sigmoid_array

if TYPE_CHECKING:
    import torch

EXPLAINABLE: tuple[str, ...] = ("autograd", "module", "scratch")
LOSSES: tuple[str, ...] = ("stable", "sigmoid_bce")
# a gradient "agrees" when max |graph - chain rule| <= RTOL * scale (the term's largest entry;
# for the sums dL/dw, dL/db the sum of their terms' sizes): ~1000 ulps of float32, far above
# rounding and far below what saturation does
RTOL = {"float32": 1e-4, "float64": 1e-10}
LOSS_FORMS = {
    "stable": "binary_cross_entropy_with_logits(z, y): mean(max(z,0) - z y + log1p(exp(-|z|)))",
    "sigmoid_bce": "the article's BCELoss(sigmoid(z), y): -mean(y log p + (1-y) log(1-p))",
}

# What each operation keeps for its backward pass, and why (keyed by the name without digits).
WHY = {
    "BinaryCrossEntropyWithLogitsBackward": "z and y: it sends (sigmoid(z) - y) g / N, computed "
    "from z, never from a rounded p",
    "BinaryCrossEntropyBackward": "p and y: it sends g (p - y) / max(p (1 - p), 1e-12) / N, "
    "which is 0 or ~1e12/N once p has rounded to 1",
    "SigmoidBackward": "its output p only: dp/dz = p (1 - p)",
    "AddBackward": "only alpha: d(a + alpha b) = (g, alpha g), no tensor needed; the engine sums "
    "the copies of a broadcast input",
    "MvBackward": "X (for dL/dw = X^T g); w is not saved because X needs no gradient",
    "AddmvBackward": "X (mat) for dL/dw = X^T g; w (vec) is not saved because X needs no "
    "gradient; b gets g summed over the rows it was broadcast to",
    "AddmmBackward": "X (mat1) for dL/dW^T = X^T g, and the shapes; W^T (mat2) is not saved "
    "because X needs no gradient",
    "SqueezeBackward": "the squeezed dim and the input's sizes, to reshape g back to (N, 1)",
    "TBackward": "nothing: the gradient of a transpose is the transposed gradient",
    "AccumulateGrad": "nothing: it adds the gradient it receives into the leaf's .grad",
    "matmul": "both inputs: dL/dA = g v^T needs v, dL/dv = A^T g needs A",
    "add": "nothing: (g, g), with broadcast copies summed by unbroadcast",
    "sub": "nothing: (g, -g)",
    "mul": "both inputs: d(a b) = (g b, g a)",
    "softplus": "its input z: d softplus(z)/dz = sigmoid(z), computed overflow-free",
    "sigmoid": "its output p only: dp/dz = p (1 - p)",
    "bce": "p and y: as torch's BCELoss, g (p - y) / max(p (1 - p), 1e-12)",
    "mean": "the count n: dL/da_i = g / n",
    "sum": "the shape: dL/da_i = g",
    "leaf": "a parameter: backward() adds what it receives into .grad",
}
_VIEWS = (
    "TBackward",
    "SqueezeBackward",
    "UnsqueezeBackward",
    "ViewBackward",
    "ReshapeAliasBackward",
    "PermuteBackward",
    "TransposeBackward",
)


@dataclass(frozen=True)
class Check:
    """A gradient from the graph beside the chain-rule term it must equal."""

    term: str  # e.g. "dL/dz = (p - y) / N"
    expected: F64
    error: float  # max |graph - expected| / scale (see RTOL); inf when the sizes differ
    ok: bool


@dataclass(frozen=True)
class Edge:
    """A gradient a node sends to one of its inputs (``target`` is ``None`` for a constant)."""

    target: int | None
    input: str  # the quantity it is a gradient of ("z", "w", ...), a constant's name, or "?"
    grad: F64 | None
    check: Check | None


@dataclass(frozen=True)
class GraphNode:
    """One node of the backward graph, ``index`` its position in topological order."""

    index: int
    op: str
    produces: str | None  # the forward quantity this node's operation computed, if known
    saved: dict[str, str]
    why: str
    grad_in: F64 | None  # dL/d(produces) as it arrived
    in_check: Check | None
    edges: tuple[Edge, ...]

    @property
    def checks(self) -> list[Check]:
        return [c for c in [self.in_check, *(e.check for e in self.edges)] if c is not None]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


@dataclass(frozen=True)
class Term:
    """A hand-derived quantity: its name, its formula, its value for this batch (float64)."""

    name: str
    formula: str
    value: F64


@dataclass(frozen=True)
class Explanation:
    """What :func:`explain` found; :meth:`to_text`, :meth:`to_dict` and :meth:`to_dot` render it."""

    variant: str
    loss: str
    dtype: str
    X: F64
    y: F64
    w: F64
    b: float
    p_graph: F64  # sigmoid(z) as the variant's dtype rounds it
    loss_graph: float
    loss_exact: float
    terms: tuple[Term, ...]
    nodes: tuple[GraphNode, ...]
    rtol: float
    notes: tuple[str, ...] = field(default=())

    @property
    def first_mismatch(self) -> GraphNode | None:
        """The first node, from the loss down, whose gradients disagree with the chain rule."""
        return next((n for n in self.nodes if not n.ok), None)

    @property
    def saturated(self) -> list[int]:
        """Rows whose ``sigmoid(z)`` rounds to exactly 0 or 1 in the variant's dtype."""
        return [int(i) for i in np.flatnonzero((self.p_graph == 0) | (self.p_graph == 1))]

    def term(self, name: str) -> Term:
        return next(t for t in self.terms if t.name == name)

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-ready values (arrays as lists, non-finite floats as strings)."""
        first = self.first_mismatch
        out = {
            "variant": self.variant,
            "loss": self.loss,
            "loss_form": LOSS_FORMS[self.loss],
            "dtype": self.dtype,
            "rtol": self.rtol,
            "X": self.X,
            "y": self.y,
            "w": self.w,
            "b": self.b,
            "p_graph": self.p_graph,
            "saturated_rows": self.saturated,
            "loss_graph": self.loss_graph,
            "loss_exact": self.loss_exact,
            "chain_rule": [vars(t) for t in self.terms],
            "nodes": [_node_dict(n) for n in self.nodes],
            "agrees": first is None,
            "first_mismatch": None if first is None else first.index,
            "first_mismatch_op": None if first is None else first.op,
            "notes": list(self.notes),
        }
        result: dict[str, Any] = jsonable(out)
        return result

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def to_text(self) -> str:
        """A readable report: inputs, the graph as a tree (root first), the chain rule, verdict."""
        t = self.term
        lines = [
            f"variant {self.variant}, loss {self.loss}: {LOSS_FORMS[self.loss]}",
            f"{self.dtype}, N = {len(self.y)} rows; X, w, b rounded to {self.dtype}:",
            *(f"  x_{i} = {_fmt(row)}   y_{i} = {self.y[i]:g}" for i, row in enumerate(self.X)),
            f"  w = {_fmt(self.w)}   b = {self.b:.6g}",
            f"  z = X w + b     = {_fmt(t('z').value)}",
            f"  p = sigmoid(z)  = {_fmt(t('p').value)}",
            f"  L = {self.loss_graph:.7g} from the graph, {self.loss_exact:.7g} exact "
            "(float64, stable formula)",
            "",
            f"backward graph: {len(self.nodes)} nodes, #k = position in topological order "
            "(every node before its inputs); 'in' is the gradient a node receives, '->' what it "
            "sends to each input",
        ]
        shown: set[int] = set()
        self._tree(0, 0, shown, lines)
        lines += ["", "chain rule by hand (float64, from the same rounded inputs):"]
        lines += [f"  {x.name:<18} = {x.formula:<28} = {_fmt(x.value)}" for x in self.terms]
        lines += ["", *self._verdict()]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _tree(self, i: int, depth: int, shown: set[int], lines: list[str]) -> None:
        node, pad = self.nodes[i], "  " * depth
        head = f"{pad}#{i} {node.op}" + (f" -> {node.produces}" if node.produces else "")
        if i in shown:
            lines.append(f"{head}  (shown above)")
            return
        shown.add(i)
        lines.append(f"{head}  [{'ok' if node.ok else 'MISMATCH'}]")
        pad += "   "
        for k, (name, value) in enumerate(node.saved.items()):
            lines.append(f"{pad}{'saved' if k == 0 else '':<6}{name} = {value}")
        if not node.saved:
            lines.append(f"{pad}saved nothing")
        lines.append(f"{pad}why   {node.why}")
        if node.grad_in is not None:
            what = f"dL/d{_paren(node.produces)}" if node.produces else "g"
            lines.append(f"{pad}in    {what} = {_fmt(node.grad_in)}{_verdict(node.in_check)}")
            senders = [f"#{n.index}" for n in self.nodes if any(e.target == i for e in n.edges)]
            if len(senders) > 1:
                lines.append(f"{pad}      (the sum of what {', '.join(senders)} send)")
        for edge in node.edges:
            if edge.target is None:
                lines.append(f"{pad}->    {edge.input}: a constant, no gradient")
                continue
            what = f"dL/d{_paren(edge.input)}" if edge.input != "?" else "g"
            lines.append(
                f"{pad}->    #{edge.target} {what} = {_fmt(edge.grad)}{_verdict(edge.check)}"
            )
        for edge in node.edges:
            if edge.target is not None:
                self._tree(edge.target, depth + 1, shown, lines)

    def _verdict(self) -> list[str]:
        first = self.first_mismatch
        if first is None:
            worst = max((c.error for n in self.nodes for c in n.checks), default=0.0)
            return [
                "check: every node agrees with the chain rule (largest relative error "
                f"{worst:.2g}; tolerance {self.rtol:g} for {self.dtype})"
            ]
        bad = next(c for c in first.checks if not c.ok)
        got = (
            first.grad_in
            if bad is first.in_check
            else next(e.grad for e in first.edges if e.check is bad)
        )
        others = [f"#{n.index} {n.op}" for n in self.nodes if not n.ok and n is not first]
        return [
            f"check: FIRST MISMATCH at #{first.index} {first.op}: it gives {_fmt(got)} where "
            f"the chain rule {bad.term} gives {_fmt(bad.expected)} (relative error "
            f"{bad.error:.2g} > {self.rtol:g})",
            *([f"       also off, downstream: {', '.join(others)}"] if others else []),
        ]

    def to_dot(self) -> str:
        """Graphviz DOT text of the graph (edges point from a node to its inputs, as the
        gradients flow); a node or gradient that disagrees with the chain rule is red."""
        lines = [
            "digraph backward {",
            '  rankdir=TB; node [shape=box, fontname="Helvetica", fontsize=10];',
            f'  label="{_dot(f"{self.variant}, {self.loss}, {self.dtype}: backward graph")}";',
        ]
        for n in self.nodes:
            saved = ", ".join(n.saved) or "nothing"
            label = f"#{n.index} {n.op}\\n" + (f"-> {n.produces}\\n" if n.produces else "")
            color = "" if n.ok else ", color=red, fontcolor=red"
            lines.append(f'  n{n.index} [label="{label}saved: {_dot(saved)}"{color}];')
            for k, e in enumerate(n.edges):
                if e.target is None:
                    lines.append(f'  c{n.index}_{k} [label="{_dot(e.input)}", shape=plaintext];')
                    lines.append(f"  n{n.index} -> c{n.index}_{k} [style=dashed];")
                    continue
                red = ", color=red, fontcolor=red" if e.check and not e.check.ok else ""
                label = _dot(f"dL/d{_paren(e.input)}\\n{_fmt(e.grad, 3)}")
                lines.append(f'  n{n.index} -> n{e.target} [label="{label}"{red}];')
        lines.append("}")
        return "\n".join(lines) + "\n"


# ---- explain -----------------------------------------------------------------------------------


def explain(
    variant: str,
    X: Any,
    y: Any,
    w: Any,
    b: Any,
    *,
    loss: str = "stable",
    dtype: str = "float32",
) -> Explanation:
    """The backward graph of one evaluation of ``loss`` on ``(X, y)`` at ``(w, b)``, as
    ``variant`` builds it, every node's gradients checked against the chain rule.

    ``variant`` is ``"autograd"`` or ``"module"`` (torch: the graph is read through
    ``grad_fn.next_functions``, each node's ``_saved_*`` attributes, and ``Node.register_hook``
    during ``backward()``) or ``"scratch"`` (the engine's own tensors and its backward hook).
    ``loss="stable"`` is ``binary_cross_entropy_with_logits``; ``"sigmoid_bce"`` the article's
    ``BCELoss(sigmoid(z), y)``, whose graph loses the gradient once ``sigmoid`` saturates.
    ``X``, ``w`` and ``b`` are rounded to ``dtype`` first; the chain rule is evaluated in float64
    from those rounded values.
    """
    if variant == "numpy":
        raise ValueError(
            "variant must be one of ('autograd', 'module', 'scratch'); got 'numpy', which "
            "computes its gradient by hand and records no graph"
        )
    check_choice(variant, "variant", EXPLAINABLE)
    check_choice(loss, "loss", LOSSES)
    check_choice(dtype, "dtype", ("float32", "float64"))
    X64, y64 = check_data(X, y, dtype=dtype)
    w64, b64 = check_params(w, b, X64.shape[1], dtype)
    import lr_variants as lv

    model = lv.create(
        variant, X64.shape[1], dtype=dtype, loss=loss if variant == "module" else "stable"
    )
    model.set_params(w64, b64)
    Xa, ya = model.prepare(X64, y64)
    if variant == "scratch":
        raws, loss_graph = _scratch_graph(model.engine, Xa, ya, loss)
    else:
        raws, loss_graph = _torch_graph(variant, model.engine, Xa, ya, loss)

    Xr = X64.astype(dtype).astype(np.float64)  # what the graph saw
    wr, br = model.get_params()
    expected, branches, terms = _chain_rule(Xr, y64, wr, br, loss, variant)
    rtol = RTOL[dtype]
    nodes = tuple(_checked(r, i, raws, expected, branches, rtol) for i, r in enumerate(raws))
    z_dtype = Xr.astype(dtype) @ wr.astype(dtype) + np.asarray(br, dtype=dtype)
    p_graph = sigmoid_array(z_dtype).astype(np.float64)
    z = Xr @ wr + br
    out = Explanation(
        variant=variant,
        loss=loss,
        dtype=dtype,
        X=Xr,
        y=y64,
        w=wr,
        b=br,
        p_graph=p_graph,
        loss_graph=loss_graph,
        loss_exact=float(np.mean(np.logaddexp(0.0, z) - y64 * z)),
        terms=tuple(terms),
        nodes=nodes,
        rtol=rtol,
    )
    return _with_notes(out)


def saturating_params(X: Any, w: Any, b: Any, logit: float = 30.0) -> tuple[F64, float]:
    """``(s w, s b)`` with ``s > 0`` chosen so that the largest ``|z| = |X w + b|`` is ``logit``.

    With ``logit`` above ~17 in float32 (~37 in float64) ``sigmoid(z)`` rounds to exactly 1 for
    that row: where the article's sigmoid + BCELoss graph loses the gradient.
    """
    X64 = check_features(X)
    w64, b64 = check_params(w, b, X64.shape[1], "float64")
    logit = check_real(logit, "logit", minimum=0.0, strict=True)
    top = float(np.max(np.abs(X64 @ w64 + b64)))
    if top == 0.0:
        raise ValueError("w, b must give some nonzero logit z = X w + b to scale; got all zeros")
    s = logit / top
    return w64 * s, b64 * s


# ---- the two graph readers ---------------------------------------------------------------------


@dataclass
class _Raw:
    """A node as read from a graph, before checking: children are ``(index, name, grad)``."""

    op: str
    produces: str | None
    saved: dict[str, str]
    grad_in: Any
    children: list[tuple[int | None, str, Any]]


def _topological(root: Any, children: Callable[[Any], list[Any]]) -> list[Any]:
    """Root first, every node before all of its inputs: a reversed depth-first post-order.

    Children are visited last-to-first so that, on a tree, the order is the plain pre-order.
    """
    post: list[Any] = []
    seen: set[Any] = set()

    def visit(n: Any) -> None:
        if n in seen:
            return
        seen.add(n)
        for c in reversed(children(n)):
            visit(c)
        post.append(n)

    visit(root)
    return post[::-1]


def _scratch_graph(
    engine: Any, X: np.ndarray, y: np.ndarray, loss: str
) -> tuple[list[_Raw], float]:
    # the variant's own forward pass, whose tensors are named ("z", "softplus(z)", "l", ...)
    graph = engine.loss_graph(X, y)
    if loss == "stable":
        L = graph.loss
    else:  # the article's loss on the variant's own z, mirroring torch's BCELoss
        p = _named(graph.logits.sigmoid(), "p")
        L = _named(_named(binary_cross_entropy(p, y), "l").mean(), "L")
    order = _topological(L, lambda t: [p for p in t.parents if p.requires_grad])
    index = {t: i for i, t in enumerate(order)}
    sent: dict[Tensor, list[np.ndarray]] = {}
    L.backward(hook=lambda node, grads: sent.__setitem__(node, grads))
    known = {id(t.data): t.name for n in order for t in (n, *n.parents) if t.name}
    known[id(y)] = "y"
    raws = []
    for t in order:
        saved = {k: _summary(v, known.get(id(v))) for k, v in t.saved.items()}
        kids: list[tuple[int | None, str, Any]] = [
            (index[p], p.name or "?", sent[t][k])
            if p.requires_grad
            else (None, p.name or "?", None)
            for k, p in enumerate(t.parents)
        ]
        raws.append(_Raw(t.op or "leaf", t.name or None, saved, t.grad, kids))
    return raws, float(L.data)


def _named(t: Tensor, name: str) -> Tensor:
    t.name = name
    return t


def _torch_graph(
    variant: str, engine: Any, X: torch.Tensor, y: torch.Tensor, loss: str
) -> tuple[list[_Raw], float]:
    import torch
    import torch.nn.functional as F

    # the variant's own graph: its _loss (the module variant was made with this loss)
    graph = engine.loss_graph(X, y)
    L = graph.loss
    if variant == "autograd" and loss == "sigmoid_bce":
        # the article's loss on the variant's own z
        L = F.binary_cross_entropy(torch.sigmoid(graph.logits), y)
    params = graph.params
    # a torch.autograd.graph.Node; Any, as its _saved_* attributes are not in torch's stubs
    root: Any = L.grad_fn
    order = _topological(root, lambda n: [m for m, _ in n.next_functions if m is not None])
    index = {n: i for i, n in enumerate(order)}
    # what the nodes computed: L at the root, whose first input is z (stable) or p = sigmoid(z)
    first: Any = root.next_functions[0][0]
    produces: dict[Any, str] = {root: "L", first: "z" if loss == "stable" else "p"}
    if loss == "sigmoid_bce":
        produces[first.next_functions[0][0]] = "z"
    for n in order:
        leaf = getattr(n, "variable", None)  # AccumulateGrad holds its leaf
        for name, param in params.items():
            if param is leaf:
                produces[n] = name
    _through_views(order, produces)
    known = {"X": X, "y": y, produces[first]: root._saved_self, **params}
    # saved tensors are freed by backward(): read them first
    saved = {n: _torch_saved(n, known) for n in order}
    received: dict[Any, Any] = {}
    sent: dict[Any, Any] = {}

    def hook_for(n: Any) -> Callable[[Any, Any], None]:
        def hook(grad_inputs: Any, grad_outputs: Any) -> None:
            sent[n], received[n] = grad_inputs, grad_outputs[0]

        return hook

    handles = [n.register_hook(hook_for(n)) for n in order]
    try:
        L.backward()
    finally:
        for h in handles:
            h.remove()
    raws = []
    for n in order:
        kids: list[tuple[int | None, str, Any]] = []
        for k, (m, _slot) in enumerate(n.next_functions):
            if m is None:
                kids.append((None, "X or y", None))
            else:
                kids.append((index[m], produces.get(m, "?"), _np(sent[n][k])))
        raws.append(_Raw(type(n).__name__, produces.get(n), saved[n], _np(received[n]), kids))
    return raws, float(L.detach())


def _through_views(order: list[Any], produces: dict[Any, str]) -> None:
    """A view (transpose, squeeze, ...) holds the same numbers as its input: name it after its
    input, or its input after it, until nothing changes."""
    changed = True
    while changed:
        changed = False
        for n in order:
            kids = [m for m, _ in n.next_functions if m is not None]
            if not type(n).__name__.startswith(_VIEWS) or len(kids) != 1:
                continue
            a, b = produces.get(n), produces.get(kids[0])
            if a is not None and b is None:
                produces[kids[0]] = a
                changed = True
            elif b is not None and a is None:
                produces[n] = b
                changed = True


def _torch_saved(node: Any, known: dict[str, Any]) -> dict[str, str]:
    import torch

    out = {}
    for attr in sorted(a for a in dir(node) if a.startswith("_saved_")):
        value = getattr(node, attr)
        if isinstance(value, torch.Tensor):
            alias = next(
                (
                    k
                    for k, t in known.items()
                    if t.data_ptr() == value.data_ptr() and t.shape == value.shape
                ),
                None,
            )
            out[attr[len("_saved_") :]] = _summary(_np(value), alias, str(value.dtype)[6:])
        elif isinstance(value, int) and value >= 2**63:  # -1 stored as an unsigned 64-bit int
            out[attr[len("_saved_") :]] = f"{value - 2**64}"
        else:
            out[attr[len("_saved_") :]] = repr(value)
    return out


# ---- checking --------------------------------------------------------------------------------


def _chain_rule(
    X: F64, y: F64, w: F64, b: float, loss: str, variant: str
) -> tuple[dict[str, _Expect], dict[tuple[str, str], _Expect], list[Term]]:
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
        "L": _Expect("1", np.ones(())),
        "l": _Expect("1 / N", ones),
        "softplus(z)": _Expect("1 / N", ones),
        "z y": _Expect("-1 / N", -ones),
        "p": _Expect("(p - y) / (N p (1 - p))", dp),
        "z": _Expect("(p - y) / N", dz),
        "Xw": _Expect("dL/dz", dz),
        "w": _Expect("X^T dL/dz", X.T @ dz, float(np.max(np.abs(X).T @ np.abs(dz)))),
        "b": _Expect("sum dL/dz", np.asarray(dz.sum()), float(np.abs(dz).sum())),
    }
    # z feeds two nodes in the scratch stable graph: each sends its share, backward() adds them
    branches = {
        ("softplus(z)", "z"): _Expect("sigmoid(z) / N", p / n),
        ("z y", "z"): _Expect("-y / N", -y / n),
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


@dataclass(frozen=True)
class _Expect:
    """A chain-rule term; ``scale`` (default ``max |value|``) is what errors are relative to."""

    formula: str
    value: F64
    scale: float | None = None


def _compare(got: Any, term: str, x: _Expect, rtol: float) -> Check:
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


def _checked(
    raw: _Raw,
    i: int,
    raws: list[_Raw],
    expected: dict[str, _Expect],
    branches: dict[tuple[str, str], _Expect],
    rtol: float,
) -> GraphNode:
    def check(got: Any, quantity: str | None, consumer: str | None) -> Check | None:
        if quantity is None or quantity not in expected:
            return None
        x = branches.get((consumer or "", quantity), expected[quantity])
        return _compare(got, f"dL/d{_paren(quantity)} = {x.formula}", x, rtol)

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
    op = raw.op.rstrip("0123456789")
    return GraphNode(i, raw.op, raw.produces, raw.saved, WHY.get(op, ""), grad_in, in_check, edges)


def _with_notes(e: Explanation) -> Explanation:
    """Say where and why the graph departs from the chain rule, row by row."""
    notes = []
    z, p, y = e.term("z").value, e.p_graph, e.y
    rows = e.saturated
    if rows:
        notes.append(
            f"rows {rows}: z = {_fmt(z[rows])}, so sigmoid(z) rounds to exactly "
            f"{_fmt(p[rows])} in {e.dtype} (1 - p is below half an ulp of 1 once z > ~"
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
            f"-100, so each counts 100 (exact: {_fmt(exact)});"
            f" the batch loss is {e.loss_graph:.6g}, the exact one {e.loss_exact:.6g}"
        )
    with np.errstate(over="ignore"):
        clamped = [int(i) for i in np.flatnonzero(p * (1 - p) < 1e-12)]
    if clamped:
        notes.append(
            f"rows {clamped}: p (1 - p) = {_fmt((p * (1 - p))[clamped])} < 1e-12, so "
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


# ---- second order and per-sample ----------------------------------------------------------------


def _theta(X: Any, y: Any, w: Any, b: Any, dtype: str) -> tuple[F64, F64, F64]:
    check_choice(dtype, "dtype", ("float32", "float64"))
    X64, y64 = check_data(X, y, dtype=dtype)
    w64, b64 = check_params(w, b, X64.shape[1], dtype)
    return X64, y64, np.append(w64, b64)


def loss_function(X: Any, y: Any, *, dtype: str = "float64") -> Callable[[Any], Any]:
    """``theta -> L(theta)`` on torch tensors, ``theta = (w_1, ..., w_D, b)``:
    ``L = mean(softplus(z) - y z)``, ``z = X w + b``, as ``binary_cross_entropy_with_logits``.

    For ``torch.func`` transforms and ``torch.autograd.gradcheck`` / ``gradgradcheck``.
    """
    import torch
    import torch.nn.functional as F

    X64, y64, _ = _theta(X, y, np.zeros(np.shape(X)[-1] if np.ndim(X) == 2 else 1), 0.0, dtype)
    tdtype = getattr(torch, dtype)
    Xt, yt = torch.as_tensor(X64, dtype=tdtype), torch.as_tensor(y64, dtype=tdtype)

    def L(theta: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(Xt @ theta[:-1] + theta[-1], yt)

    return L


def per_sample_gradients(X: Any, y: Any, w: Any, b: Any, *, dtype: str = "float64") -> F64:
    """Row ``i``: the gradient of row ``i``'s own loss ``l_i = softplus(z_i) - y_i z_i`` in
    ``theta = (w, b)``, shape ``(N, D + 1)``, by ``torch.func.vmap(torch.func.grad(l))``.

    Analytically ``(p_i - y_i) [x_i, 1]`` (:func:`analytic_per_sample_gradients`); their mean
    is the batch gradient.
    """
    import torch
    import torch.nn.functional as F
    from torch.func import grad, vmap

    X64, y64, theta = _theta(X, y, w, b, dtype)
    tdtype = getattr(torch, dtype)

    def row_loss(t: torch.Tensor, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(x @ t[:-1] + t[-1], target)

    g = vmap(grad(row_loss), in_dims=(None, 0, 0))(
        torch.as_tensor(theta, dtype=tdtype),
        torch.as_tensor(X64, dtype=tdtype),
        torch.as_tensor(y64, dtype=tdtype),
    )
    out: F64 = g.detach().to(torch.float64).numpy().copy()
    return out


def hessian(X: Any, y: Any, w: Any, b: Any, *, dtype: str = "float64") -> F64:
    """The Hessian of the mean loss in ``theta = (w_1, ..., w_D, b)``, shape ``(D+1, D+1)``,
    by ``torch.func.hessian`` (forward-over-reverse).

    Analytically ``X~^T diag(p (1 - p)) X~ / N`` with ``X~ = [X, 1]`` (:func:`analytic_hessian`):
    positive semi-definite, so the loss is convex.
    """
    import torch
    from torch.func import hessian as torch_hessian

    _, _, theta = _theta(X, y, w, b, dtype)
    H = torch_hessian(loss_function(X, y, dtype=dtype))(
        torch.as_tensor(theta, dtype=getattr(torch, dtype))
    )
    out: F64 = H.detach().to(torch.float64).numpy().copy()
    return out


def analytic_per_sample_gradients(X: Any, y: Any, w: Any, b: Any) -> F64:
    """``(p_i - y_i) [x_i, 1]`` for every row, in float64."""
    X64, y64, theta = _theta(X, y, w, b, "float64")
    r = sigmoid_array(X64 @ theta[:-1] + theta[-1]) - y64
    return np.column_stack([r[:, None] * X64, r])


def analytic_hessian(X: Any, y: Any, w: Any, b: Any) -> F64:
    """``X~^T diag(p (1 - p)) X~ / N`` with ``X~ = [X, 1]`` (ones column last), in float64."""
    X64, _, theta = _theta(X, y, w, b, "float64")
    z = X64 @ theta[:-1] + theta[-1]
    s = sigmoid_array(z) * sigmoid_array(-z)
    Xt = np.column_stack([X64, np.ones(len(X64))])
    H: F64 = (Xt * s[:, None]).T @ Xt / len(X64)
    return H


def second_order(X: Any, y: Any, w: Any, b: Any) -> dict[str, Any]:
    """Per-row gradients and the Hessian by ``torch.func`` beside their closed forms (float64),
    with the largest absolute differences and the Hessian's eigenvalues (all >= 0: convex)."""
    G, Ga = per_sample_gradients(X, y, w, b), analytic_per_sample_gradients(X, y, w, b)
    H, Ha = hessian(X, y, w, b), analytic_hessian(X, y, w, b)
    return {
        "per_sample_gradients": G,
        "per_sample_analytic": Ga,
        "per_sample_max_abs_diff": float(np.max(np.abs(G - Ga))),
        "batch_gradient": G.mean(axis=0),
        "hessian": H,
        "hessian_analytic": Ha,
        "hessian_max_abs_diff": float(np.max(np.abs(H - Ha))),
        "hessian_eigenvalues": np.linalg.eigvalsh(H),
    }


def second_order_text(r: dict[str, Any]) -> str:
    """:func:`second_order`'s result as text."""
    return "\n".join(
        [
            "per-row gradients of l_i in (w, b), torch.func.vmap(torch.func.grad(l)), float64:",
            *(f"  row {i}: {_fmt(g)}" for i, g in enumerate(r["per_sample_gradients"])),
            f"  closed form (p_i - y_i) [x_i, 1]: max |difference| "
            f"{r['per_sample_max_abs_diff']:.2g}; their mean is the batch gradient "
            f"{_fmt(r['batch_gradient'])}",
            "Hessian of L in (w, b), torch.func.hessian, float64:",
            *(f"  {_fmt(row)}" for row in r["hessian"]),
            f"  closed form X~^T diag(p (1 - p)) X~ / N, X~ = [X, 1]: max |difference| "
            f"{r['hessian_max_abs_diff']:.2g}; eigenvalues {_fmt(r['hessian_eigenvalues'])}",
        ]
    )


# ---- formatting ---------------------------------------------------------------------------------


def _np(t: Any) -> F64 | None:
    if t is None:
        return None
    out: F64 = t.detach().to("cpu").double().numpy().copy()
    return out


def _summary(value: Any, alias: str | None, dtype: str | None = None) -> str:
    a = np.asarray(value)
    text = f"{dtype or a.dtype} {tuple(a.shape)} {_fmt(a)}"
    return f"{text}  (= {alias})" if alias else text


def _fmt(a: Any, digits: int = 4, limit: int = 6) -> str:
    if a is None:
        return "None"
    arr = np.asarray(a, dtype=np.float64) + 0.0  # -0.0 + 0.0 = 0.0: no "-0" in the output
    if arr.ndim == 0:
        return f"{float(arr):.{digits}g}"
    if arr.ndim > 1:
        rows = [_fmt(r, digits, limit) for r in arr[:limit]]
        return "[" + ", ".join(rows) + (", ...]" if len(arr) > limit else "]")
    items = [f"{v:.{digits}g}" for v in arr[:limit]]
    return "[" + ", ".join(items) + (", ...]" if arr.size > limit else "]")


def _paren(name: str) -> str:
    return name if name.isidentifier() else f"({name})"


def _verdict(check: Check | None) -> str:
    if check is None:
        return ""
    if check.ok:
        return f"   ok: {check.term}"
    return f"   MISMATCH: {check.term} = {_fmt(check.expected)} (rel. error {check.error:.2g})"


def _dot(text: str) -> str:
    return text.replace('"', '\\"')


def _node_dict(n: GraphNode) -> dict[str, Any]:
    return {
        "index": n.index,
        "op": n.op,
        "produces": n.produces,
        "saved": n.saved,
        "why": n.why,
        "grad_in": n.grad_in,
        "in_check": None if n.in_check is None else vars(n.in_check),
        "edges": [
            {
                "target": e.target,
                "input": e.input,
                "grad": e.grad,
                "check": None if e.check is None else vars(e.check),
            }
            for e in n.edges
        ],
        "ok": n.ok,
    }


def jsonable(x: Any) -> Any:
    """``x`` with NumPy arrays and scalars as lists and Python numbers, non-finite floats as
    strings (``"inf"``), so ``json.dumps`` writes strict JSON."""
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else str(float(x))
    if isinstance(x, np.integer):
        return int(x)
    return x
