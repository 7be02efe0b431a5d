"""A full variant in NumPy, built from lr_variants' public blocks: its backend
(``lr_variants.arrays.NumpyArrays``) and ``torch.optim.SGD``'s rule (``lr_variants.sgd.SGD``).

A factory is any callable ``factory(w, b, *, sgd, dtype, device)``; a class is one. With
``z = X w + b``, ``p = sigmoid(z)`` and row weights ``u`` (``1/N``, or the normalized
``sample_weight``): ``L = sum u (max(z, 0) - z y + log1p(exp(-|z|)))``,
``dL/dw = X^T (u (p - y))``, ``dL/db = sum(u (p - y))``.
"""

import numpy as np

from lr_variants.arrays import NumpyArrays
from lr_variants.sgd import SGD


def sigmoid(z):
    e = np.exp(-np.abs(z))  # never overflows
    return np.where(z >= 0, 1.0, e) / (1.0 + e)


class ExampleVariant:
    # declared (lr_variants.Capabilities): loss and gradient are sums of u_i l_i, for any u
    lr_variants_capabilities = {"linear_in_u": True}  # noqa: RUF012

    def __init__(self, w, b, *, sgd, dtype, device="cpu"):
        self.arrays = NumpyArrays(dtype)
        self.w, self.b = self.arrays.convert(w).copy(), self.arrays.convert(b).copy()
        self.optimizer = SGD(sgd, self.arrays)  # torch.optim.SGD's rule and its state

    def get_params(self):
        return self.w.astype(np.float64), float(self.b)

    def set_params(self, w, b):
        self.w[...], self.b[...] = w, b

    def probabilities(self, X):
        return sigmoid(X @ self.w + self.b).astype(np.float64)

    def loss(self, X, y, u=None):
        z = X @ self.w + self.b
        losses = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
        return losses.mean() if u is None else losses @ u

    def gradients(self, X, y, u=None):
        gw, gb = self._gradients(X, y, u)
        return gw.astype(np.float64), float(gb)

    def step(self, X, y, u=None):
        loss = self.loss(X, y, u)
        self.optimizer.step([self.w, self.b], self._gradients(X, y, u))
        return loss

    def _gradients(self, X, y, u):  # in the model's dtype, for the update
        r = sigmoid(X @ self.w + self.b) - y
        r = r / len(y) if u is None else r * u
        return X.T @ r, r.sum()
