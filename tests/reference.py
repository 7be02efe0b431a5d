"""Independent float64 references, written here and not taken from the library.

The loss uses ``log(1 + exp(z)) - y z`` through ``np.logaddexp`` (a different formula from the
library's ``max(z, 0) - z y + log1p(exp(-|z|))``), the sigmoid ``exp(-logaddexp(0, -z))``.
"""

from __future__ import annotations

import numpy as np


def logits(X: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    return np.asarray(X, np.float64) @ np.asarray(w, np.float64) + np.float64(b)


def loss(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float) -> float:
    z = logits(X, w, b)
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))


def gradients(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float) -> tuple[np.ndarray, float]:
    r = sigmoid(logits(X, w, b)) - y
    return np.asarray(X, np.float64).T @ r / len(y), float(np.mean(r))


def sgd(X, y, w, b, *, lr, index_batches):
    """Plain SGD in float64 over the given batches of row indices; returns (w, b) per step."""
    w, b = np.array(w, np.float64), float(b)
    path = []
    for idx in index_batches:
        gw, gb = gradients(X[idx], y[idx], w, b)
        w, b = w - lr * gw, b - lr * gb
        path.append((w.copy(), b))
    return path
