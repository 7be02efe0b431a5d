"""``torch.optim.SGD``'s update rule as a building block for your own variants.

The built-in hand-written variants update their parameters through [`SGD`][lr_variants._sgd.SGD]; a
full variant of yours can too, so that every option (momentum, dampening, nesterov, weight decay,
maximize, decay_bias) follows torch's rule exactly, and ``get_state``/``set_state`` round-trip
the momentum buffers as the protocol asks::

    from lr_variants.arrays import NumpyArrays
    from lr_variants.sgd import SGD

    class Mine:
        def __init__(self, w, b, *, sgd, dtype, device="cpu"):
            self.arrays = NumpyArrays(dtype)
            self.w, self.b = self.arrays.convert(w), self.arrays.convert(b)
            self.optimizer = SGD(sgd, self.arrays)   # the protocol's optimizer state
        ...
        def step(self, X, y, u=None):
            loss, gw, gb = ...
            self.optimizer.step([self.w, self.b], [gw, gb])   # in place
            return loss

For each parameter ``p`` (``w``, then ``b``) with gradient ``g``::

    g <- -g                              if maximize (before weight decay, as torch does)
    g <- g + weight_decay * p            if p is decayed (w always, b with decay_bias)
    buf <- copy(g)                       the first step with momentum
    buf <- momentum * buf + (1 - dampening) * g      later steps
    g <- g + momentum * buf if nesterov, else buf
    p <- p - lr * g

- [`SGD`][lr_variants._sgd.SGD] ``(options, arrays, add_scaled=None)``: the rule above on one
  backend's arrays (NumPy arrays or torch tensors: in-place operators only), holding the momentum
  buffers; ``step(params, grads)``, ``get_state()``, ``set_state(state)``.
- [`SGDOptions`][lr_variants._sgd.SGDOptions]: the hyperparameters a factory receives as ``sgd``.
- ``TorchSGDState``: ``get_state``/``set_state`` for a variant that runs
  ``torch.optim.SGD`` itself.
- ``STATE_KEYS``: ``("momentum_w", "momentum_b")``, the keys of the state.
"""

from __future__ import annotations

from lr_variants._sgd import SGD, STATE_KEYS, SGDOptions, TorchSGDState

__all__ = ["SGD", "STATE_KEYS", "SGDOptions", "TorchSGDState"]
