"""A full variant: its own arrays and its own ``torch.optim.SGD`` rule, in NumPy.

A factory is any callable ``factory(w, b, *, sgd, dtype, device)``; a class is one. The object
it makes implements ``lr_variants.protocol.Variant``: ``arrays``, ``optimizer`` (with
``get_state``/``set_state``), ``get_params``, ``set_params``, ``probabilities``, ``loss``,
``gradients`` and ``step``.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np


class Arrays:
    """NumPy arrays in one dtype (``lr_variants.protocol.Arrays``)."""

    device = "cpu"

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def convert(self, a):
        return np.asarray(a, dtype=self.dtype, order="C")  # a 0-d array stays 0-d

    def to_numpy(self, a):
        return np.array(a, dtype=np.float64)

    def copy(self, a):
        return np.copy(a)

    def rows(self, a, order):
        return a[order]

    def batches(self, a, slices):
        return [a[s] for s in slices]

    def floats(self, values):
        return np.array(values, dtype=np.float64)


class SGD:
    """``torch.optim.SGD``'s rule for ``[w, b]``: maximize negates the gradient, weight decay
    adds ``wd p`` (to ``b`` only with ``decay_bias``), the first momentum buffer is the
    gradient itself, later ``m buf + (1 - dampening) g``; nesterov steps along
    ``g + m buf``."""

    def __init__(self, options, arrays):
        self.o, self.arrays = options, arrays
        self.buffers = [None, None]

    def get_state(self):
        keys = ("momentum_w", "momentum_b")
        return {
            k: self.arrays.to_numpy(v)
            for k, v in zip(keys, self.buffers, strict=True)
            if v is not None
        }

    def set_state(self, state):
        keys = ("momentum_w", "momentum_b")
        self.buffers = [self.arrays.convert(state[k]) if k in state else None for k in keys]

    def step(self, params, grads):
        o = self.o
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            g = -g if o.maximize else g
            if o.weight_decay and (i == 0 or o.decay_bias):
                g = g + o.weight_decay * p
            if o.momentum:
                buf = self.buffers[i]
                if buf is None:
                    buf = np.copy(g)
                else:
                    buf = o.momentum * buf + (1 - o.dampening) * g
                self.buffers[i] = buf
                g = g + o.momentum * buf if o.nesterov else buf
            p -= o.lr * g


class ExampleVariant:
    """Logistic regression with hand-written gradients; ``w`` shape ``(D,)``, ``b`` shape
    ``()``, both in the model's dtype."""

    # what it declares it can do beyond the protocol (fields of lr_variants.Capabilities), read
    # when it is registered: its loss and gradient are the sums sum(u l), for any weights u
    lr_variants_capabilities = MappingProxyType({"linear_in_u": True})

    def __init__(self, w, b, *, sgd, dtype, device="cpu"):
        self.arrays = Arrays(dtype)
        self.w = np.array(w, dtype=self.arrays.dtype)
        self.b = np.array(b, dtype=self.arrays.dtype)
        self.optimizer = SGD(sgd, self.arrays)

    def get_params(self):
        return self.w.astype(np.float64), float(self.b)

    def set_params(self, w, b):
        self.w[...] = w
        self.b[...] = b

    def probabilities(self, X):
        z = (X @ self.w + self.b).astype(np.float64)
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1.0, e) / (1.0 + e)

    def loss(self, X, y, u=None):
        z = X @ self.w + self.b
        losses = np.logaddexp(0.0, z) - y * z
        return losses.mean() if u is None else losses @ u

    def gradients(self, X, y, u=None):
        gw, gb = self._gradients(X, y, u)
        return gw.astype(np.float64), float(gb)

    def step(self, X, y, u=None):
        loss = self.loss(X, y, u)
        self.optimizer.step([self.w, self.b], self._gradients(X, y, u))
        return loss

    def _gradients(self, X, y, u):
        z = X @ self.w + self.b
        e = np.exp(-np.abs(z))
        r = np.where(z >= 0, 1.0, e) / (1.0 + e) - y
        r = r / len(y) if u is None else r * u
        return X.T @ r, r.sum()
