"""explain(): build a variant's graph for one loss evaluation, read it, check it."""

from __future__ import annotations

from typing import Any

import numpy as np

from lr_variants._validate import (
    F64,
    check_choice,
    check_data,
    check_features,
    check_params,
    check_real,
)
from lr_variants.explain._chain_rule import LOSSES, RTOL, chain_rule, checked, with_notes
from lr_variants.explain._graphs import scratch_graph, torch_graph
from lr_variants.explain._records import Explanation
from lr_variants.registry import create
from lr_variants.scratch import sigmoid_array

EXPLAINABLE: tuple[str, ...] = ("autograd", "module", "scratch")


def explain(
    variant: str, X: Any, y: Any, w: Any, b: Any, *, loss: str = "stable", dtype: str = "float32"
) -> Explanation:
    """The backward graph of one evaluation of ``loss`` on ``(X, y)`` at ``(w, b)``, as
    ``variant`` builds it, every node's gradients checked against the chain rule.

    ``variant`` is ``"autograd"`` or ``"module"`` (torch: the graph is read through
    ``grad_fn.next_functions``, ``Node`` hooks during ``backward()`` and
    ``saved_tensors_hooks``) or ``"scratch"`` (the engine's own tensors and its backward hook).
    ``loss="stable"`` is ``binary_cross_entropy_with_logits``; ``"sigmoid_bce"`` the article's
    ``BCELoss(sigmoid(z), y)``, whose graph loses the gradient once ``sigmoid`` saturates.
    ``X``, ``w`` and ``b`` are rounded to ``dtype`` first; the chain rule is evaluated in float64
    from those rounded values.
    """
    if variant == "numpy":
        raise ValueError(
            f"variant must be one of {EXPLAINABLE}; got 'numpy', which computes its gradient by "
            "hand and records no graph"
        )
    check_choice(variant, "variant", EXPLAINABLE)
    check_choice(loss, "loss", LOSSES)
    check_choice(dtype, "dtype", ("float32", "float64"))
    X64, y64 = check_data(X, y, dtype=dtype)
    w64, b64 = check_params(w, b, X64.shape[1], dtype)
    # the module variant builds the article's loss itself; the others get it added on their z
    model = create(
        variant, X64.shape[1], dtype=dtype, loss=loss if variant == "module" else "stable"
    )
    model.set_params(w64, b64)
    read = scratch_graph if variant == "scratch" else torch_graph
    raws, loss_graph = read(model, X64, y64, loss)

    Xr = X64.astype(dtype).astype(np.float64)  # what the graph saw
    wr, br = model.get_params()
    expected, branches, terms = chain_rule(Xr, y64, wr, br, loss, variant)
    rtol = RTOL[dtype]
    nodes = tuple(checked(r, i, raws, expected, branches, rtol) for i, r in enumerate(raws))
    z_dtype = Xr.astype(dtype) @ wr.astype(dtype) + np.asarray(br, dtype=dtype)
    z = Xr @ wr + br
    out = Explanation(
        variant=variant,
        loss=loss,
        dtype=dtype,
        rtol=rtol,
        p_graph=sigmoid_array(z_dtype).astype(np.float64),
        X=Xr,
        y=y64,
        w=wr,
        b=br,
        loss_exact=float(np.mean(np.logaddexp(0.0, z) - y64 * z)),
        loss_graph=loss_graph,
        nodes=nodes,
        terms=tuple(terms),
    )
    return with_notes(out)


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
