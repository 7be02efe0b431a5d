"""The gradient by forward mode (``torch.func.jvp``) beside reverse mode (``torch.func.grad``).

Forward mode pushes one tangent ``v`` through the computation with the values and gets the
directional derivative ``dL(theta)[v] = grad L . v``; with ``v = e_k`` (the k-th unit vector)
that is ``dL/dtheta_k``. The whole gradient of ``theta = (w_1, ..., w_D, b)`` therefore takes
``D + 1`` forward passes, where reverse mode takes one forward and one backward pass, whatever
``D``: for one scalar loss and many parameters, reverse mode wins (it is why training uses it);
forward mode wins the other way round, few inputs and many outputs.

Torch is imported inside the functions that use it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lr_variants._validate import F64
from lr_variants.explain._render import fmt
from lr_variants.explain._second_order import _theta, loss_function

WHY_REVERSE = (
    "reverse mode gets all D + 1 partial derivatives of the one scalar loss from one backward "
    "pass; forward mode gets one directional derivative per pass, so D + 1 passes: for one loss "
    "and many parameters reverse mode wins, by a factor of about D + 1"
)


def forward_mode(X: Any, y: Any, w: Any, b: Any, *, dtype: str = "float64") -> dict[str, Any]:
    """The gradient of the mean loss in ``theta = (w, b)`` two ways: forward mode, one
    ``torch.func.jvp`` per parameter with the unit tangent ``e_k``, and reverse mode,
    ``torch.func.grad``; with the number of passes each took and their largest difference."""
    import torch
    from torch.func import grad, jvp

    _, _, theta64 = _theta(X, y, w, b, dtype)
    L = loss_function(X, y, dtype=dtype)
    theta = torch.as_tensor(theta64, dtype=getattr(torch, dtype))
    tangents = torch.eye(len(theta), dtype=theta.dtype)
    forward = torch.stack([jvp(L, (theta,), (e,))[1] for e in tangents])
    reverse = grad(L)(theta)
    fw: F64 = forward.to(torch.float64).numpy().copy()
    rv: F64 = reverse.to(torch.float64).numpy().copy()
    return {
        "forward": fw,
        "reverse": rv,
        "forward_passes": len(theta),
        "reverse_passes": 1,
        "max_abs_diff": float(np.max(np.abs(fw - rv))),
        "why_reverse": WHY_REVERSE,
    }


def forward_mode_text(r: dict[str, Any]) -> str:
    """[`forward_mode`][lr_variants.explain.forward_mode]'s result as text."""
    return "\n".join(
        [
            f"gradient of L in (w, b) by forward mode, torch.func.jvp with each unit tangent "
            f"e_k ({r['forward_passes']} forward passes):",
            f"  {fmt(r['forward'])}",
            f"by reverse mode, torch.func.grad (1 forward + 1 backward pass): {fmt(r['reverse'])}",
            f"  max |difference| {r['max_abs_diff']:.2g}",
            f"why: {r['why_reverse']}",
        ]
    )
