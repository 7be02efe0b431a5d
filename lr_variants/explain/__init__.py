"""Look inside autograd: one loss evaluation's backward graph, node by node, against the chain rule.

>>> import lr_variants as lv
>>> e = lv.explain.explain("scratch", [[1.0, 2.0], [0.5, -1.0]], [1.0, 0.0], [0.5, -0.5], 0.1)
>>> e.first_mismatch is None
True

For a batch ``(X, y)`` of ``N`` rows and parameters ``(w, b)``, with ``z = X w + b`` and
``p = sigmoid(z)``, the chain rule (``docs/math.md``) gives::

    dL/dz = (p - y) / N,      dL/dw = X^T dL/dz,      dL/db = sum dL/dz
    dL/dp = (p - y) / (N p (1 - p))        (where the graph goes through p: nn.BCELoss)

[`explain`][lr_variants.explain.explain] builds a variant's graph for one loss evaluation through
the public [`Model`][lr_variants._model.Model] API (``model.loss_graph``) and records every node:
its operation, what it saved for the backward pass, the gradient it received and the gradient it
sent to each input (captured by hooks while ``backward()`` runs). Each gradient is mapped to the
chain-rule term it must equal, compared, and the first node (from the loss down) that disagrees is
named. The [`Explanation`][lr_variants.explain.Explanation] renders as text
(``to_text(verbose=False)``), JSON-ready values (``to_dict``), Graphviz DOT (``to_dot``) and a
picture of the graph drawn by this package (``to_svg``, ``to_png`` with matplotlib,
``save_image(path)``). [`per_sample_gradients`][lr_variants.explain.per_sample_gradients] and
[`hessian`][lr_variants.explain.hessian] compute the per-row gradients and the Hessian with
``torch.func``; [`analytic_per_sample_gradients`][lr_variants.explain.analytic_per_sample_gradients]
and [`analytic_hessian`][lr_variants.explain.analytic_hessian] are their closed forms;
[`forward_mode`][lr_variants.explain.forward_mode] computes the gradient by forward mode
(``torch.func.jvp``, one pass per parameter) beside reverse mode.

Torch's saved tensors are found with its public ``saved_tensors_hooks``; only the slot names
(``self``, ``mat1``) and non-tensor values (``reduction``, ``alpha``, sizes) a node keeps are
read from its undocumented ``_saved_*`` properties, for which torch has no public equivalent.

The modules: ``_graphs`` reads graphs (torch and scratch), ``_chain_rule`` checks them,
``_render`` writes text, JSON and DOT, ``_layout`` places a graph's boxes in layers,
``_picture`` turns an explanation into boxes, texts and curves and ``_image`` draws those as SVG
or PNG, ``_second_order`` and ``_forward`` hold the ``torch.func`` tools, ``_records`` the
result types. Importing this package imports no torch; the functions that need
it import it (the scratch variant never does).
"""

from __future__ import annotations

from lr_variants.explain._chain_rule import LOSSES, RTOL
from lr_variants.explain._explain import EXPLAINABLE, explain, saturating_params
from lr_variants.explain._forward import forward_mode, forward_mode_text
from lr_variants.explain._records import Check, Edge, Explanation, GraphNode, Term
from lr_variants.explain._render import LOSS_FORMS, jsonable
from lr_variants.explain._second_order import (
    analytic_hessian,
    analytic_per_sample_gradients,
    hessian,
    loss_function,
    per_sample_gradients,
    second_order,
    second_order_text,
)

__all__ = [
    "EXPLAINABLE",
    "LOSSES",
    "LOSS_FORMS",
    "RTOL",
    "Check",
    "Edge",
    "Explanation",
    "GraphNode",
    "Term",
    "analytic_hessian",
    "analytic_per_sample_gradients",
    "explain",
    "forward_mode",
    "forward_mode_text",
    "hessian",
    "jsonable",
    "loss_function",
    "per_sample_gradients",
    "saturating_params",
    "second_order",
    "second_order_text",
]
