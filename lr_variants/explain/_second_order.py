"""Second order and per-sample quantities with ``torch.func``, beside their closed forms.

With ``theta = (w_1, ..., w_D, b)``, ``x~_i = [x_i, 1]`` and ``p_i = sigmoid(x~_i . theta)``::

    grad l_i(theta) = (p_i - y_i) x~_i                  (row i's own loss l_i)
    H(theta)        = X~^T diag(p (1 - p)) X~ / N       (the mean loss; positive semi-definite)

Torch is imported inside the functions that use it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lr_variants._validate import F64, check_choice, check_data, check_params
from lr_variants.explain._render import fmt
from lr_variants.scratch import sigmoid_array


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

    Analytically ``(p_i - y_i) [x_i, 1]``
    ([`analytic_per_sample_gradients`][lr_variants.explain.analytic_per_sample_gradients]); their
    mean is the batch gradient.
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

    Analytically ``X~^T diag(p (1 - p)) X~ / N`` with ``X~ = [X, 1]``
    ([`analytic_hessian`][lr_variants.explain.analytic_hessian]): positive semi-definite, so the
    loss is convex.
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
    """[`second_order`][lr_variants.explain.second_order]'s result as text."""
    return "\n".join(
        [
            "per-row gradients of l_i in (w, b), torch.func.vmap(torch.func.grad(l)), float64:",
            *(f"  row {i}: {fmt(g)}" for i, g in enumerate(r["per_sample_gradients"])),
            f"  closed form (p_i - y_i) [x_i, 1]: max |difference| "
            f"{r['per_sample_max_abs_diff']:.2g}; their mean is the batch gradient "
            f"{fmt(r['batch_gradient'])}",
            "Hessian of L in (w, b), torch.func.hessian, float64:",
            *(f"  {fmt(row)}" for row in r["hessian"]),
            f"  closed form X~^T diag(p (1 - p)) X~ / N, X~ = [X, 1]: max |difference| "
            f"{r['hessian_max_abs_diff']:.2g}; eigenvalues {fmt(r['hessian_eigenvalues'])}",
        ]
    )
