"""An [`Explanation`][lr_variants.explain.Explanation] as text, as JSON-ready values, and as
Graphviz DOT.

Numbers are shown with 4 significant digits (3 on DOT edges), at most 6 entries per row.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from lr_variants.explain._records import Check, Explanation, GraphNode

# the losses a graph can be built for, and the formula each computes
LOSS_FORMS = {
    "stable": "binary_cross_entropy_with_logits(z, y): mean(max(z,0) - z y + log1p(exp(-|z|)))",
    "sigmoid_bce": "the article's BCELoss(sigmoid(z), y): -mean(y log p + (1-y) log(1-p))",
}
# shown once above the graph in the verbose text: what torch's non-tensor saved values mean
ARGUMENTS_NOTE = (
    "'args' are the non-tensor values a torch node keeps beside its tensors: reduction "
    "(1 = mean, 0 = none, 2 = sum), alpha and beta (the scalars of addmv/addmm: "
    "beta b + alpha X w), dim (what squeeze removed), and *_sym_sizes / *_sym_strides (the shape "
    "and memory layout of an input, to give its gradient the same; () when not needed)"
)


# ---- text --------------------------------------------------------------------------------------


def text(e: Explanation, verbose: bool = False) -> str:
    """The report of ``Explanation.to_text``."""
    t = e.term
    lines = [
        f"variant {e.variant}, loss {e.loss}: {LOSS_FORMS[e.loss]}",
        f"{e.dtype}, N = {len(e.y)} rows; X, w, b rounded to {e.dtype}:",
        *(f"  x_{i} = {fmt(row)}   y_{i} = {e.y[i]:g}" for i, row in enumerate(e.X)),
        f"  w = {fmt(e.w)}   b = {e.b:.6g}",
        f"  z = X w + b     = {fmt(t('z').value)}",
        f"  p = sigmoid(z)  = {fmt(t('p').value)}",
        f"  L = {e.loss_graph:.7g} from the graph, {e.loss_exact:.7g} exact "
        "(float64, stable formula)",
        "",
        f"backward graph: {len(e.nodes)} nodes, #k = position in topological order "
        "(every node before its inputs); 'saved' is what a node keeps for its backward formula "
        "(None: a slot it did not need); 'in' is the gradient a node receives, '->' what it "
        "sends to each input",
    ]
    if verbose and any(n.arguments for n in e.nodes):
        lines.append(ARGUMENTS_NOTE)
    _tree(e, 0, 0, set(), lines, verbose)
    lines += ["", "chain rule by hand (float64, from the same rounded inputs):"]
    lines += [f"  {x.name:<18} = {x.formula:<28} = {fmt(x.value)}" for x in e.terms]
    lines += ["", *_verdict(e)]
    lines += [f"note: {n}" for n in e.notes]
    return "\n".join(lines)


def _tree(
    e: Explanation, i: int, depth: int, shown: set[int], lines: list[str], verbose: bool
) -> None:
    node, pad = e.nodes[i], "  " * depth
    head = f"{pad}#{i} {node.op}" + (f" -> {node.produces}" if node.produces else "")
    if i in shown:
        lines.append(f"{head}  (shown above)")
        return
    shown.add(i)
    lines.append(f"{head}  [{'ok' if node.ok else 'MISMATCH'}]")
    pad += "   "
    lines += _saved_lines(node, pad, verbose)
    lines.append(f"{pad}why   {node.why}")
    if node.grad_in is not None:
        what = f"dL/d{paren(node.produces)}" if node.produces else "g"
        lines.append(f"{pad}in    {what} = {fmt(node.grad_in)}{_check_text(node.in_check)}")
        senders = [f"#{n.index}" for n in e.nodes if any(x.target == i for x in n.edges)]
        if len(senders) > 1:
            lines.append(f"{pad}      (the sum of what {', '.join(senders)} send)")
    for edge in node.edges:
        if edge.target is None:
            lines.append(f"{pad}->    {edge.input}: a constant, no gradient")
            continue
        what = f"dL/d{paren(edge.input)}" if edge.input != "?" else "g"
        lines.append(
            f"{pad}->    #{edge.target} {what} = {fmt(edge.grad)}{_check_text(edge.check)}"
        )
    for edge in node.edges:
        if edge.target is not None:
            _tree(e, edge.target, depth + 1, shown, lines, verbose)


def _saved_lines(node: GraphNode, pad: str, verbose: bool) -> list[str]:
    """``saved`` then, when verbose, ``args``: the first line of each labelled, one per value."""
    groups = [("saved", node.saved)] + ([("args", node.arguments)] if verbose else [])
    lines = [
        f"{pad}{label if k == 0 else '':<6}{name} = {value}"
        for label, values in groups
        for k, (name, value) in enumerate(values.items())
    ]
    if not node.saved:
        if not node.arguments:
            what = "nothing"
        else:  # torch keeps only shapes or scalars here (squeeze: its dim and input sizes)
            what = "no tensor" if verbose else "no tensor, only sizes and arguments"
        lines.insert(0, f"{pad}saved {what}")
    return lines


def _verdict(e: Explanation) -> list[str]:
    first = e.first_mismatch
    if first is None:
        worst = max((c.error for n in e.nodes for c in n.checks), default=0.0)
        return [
            "check: every node agrees with the chain rule (largest relative error "
            f"{worst:.2g}; tolerance {e.rtol:g} for {e.dtype})"
        ]
    bad = next(c for c in first.checks if not c.ok)
    got = (
        first.grad_in
        if bad is first.in_check
        else next(x.grad for x in first.edges if x.check is bad)
    )
    others = [f"#{n.index} {n.op}" for n in e.nodes if not n.ok and n is not first]
    return [
        f"check: FIRST MISMATCH at #{first.index} {first.op}: it gives {fmt(got)} where "
        f"the chain rule {bad.term} gives {fmt(bad.expected)} (relative error "
        f"{bad.error:.2g} > {e.rtol:g})",
        *([f"       also off, downstream: {', '.join(others)}"] if others else []),
    ]


def _check_text(check: Check | None) -> str:
    if check is None:
        return ""
    if check.ok:
        return f"   ok: {check.term}"
    return f"   MISMATCH: {check.term} = {fmt(check.expected)} (rel. error {check.error:.2g})"


# ---- DOT ----------------------------------------------------------------------------------------


def dot(e: Explanation) -> str:
    """Graphviz DOT text of the graph: edges point from a node to its inputs, as the gradients
    flow, labelled with the gradient sent; a node or gradient that disagrees with the chain rule
    is red, a constant input (no gradient) a dashed edge to plain text.

    Render it with Graphviz, e.g. ``dot -Tsvg graph.dot -o graph.svg`` (or ``-Tpng``).
    """
    lines = [
        "digraph backward {",
        '  rankdir=TB; node [shape=box, fontname="Helvetica", fontsize=10];',
        f'  label="{_dot(f"{e.variant}, {e.loss}, {e.dtype}: backward graph")}";',
    ]
    for n in e.nodes:
        saved = ", ".join(n.saved) or "nothing"
        label = f"#{n.index} {n.op}\\n" + (f"-> {n.produces}\\n" if n.produces else "")
        color = "" if n.ok else ", color=red, fontcolor=red"
        lines.append(f'  n{n.index} [label="{label}saved: {_dot(saved)}"{color}];')
        for k, x in enumerate(n.edges):
            if x.target is None:
                lines.append(f'  c{n.index}_{k} [label="{_dot(x.input)}", shape=plaintext];')
                lines.append(f"  n{n.index} -> c{n.index}_{k} [style=dashed];")
                continue
            red = ", color=red, fontcolor=red" if x.check and not x.check.ok else ""
            label = _dot(f"dL/d{paren(x.input)}\\n{fmt(x.grad, 3)}")
            lines.append(f'  n{n.index} -> n{x.target} [label="{label}"{red}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot(s: str) -> str:
    return s.replace('"', '\\"')


# ---- JSON ---------------------------------------------------------------------------------------


def to_dict(e: Explanation) -> dict[str, Any]:
    """``Explanation.to_dict``: every field, the verdict, and each node with its checks."""
    first = e.first_mismatch
    out = {
        "variant": e.variant,
        "loss": e.loss,
        "loss_form": LOSS_FORMS[e.loss],
        "dtype": e.dtype,
        "rtol": e.rtol,
        "X": e.X,
        "y": e.y,
        "w": e.w,
        "b": e.b,
        "p_graph": e.p_graph,
        "saturated_rows": e.saturated,
        "loss_graph": e.loss_graph,
        "loss_exact": e.loss_exact,
        "chain_rule": [vars(t) for t in e.terms],
        "nodes": [_node_dict(n) for n in e.nodes],
        "agrees": first is None,
        "first_mismatch": None if first is None else first.index,
        "first_mismatch_op": None if first is None else first.op,
        "notes": list(e.notes),
    }
    result: dict[str, Any] = jsonable(out)
    return result


def _node_dict(n: GraphNode) -> dict[str, Any]:
    return {
        "index": n.index,
        "op": n.op,
        "produces": n.produces,
        "saved": n.saved,
        "arguments": n.arguments,
        "why": n.why,
        "grad_in": n.grad_in,
        "in_check": None if n.in_check is None else vars(n.in_check),
        "edges": [
            {
                "target": x.target,
                "input": x.input,
                "grad": x.grad,
                "check": None if x.check is None else vars(x.check),
            }
            for x in n.edges
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


# ---- numbers ------------------------------------------------------------------------------------


def fmt(a: Any, digits: int = 4, limit: int = 6) -> str:
    """``a`` (a number or array) with ``digits`` significant digits, ``limit`` entries a row."""
    if a is None:
        return "None"
    arr = np.asarray(a, dtype=np.float64) + 0.0  # -0.0 + 0.0 = 0.0: no "-0" in the output
    if arr.ndim == 0:
        return f"{float(arr):.{digits}g}"
    if arr.ndim > 1:
        rows = [fmt(r, digits, limit) for r in arr[:limit]]
        return "[" + ", ".join(rows) + (", ...]" if len(arr) > limit else "]")
    items = [f"{v:.{digits}g}" for v in arr[:limit]]
    return "[" + ", ".join(items) + (", ...]" if arr.size > limit else "]")


def summary(value: Any, alias: str | None, dtype: str | None = None) -> str:
    """A saved array as ``"<dtype> <shape> <values>"``, with ``(= alias)`` when it is known."""
    a = np.asarray(value)
    out = f"{dtype or a.dtype} {tuple(a.shape)} {fmt(a)}"
    return f"{out}  (= {alias})" if alias else out


def paren(name: str) -> str:
    """``name`` as a derivative's denominator: ``z`` stays, ``z y`` becomes ``(z y)``."""
    return name if name.isidentifier() else f"({name})"
