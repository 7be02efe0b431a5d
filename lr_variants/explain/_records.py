"""What an explanation holds: the checked nodes of one backward graph and the hand-derived terms.

Frozen dataclasses only; ``lr_variants.explain._render`` turns an
[`Explanation`][lr_variants.explain.Explanation] into text, JSON-ready dicts and Graphviz DOT,
``lr_variants.explain._image`` into SVG and PNG.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lr_variants._validate import F64
from lr_variants.explain import _render


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
    """One node of the backward graph, ``index`` its position in topological order.

    ``saved`` holds the tensors the node keeps for its backward formula, by slot name (a summary
    with what the tensor is, e.g. ``"float32 (4,) [...]  (= z)"``, or ``"None"`` for a slot the
    node left empty); ``arguments`` the non-tensor values it keeps beside them (torch's
    ``reduction``, ``alpha``, sizes and strides), shown only in the verbose text.
    """

    index: int
    op: str
    produces: str | None  # the forward quantity this node's operation computed, if known
    saved: dict[str, str]
    why: str
    grad_in: F64 | None  # dL/d(produces) as it arrived
    in_check: Check | None
    edges: tuple[Edge, ...]
    arguments: dict[str, str] = field(default_factory=dict)

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
    """What [`lr_variants.explain.explain`][] found;
    [`to_text`][lr_variants.explain.Explanation.to_text],
    [`to_dict`][lr_variants.explain.Explanation.to_dict],
    [`to_dot`][lr_variants.explain.Explanation.to_dot],
    [`to_svg`][lr_variants.explain.Explanation.to_svg],
    [`to_png`][lr_variants.explain.Explanation.to_png] and
    [`save_image`][lr_variants.explain.Explanation.save_image] render it."""

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
        return _render.to_dict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def to_text(self, verbose: bool = False) -> str:
        """A readable report: inputs, the graph as a tree (root first), the chain rule, verdict.

        ``verbose=True`` also lists the non-tensor values each torch node keeps
        (``reduction``, ``alpha``, sizes and strides), explained once above the graph.
        """
        return _render.text(self, verbose)

    def to_dot(self) -> str:
        """Graphviz DOT text of the graph: edges point from a node to its inputs, as the
        gradients flow; what disagrees with the chain rule is red. Save it as ``graph.dot`` and
        draw it with ``dot -Tsvg graph.dot -o graph.svg``."""
        return _render.dot(self)

    def to_svg(self) -> str:
        """The graph as an SVG picture, laid out like
        [`to_dot`][lr_variants.explain.Explanation.to_dot] (the loss at the top, gradients flowing
        down to the leaves, what disagrees with the chain rule in red), drawn by this package: no
        Graphviz needed. Each gradient is rounded to 3 significant digits; saved tensors show their
        name, dtype and shape."""
        from lr_variants.explain import _image, _picture  # loaded only to draw

        return _image.svg(_picture.scene(self))

    def to_png(self) -> bytes:
        """The picture of [`to_svg`][lr_variants.explain.Explanation.to_svg] as PNG bytes, drawn by
        matplotlib (the ``plot`` extra: ``pip install 'lr_variants[plot]'``; ``ImportError`` without
        it)."""
        from lr_variants.explain import _image, _picture

        return _image.png(_picture.scene(self))

    def save_image(self, path: str | os.PathLike[str], *, name: str = "path") -> None:
        """Write the picture to ``path``, SVG or PNG by its suffix, atomically (the file there
        is replaced whole or not at all); a ``ValueError`` naming ``name`` for another suffix,
        for PNG without matplotlib, or for a path that cannot be written."""
        from lr_variants.explain import _image

        _image.save(self, path, name)
