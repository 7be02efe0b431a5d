"""Variant ``"numba"``: the hand-written gradient and the SGD rule compiled to machine code by
numba, one compiled call per step, or for many epochs at once
(``NumbaLogisticRegression.train_epochs``), the kernel reading each batch's rows where
they lie in ``X`` (the epoch's row order is its argument: nothing is copied per epoch).

An optional extra: ``pip install 'lr_variants[numba]'``. The module is named so that it does not
shadow the ``numba`` package. With ``z_i = x_i . w + b``, ``p_i = sigmoid(z_i)`` and row weights
``u`` (``1/N`` each, or the normalized sample weights), one loop over the rows computes::

    L     = sum_i u_i (max(z_i, 0) - z_i y_i + log1p(exp(-|z_i|)))
    dL/dw = sum_i u_i (p_i - y_i) x_i,   dL/db = sum_i u_i (p_i - y_i)

and one loop over the parameters applies ``torch.optim.SGD``'s rule (``lr_variants._sgd``
states it; this is its compiled twin, checked against it by the test suite)::

    g <- -g if maximize;  g <- g + weight_decay p (w; b too with decay_bias)
    buf <- g on the first step, else momentum buf + (1 - dampening) g
    g <- g + momentum buf if nesterov else buf;   p <- p - lr g

A step is little arithmetic on the article's batches of 32 rows: its time is what is left of a
step when no framework runs between the operations, the floor of the benchmarks' overhead ladder.
The kernels are compiled with NumPy's error model (``error_model="numpy"``): numba's default
tests every floating-point division for a zero divisor, to raise ``ZeroDivisionError``, and on
these rows that test was a large share of the kernel's time. No divisor here can be zero
(``1 + e^-|z| >= 1``; ``1/n`` is only used when the batch has rows), so the results are the
same bit for bit. What remains per row is an ``exp``, a ``log`` (``_log1p``: ``log1p`` from
``log``, exactly compensated) and two divisions, most of what a step costs.
Parameters, gradients and hyperparameters are stored in the model's dtype; ``z`` is computed in
it, and the rest of a row's arithmetic in float64 (numba's float literals are float64), which
the rounding-error bounds of the test suite allow for either dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    import numba
except ImportError as exc:  # an optional extra: say how to get it
    raise ImportError("the numba variant needs numba: pip install 'lr_variants[numba]'") from exc

from lr_variants._backends import NumpyArrays
from lr_variants._sgd import SGD, SGDOptions
from lr_variants._validate import F64
from lr_variants.textbook.numpy import sigmoid


@numba.njit(cache=True, error_model="numpy", inline="always")
def _log1p(e):  # type: ignore[no-untyped-def]
    """``log(1 + e)`` for ``0 <= e <= 1``, in float64, from the C library's ``log`` (in this
    loop it costs less than ``log1p``, most in float32). ``q = fl(1 + e)`` is rounded, but its
    error ``c = (1 - q) + e`` is exact (Fast2Sum: ``1 >= e``), so ``1 + e = q + c`` and
    ``log(1 + e) = log(q) + log1p(c / q) = log(q) + c / q`` up to ``(c / q)^2 / 2``, with
    ``|c / q| <= 2^-53``: within two ulps of ``log1p(e)`` (the test suite checks it)."""
    q = 1.0 + e
    return np.log(q) + ((1.0 - q) + e) / q


@numba.njit(cache=True, error_model="numpy")
def _loss_and_grad(X, y, u, w, b, g):  # type: ignore[no-untyped-def]
    """``L``; ``g[:D] = dL/dw``, ``g[D] = dL/db`` (``u`` empty: the plain mean)."""
    return _gathered_loss_and_grad(X, y, u, np.arange(X.shape[0]), w, b, g)


@numba.njit(cache=True, error_model="numpy")
def _gathered_loss_and_grad(X, y, u, rows, w, b, g):  # type: ignore[no-untyped-def]
    """``_loss_and_grad`` on the rows ``X[rows]``, ``y[rows]`` (``u`` in ``rows``' order),
    read where they lie: no gathered copy."""
    n, d = rows.size, X.shape[1]
    g[:] = 0.0
    loss, mean = 0.0, 1.0 / n
    for k in range(n):
        i = rows[k]
        z = b
        for j in range(d):
            z += X[i, j] * w[j]
        e = np.exp(-abs(z))
        p = (1.0 if z >= 0 else e) / (1.0 + e)  # one division, no branch to mispredict
        weight = u[k] if u.size else mean
        loss += weight * (max(z, 0.0) - z * y[i] + _log1p(e))
        r = weight * (p - y[i])
        for j in range(d):
            g[j] += r * X[i, j]
        g[d] += r
    return loss


@numba.njit(cache=True, error_model="numpy")
def _sgd(theta, g, buf, started, hyper, flags):  # type: ignore[no-untyped-def]
    """The SGD rule on ``theta = (w, b)`` in place; ``hyper = (lr, momentum, dampening,
    weight_decay)``, ``flags = (nesterov, maximize, decay_bias)``."""
    lr, momentum, dampening, decay = hyper[0], hyper[1], hyper[2], hyper[3]
    last = theta.size - 1
    for k in range(theta.size):
        gk = -g[k] if flags[1] else g[k]
        if decay != 0 and (k < last or flags[2]):
            gk += decay * theta[k]
        if momentum != 0:
            buf[k] = gk if not started else momentum * buf[k] + (1 - dampening) * gk
            gk = gk + momentum * buf[k] if flags[0] else buf[k]
        theta[k] -= lr * gk


@numba.njit(cache=True, error_model="numpy")
def _epochs(X, y, u, orders, bounds, theta, g, buf, started, hyper, flags):  # type: ignore[no-untyped-def]
    """Epoch ``e`` steps on the batches ``orders[e, bounds[k]:bounds[k+1]]`` of rows in turn
    (``u[e]``: that epoch's weights in batch order; ``u`` empty: none). Returns the losses
    (float64, one row per epoch) of the epochs run: it stops after the first epoch with a
    non-finite loss, where the training loop stops."""
    epochs, n_batches = orders.shape[0], bounds.size - 1
    losses = np.empty((epochs, n_batches))
    w, last = theta[:-1], theta.size - 1
    for e in range(epochs):
        finite = True
        for k in range(n_batches):
            lo, hi = bounds[k], bounds[k + 1]
            uk = u[e, lo:hi] if u.size else u[0, :0]
            loss = _gathered_loss_and_grad(X, y, uk, orders[e, lo:hi], w, theta[last], g)
            _sgd(theta, g, buf, started, hyper, flags)
            started = True
            losses[e, k] = loss
            finite = finite and np.isfinite(loss)
        if not finite:
            return losses[: e + 1]
    return losses


def one_epoch_as_stored(
    n: int, u: np.ndarray | None, slices: list[slice]
) -> tuple[np.ndarray | None, list[slice], np.ndarray]:
    """``train_epochs``' last three arguments for one epoch of ``n`` rows in their stored
    order: the weights ``u`` as that epoch's row, ``slices``, and the identity order."""
    return None if u is None else u.reshape(1, -1), slices, np.arange(n).reshape(1, -1)


class NumbaLogisticRegression:
    """``theta = (w, b)`` as one NumPy array, every step one numba-compiled call (CPU only)."""

    def __init__(
        self, w: F64, b: float, *, sgd: SGDOptions, dtype: str, device: str = "cpu"
    ) -> None:
        self.arrays = NumpyArrays(dtype)
        dt = self.arrays.dtype
        self.theta = np.append(w, b).astype(dt)
        self.grad = np.zeros_like(self.theta)
        # the momentum buffers live in the library's SGD state (get_state/set_state); the
        # kernels work on one (D + 1,) buffer, copied from and back to it around each call
        self.optimizer = SGD(sgd, self.arrays)
        self.hyper = np.array([sgd.lr, sgd.momentum, sgd.dampening, sgd.weight_decay], dtype=dt)
        self.flags = np.array([sgd.nesterov, sgd.maximize, sgd.decay_bias])
        self.no_weights = np.empty(0, dtype=dt)
        self.no_buffer = np.zeros_like(self.theta)  # plain SGD: never read

    def get_params(self) -> tuple[F64, float]:
        return self.theta[:-1].astype(np.float64), float(self.theta[-1])

    def set_params(self, w: F64, b: float) -> None:
        self.theta[:-1] = w
        self.theta[-1] = b

    def probabilities(self, X: np.ndarray) -> F64:
        return sigmoid(X @ self.theta[:-1] + self.theta[-1]).astype(np.float64)

    def loss(self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None = None) -> Any:
        uu = self.no_weights if u is None else u
        return _loss_and_grad(X, y, uu, self.theta[:-1], self.theta[-1], self.grad.copy())

    def gradients(
        self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None = None
    ) -> tuple[F64, float]:
        g = np.empty_like(self.theta)
        uu = self.no_weights if u is None else u
        _loss_and_grad(X, y, uu, self.theta[:-1], self.theta[-1], g)
        return g[:-1].astype(np.float64), float(g[-1])

    def step(self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None = None) -> Any:
        return self.train_epochs(X, y, *one_epoch_as_stored(len(y), u, [slice(0, len(y))]))[0, 0]

    def train_epoch(
        self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None, slices: list[slice]
    ) -> F64:
        """One epoch on rows already in its order: ``train_epochs`` with the identity
        order."""
        losses: F64 = self.train_epochs(X, y, *one_epoch_as_stored(len(y), u, slices))[0]
        return losses

    def train_epochs(
        self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None, slices: list[slice], orders: Any
    ) -> F64:
        """Every epoch of ``orders`` (one row order per epoch) in one compiled call, the kernel
        reading each batch's rows from ``X`` where they lie; the steps' losses, one row per
        epoch, up to the first epoch with a non-finite loss."""
        bounds = np.array([s.start for s in slices] + [slices[-1].stop], dtype=np.int64)
        started, buf = self._buffer()
        uu = self.no_weights.reshape(1, 0) if u is None else u
        args = (self.theta, self.grad, buf, started, self.hyper, self.flags)
        losses: F64 = _epochs(X, y, uu, orders, bounds, *args)
        self._keep(buf)
        return losses

    def update(self, g: np.ndarray) -> None:
        """One SGD step with the gradient ``g = (dL/dw, dL/db)`` (the model's dtype)."""
        started, buf = self._buffer()
        _sgd(self.theta, g, buf, started, self.hyper, self.flags)
        self._keep(buf)

    def _keep(self, buf: np.ndarray) -> None:
        if self.hyper[1] != 0:  # the buffers now exist: hand them back to the SGD state
            self.optimizer.buffers = [buf[:-1].copy(), buf[-1:].reshape(()).copy()]

    def _buffer(self) -> tuple[bool, np.ndarray]:
        """``(started, buf)``: whether momentum buffers exist, and them as one array."""
        bw, bb = self.optimizer.buffers
        if bw is None or bb is None:
            return False, self.no_buffer if self.hyper[1] == 0 else np.zeros_like(self.theta)
        return True, np.append(bw, bb).astype(self.arrays.dtype)
