"""A loss-and-gradient function: all lr_variants needs to train, compare and check it."""

from __future__ import annotations

import numpy as np


def loss_and_gradient(w, b, X, y, sample_weight):
    """Mean binary cross-entropy of ``sigmoid(X w + b)`` and its gradient.

    ``sample_weight`` is ``None`` or the batch's weights already normalized to sum to 1, so the
    weighted mean is ``sum(u l)``. The loss uses ``log(1 + e^z) - y z`` through ``logaddexp``,
    finite for any ``z``; the sigmoid ``e / (1 + e)`` with ``e = exp(-|z|)`` never overflows.
    """
    z = X @ w + b
    u = np.full(len(y), 1.0 / len(y), dtype=X.dtype) if sample_weight is None else sample_weight
    e = np.exp(-np.abs(z))
    p = np.where(z >= 0, 1.0, e) / (1.0 + e)
    r = u * (p - y)
    return u @ (np.logaddexp(0.0, z) - y * z), X.T @ r, r.sum()
