"""Independent float64 references, written here from the formulas and not taken from any variant.

With ``z = X w + b`` and row weights ``s`` (all 1 when none are given)::

    L     = sum_i s_i (logaddexp(0, z_i) - y_i z_i) / sum_i s_i
    dL/dw = X^T (s (sigmoid(z) - y)) / sum(s),   dL/db = sum(s (sigmoid(z) - y)) / sum(s)

``logaddexp(0, z) = log(1 + e^z)`` is a different formula from the library's
``max(z, 0) - z y + log1p(exp(-|z|))``, and ``sigmoid(z) = exp(-logaddexp(0, -z))``. The update
rule ``sgd_step`` is ``torch.optim.SGD``'s, written out from torch's ``_single_tensor_sgd``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

# the hyperparameters only (a frozen record of torch.optim.SGD's arguments); the rule itself is
# sgd_step below, written independently of lr_variants._sgd.SGD
from lr_variants._sgd import SGDOptions as SGDRule
from lr_variants._validate import F64

__all__ = ["SGDRule", "gradients", "logits", "loss", "options", "sgd_step", "sigmoid"]


def logits(X: F64, w: F64, b: float) -> F64:
    """``X w + b`` in float64."""
    z: F64 = np.asarray(X, np.float64) @ np.asarray(w, np.float64) + np.float64(b)
    return z


def sigmoid(z: F64) -> F64:
    """``1 / (1 + e^-z)`` as ``exp(-logaddexp(0, -z))``: no overflow for any finite ``z``."""
    p: F64 = np.exp(-np.logaddexp(0.0, -z))
    return p


def _weights(y: F64, s: F64 | None) -> F64:
    """``s / sum(s)`` (``1 / N`` each without weights)."""
    if s is None:
        return np.full(len(y), 1.0 / len(y))
    u: F64 = np.asarray(s, np.float64) / np.sum(s)
    return u


def loss(X: F64, y: F64, w: F64, b: float, s: F64 | None = None) -> float:
    """The (weighted) mean binary cross-entropy."""
    z = logits(X, w, b)
    return float(_weights(y, s) @ (np.logaddexp(0.0, z) - y * z))


def gradients(X: F64, y: F64, w: F64, b: float, s: F64 | None = None) -> tuple[F64, float]:
    """``(dL/dw, dL/db)`` of ``loss``."""
    r = _weights(y, s) * (sigmoid(logits(X, w, b)) - y)
    gw: F64 = np.asarray(X, np.float64).T @ r
    return gw, float(np.sum(r))


def options(rule: SGDRule) -> dict[str, Any]:
    """The keyword arguments of ``lr_variants.create`` for ``rule``."""
    return asdict(rule)


def sgd_step(
    rule: SGDRule, params: list[F64], grads: list[F64], bufs: list[F64 | None]
) -> tuple[list[F64], list[F64], list[F64 | None]]:
    """One step of ``torch.optim.SGD`` for parameters ``[w, b]``; returns the new parameters,
    the direction each moved along (``p_new = p - lr d``) and the new momentum buffers::

        g <- -g                  if maximize (before weight decay, as torch's code does)
        g <- g + wd p            if p is decayed (w always; b only with decay_bias)
        buf <- g                 on the first step with momentum (not zero: torch copies g)
        buf <- m buf + (1 - dampening) g          later
        d <- g + m buf if nesterov else buf       (d <- g without momentum)
    """
    new, dirs, new_bufs = [], [], []
    for i, (p, g, buf) in enumerate(zip(params, grads, bufs, strict=True)):
        g = -g if rule.maximize else g
        if rule.weight_decay and (i == 0 or rule.decay_bias):
            g = g + rule.weight_decay * p
        d = g
        if rule.momentum:
            buf = g.copy() if buf is None else rule.momentum * buf + (1 - rule.dampening) * g
            d = g + rule.momentum * buf if rule.nesterov else buf
        new.append(p - rule.lr * d)
        dirs.append(d)
        new_bufs.append(buf)
    return new, dirs, new_bufs
