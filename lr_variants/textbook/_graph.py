"""What the two torch autograd variants (``autograd``, ``module``) share: the loss and its
gradient read from the variant's recorded graph (``loss_graph``), so that each variant's
own module holds only how it builds that graph and how it steps.

``torch.autograd.grad(L, (w, b))`` returns ``(dL/dw, dL/db)`` without accumulating them into
``.grad``: asking for a gradient changes neither the parameters nor the optimizer's state.
"""

from __future__ import annotations

from typing import Any

import torch

from lr_variants._validate import F64


@torch.no_grad()
def graph_loss(variant: Any, X: torch.Tensor, y: torch.Tensor, u: Any = None) -> Any:
    """``L`` from ``variant.loss_graph``, computed without recording a graph."""
    return variant.loss_graph(X, y, u).loss


def graph_gradients(
    variant: Any, X: torch.Tensor, y: torch.Tensor, u: Any = None
) -> tuple[F64, float]:
    """``(dL/dw, dL/db)`` by ``torch.autograd.grad`` through ``variant.loss_graph``, as a float64
    vector of ``D`` values and a float (whatever shapes the parameters have)."""
    graph = variant.loss_graph(X, y, u)
    gw, gb = torch.autograd.grad(graph.loss, (graph.params["w"], graph.params["b"]))
    return variant.arrays.to_numpy(gw).reshape(-1), float(gb.reshape(()))
