"""An [`Explanation`][lr_variants.explain.Explanation]'s backward graph as a picture: boxes, text
and curves placed by ``lr_variants.explain._layout``, drawn as SVG or PNG by
``lr_variants.explain._image``.

What it shows is what the DOT rendering shows: one box per node (``#k``, the operation, the
quantity its forward operation computed), the tensors it saved (slot name, what the tensor is,
dtype and shape: no values), and one arrow per gradient a node sends to an input, as the
gradients flow from the loss down, labelled with that gradient rounded to 3 significant digits.
A constant input is a dashed arrow to its name. A node or gradient that disagrees with the chain
rule is red, its label also giving the chain rule's value. The only numbers drawn are those
gradients (and the chain rule's, where they disagree).
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lr_variants.explain._layout import Box, Link, layout
from lr_variants.explain._render import fmt, paren

if TYPE_CHECKING:
    from lr_variants.explain._records import Explanation, GraphNode

FONT = 12.0  # text size, in the picture's units (SVG px, PNG points)
CHAR = 0.6 * FONT  # the advance of one character of a monospace font (DejaVu Sans Mono: 0.602)
LINE = 16.0  # line height
PAD = 7.0  # inside a box
ARROW = 8.0  # length of an arrow's head
DIGITS = 3  # significant digits of a drawn gradient (as on the DOT edges)

INK, MUTED, RED = "#222222", "#6b6b6b", "#c62828"
FILLS = {  # header of an operation's box, of a leaf's, of a node that disagrees; saved tensors
    "op": "#eceff1",
    "leaf": "#d6e9f8",
    "bad": "#fde0dc",
    "saved": "#fff3dc",
}
LEAF_OPS = ("AccumulateGrad", "leaf")
_SUMMARY = re.compile(r"^(?P<dtype>\S+) (?P<shape>\([^)]*\))(?:.*\(= (?P<alias>[^)]+)\))?$")


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    fill: str
    stroke: str | None = None
    dashed: bool = False


@dataclass(frozen=True)
class Text:
    """One line of text, ``y`` its baseline."""

    x: float
    y: float
    text: str
    color: str = INK
    bold: bool = False


@dataclass(frozen=True)
class Curve:
    """An edge through ``points`` (straight where it keeps its x, an S-bend where not), with an
    arrow head at the last point when ``arrow``."""

    points: tuple[tuple[float, float], ...]
    color: str = INK
    dashed: bool = False
    arrow: bool = True


@dataclass(frozen=True)
class Scene:
    """Everything to draw, in drawing order, on a ``width`` x ``height`` canvas."""

    width: float
    height: float
    title: str
    items: tuple[Rect | Text | Curve, ...]


def number(value: Any) -> str:
    """A gradient as drawn: ``DIGITS`` significant digits, at most 6 entries."""
    return fmt(value, DIGITS)


@dataclass
class _Parts:
    """What to place: the boxes and edges for the layout, and what each box holds (a node's
    header and saved lines, an edge label's lines, or plain text)."""

    boxes: list[Box] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    nodes: dict[Hashable, tuple[list[tuple[str, str, bool]], list[str], str, str]] = field(
        default_factory=dict
    )
    labels: dict[Hashable, list[tuple[str, str]]] = field(default_factory=dict)
    plain: dict[Hashable, tuple[str, str]] = field(default_factory=dict)


def scene(e: Explanation) -> Scene:
    """The picture of ``e``'s backward graph."""
    parts = _parts(e)
    title = f"{e.variant}, {e.loss} loss, {e.dtype}, N = {len(e.y)} rows: the backward graph"
    first = e.first_mismatch
    verdict = (
        ("every node agrees with the chain rule", INK)
        if first is None
        else (f"first mismatch: #{first.index} {first.op} (red: disagrees)", RED)
    )
    legend = [
        "arrows: the gradient each node sends to an input while backward() runs;",
        "a dashed arrow: a constant input, which gets no gradient; orange: the tensors a node",
        "saved for its backward formula; blue: a leaf (its .grad receives what arrives)",
    ]
    g = layout(parts.boxes, parts.links, top=1.5 * LINE)
    width = max(g.width, *(_width(t) + 24 for t in [title, verdict[0], *legend]))
    shift = (width - g.width) / 2
    height = g.height + (len(legend) + 1) * LINE + 8
    items: list[Rect | Text | Curve] = [Rect(0, 0, width, height, "#ffffff")]
    items.append(Text(12, 12 + FONT, title, INK, bold=True))
    for link, route in zip(parts.links, g.routes, strict=True):
        constant = isinstance(link.target, tuple) and link.target[0] == "constant"
        bad = link.label is not None and parts.labels[link.label.key][0][1] == RED
        points = tuple((x + shift, y) for x, y in route)
        items.append(Curve(points, RED if bad else (MUTED if constant else INK), constant))
    for key, p in g.boxes.items():
        x, y = p.x + shift, p.y
        if key in parts.nodes:
            head, saved, fill, stroke = parts.nodes[key]
            items += _node_items(x, y, p.width, p.height, head, saved, fill, stroke)
        elif key in parts.labels:
            for i, (text, color) in enumerate(parts.labels[key]):
                items.append(Text(x + PAD, y + i * LINE + FONT, text, color))
        elif key in parts.plain:
            text, color = parts.plain[key]
            items.append(Text(x, y + FONT, text, color))
    y = g.height + 4
    items.append(Text(12, y + FONT, verdict[0], verdict[1], bold=True))
    for i, line in enumerate(legend):
        items.append(Text(12, y + (i + 1) * LINE + FONT, line, MUTED))
    return Scene(width, height, title, tuple(items))


def _parts(e: Explanation) -> _Parts:
    """A box per node, a text per constant and for where backward() starts; an edge per
    gradient sent, labelled with it (and with the chain rule's value where they disagree)."""
    out = _Parts()
    boxes, links, plain, labels = out.boxes, out.links, out.plain, out.labels
    if e.nodes:
        start = f"backward() starts at the loss: dL/dL = {number(e.nodes[0].grad_in)}"
        boxes.append(Box("start", _width(start), LINE))
        plain["start"] = (start, INK)
        links.append(Link("start", 0))
    senders = {n.index: 0 for n in e.nodes}
    for n in e.nodes:
        for sent in n.edges:
            if sent.target is not None:
                senders[sent.target] += 1
    for n in e.nodes:
        head, saved, fill = _node_lines(n, senders[n.index])
        stroke = RED if not n.ok else INK
        width = max(_width(t) for t, _, _ in [*head, *((s, "", False) for s in saved)]) + 2 * PAD
        height = (len(head) + len(saved)) * LINE + 2 * PAD + (PAD if saved else 0)
        boxes.append(Box(n.index, width, height))
        out.nodes[n.index] = (head, saved, fill, stroke)
        for k, edge in enumerate(n.edges):
            if edge.target is None:
                const = ("constant", n.index, k)
                text = f"{edge.input} (constant: no gradient)"
                boxes.append(Box(const, _width(text), LINE))
                plain[const] = (text, MUTED)
                links.append(Link(n.index, const))
                continue
            bad = edge.check is not None and not edge.check.ok
            lines = [(f"dL/d{paren(edge.input)} = {number(edge.grad)}", RED if bad else INK)]
            if bad and edge.check is not None:
                lines.append((f"chain rule: {number(edge.check.expected)}", RED))
            label = ("label", n.index, k)
            width = 2 * PAD + max(_width(t) for t, _ in lines)
            labels[label] = lines
            box = Box(label, width, len(lines) * LINE, anchor=0.0)
            links.append(Link(n.index, edge.target, box))
    return out


def _width(text: str) -> float:
    return len(text) * CHAR


def _node_lines(n: GraphNode, senders: int) -> tuple[list[tuple[str, str, bool]], list[str], str]:
    """The header lines (text, color, bold), the saved-tensor lines, and the header's fill."""
    color = INK if n.ok else RED
    head = [(f"#{n.index} {n.op}" + ("" if n.ok else "  [MISMATCH]"), color, True)]
    if n.produces:
        head.append((f"output: {n.produces}", color, False))
    if senders > 1 and n.grad_in is not None:  # where backward() adds the shares it receives
        what = f"dL/d{paren(n.produces)}" if n.produces else "g"
        head.append((f"receives the sum: {what} = {number(n.grad_in)}", color, False))
    fill = FILLS["bad"] if not n.ok else FILLS["leaf" if n.op in LEAF_OPS else "op"]
    tensors = [f"{slot} = {_tensor(s)}" for slot, s in n.saved.items() if s != "None"]
    empty = [slot for slot, s in n.saved.items() if s == "None"]
    if empty:
        tensors.append(f"{', '.join(empty)}: None (not needed)")
    if not tensors:
        head.append(("saves no tensor" if n.arguments else "saves nothing", MUTED, False))
        return head, [], fill
    return head, ["saved:", *tensors], fill


def _tensor(summary: str) -> str:
    """``"z, float32 (4,)"`` from ``"float32 (4,) [...]  (= z)"``: what it is, never values."""
    m = _SUMMARY.match(summary)
    if m is None:
        return summary.split(" [", 1)[0]
    kind = f"{m['dtype']} {m['shape']}"
    return f"{m['alias']}, {kind}" if m["alias"] else kind


def _node_items(
    x: float,
    y: float,
    width: float,
    height: float,
    head: list[tuple[str, str, bool]],
    saved: list[str],
    fill: str,
    stroke: str,
) -> list[Rect | Text | Curve]:
    top = len(head) * LINE + PAD + (PAD / 2 if saved else PAD)
    items: list[Rect | Text | Curve] = [Rect(x, y, width, height, FILLS["saved"], stroke)]
    items.append(Rect(x, y, width, top, fill, stroke))
    for i, (text, color, bold) in enumerate(head):
        items.append(Text(x + PAD, y + PAD + i * LINE + FONT - 1, text, color, bold))
    for i, text in enumerate(saved):
        color = MUTED if i == 0 else INK
        items.append(Text(x + PAD, y + top + PAD / 2 + i * LINE + FONT - 1, text, color))
    return items
