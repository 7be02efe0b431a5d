"""The numpy variant tuned (``create("numpy", ..., impl="fast")``): the same formulas, fewer calls.

With ``z = X w + b`` and ``p = sigmoid(z)``::

    L     = mean(max(z, 0) - z y + log1p(exp(-|z|)))   # = mean BCE(y, p), stable for any z
    dL/dz = (p - y) / N
    dL/dw = X^T (p - y) / N
    dL/db = mean(p - y)
    w <- w - lr dL/dw,   b <- b - lr dL/db    (plain SGD; lr_variants._sgd has the full rule)

How the code computes it, with few NumPy calls per step (on a batch of 32 each call costs more
than its arithmetic): ``theta = (w, b)`` is one vector (``w`` and ``b`` are views into it),
and ``X`` arrives as ``[X, 1]``, row-major (``NumpyArrays(bias_column=True)``), so
``z = X @ theta`` and ``(dL/dw, dL/db) = (p - y) @ X / N`` are one call each (``np.dot``; above
4,096 rows ``np.einsum``, which reads a row-major X faster than OpenBLAS's gemv). With
``sign = 1 - 2y`` (+1 where y = 0, -1 where y = 1) and ``t = sign z``, each row's loss is
``softplus(t) = log(1 + e^t)`` (``-log(1 - p)`` for y = 0, ``-log p`` for y = 1; one
``np.logaddexp(t, 0)``, or above 4,096 rows ``max(t, 0) + log1p(exp(-|t|))`` in vectorized
ufuncs, faster there) and ``p - y = sign sigmoid(t) = sign / (1 + e^-t)``, both to full relative
precision. ``t`` is clamped below at ``-T`` (``T = 88`` in float32, ``709`` in float64), where
``e^T`` is still finite and ``softplus`` and ``sigmoid`` are below the smallest normal number:
the clamp changes them by less than that; a non-finite ``z`` (overflowed parameters) makes the
loss NaN. Plain SGD folds ``lr / N`` into one in-place update of ``theta``.

Large data (``lr_variants._backends.keeps_layout``: above 64 MB, or memory-mapped) arrive as
given, without the bias column (no copy of ``X``); a batch of them above ``LARGE_BATCH`` rows
is then read once per step (``FastNumpyLogisticRegression.read_once``): for each block of
``m`` rows (``READ_BLOCK_ELEMENTS`` elements, cache-sized) its logits, losses and residuals,
then its share of ``X^T r`` and ``sum(r)`` while the block is still in cache, summed over the
blocks in float64. The sums are taken in another order than a whole-batch pass: a block's sum
of ``m`` terms has error at most ``m eps sum|terms|`` (``eps`` of the model's dtype; NumPy's
pairwise sum, and the BLAS's dot, are within that), and the float64 sum over ``k`` blocks adds
``k eps64 sum|terms|``: in all ``|error| <= (m + k) eps sum|terms|``, as for any blocked sum.
With more than one thread in force (the thread policy gives a large batch every core,
``lr_variants._threads``), contiguous runs of blocks are read in parallel, one per thread (NumPy
releases the GIL in its ufuncs and BLAS calls, each on one BLAS thread), and their float64
partial sums added in a fixed order: the same blocked sum, within the same bound.

With normalized sample weights ``u`` (``lr_variants._weights``): ``L = u . l``,
``dL/dw = X^T (u (p - y))``, ``dL/db = u . (p - y)`` (a batch
of zero total weight gives ``L = 0`` and zero gradients).

This module imports no torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lr_variants._backends import READ_BLOCK_ELEMENTS, NumpyArrays
from lr_variants._sgd import SGD, SGDOptions
from lr_variants._threads import block_runs, in_force, map_runs, sum_runs
from lr_variants._validate import F64, row_blocks
from lr_variants.textbook.numpy import sigmoid

# rows above which a batch takes the large-batch paths (einsum, vectorized softplus, a pairwise
# sum); below it, one call costs less than several
LARGE_BATCH = 4096


class FastNumpyLogisticRegression:
    """Hand-written gradients and update on NumPy arrays (CPU only), ``theta = (w, b)``."""

    def __init__(
        self, w: F64, b: float, *, sgd: SGDOptions, dtype: str, device: str = "cpu"
    ) -> None:
        self.arrays = NumpyArrays(dtype, bias_column=True)
        self.optimizer = SGD(sgd, self.arrays)
        self.plain, self.lr = sgd.plain, sgd.lr
        self.theta = np.zeros(len(w) + 1, dtype=self.arrays.dtype)  # (w, b)
        self.w = self.theta[:-1]
        self.b = self.theta[-1:].reshape(())  # a 0-d view
        # T = floor(log(largest float)): e^T is finite, sigmoid(-T) and softplus(-T) < tiny
        self.t_min = -float(np.floor(np.log(np.finfo(dtype).max)))
        self.uniform: dict[int, np.ndarray] = {}  # N -> N copies of 1/N
        self.set_params(w, b)

    def get_params(self) -> tuple[F64, float]:
        theta = self.theta.astype(np.float64)
        return theta[:-1], float(theta[-1])

    def set_params(self, w: F64, b: float) -> None:
        self.theta[:] = np.append(w, b)

    def probabilities(self, X: np.ndarray) -> F64:
        z = X @ self.theta if X.shape[1] == len(self.theta) else X @ self.w + self.b
        return sigmoid(z).astype(np.float64)

    def read_once(self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None) -> tuple[Any, Any]:
        """``(L, g)`` with ``g = (X^T r, sum(r))``, reading ``X`` (without a
        bias column) once, a cache-sized block of rows at a time, summed in float64."""
        n = len(y)
        block = max(1, READ_BLOCK_ELEMENTS // max(1, X.shape[1]))
        # contiguous runs of whole blocks, one per thread of the policy's (lr_variants._threads)
        runs = block_runs(n, block, in_force())

        def run(rows: slice) -> tuple[float, F64]:
            g = np.zeros(len(self.theta))
            return self._read_blocks(X[rows], y[rows], None if u is None else u[rows], g), g

        parts = map_runs(run, runs)  # summed in the runs' order: a fixed order
        total, g = sum_runs([t for t, _ in parts]), np.sum([g for _, g in parts], axis=0)
        loss = self.arrays.dtype(total / n if u is None else total)
        return loss, g.astype(self.arrays.dtype)

    def _read_blocks(self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None, g: F64) -> float:
        total = 0.0
        for rows in row_blocks(len(y), X.shape[1], READ_BLOCK_ELEMENTS):
            block = X[rows]  # a view: a memory map is read here, a block at a time
            z = np.dot(block, self.w)
            z += self.b
            terms, r = self._terms_and_residual(z, y[rows], True)
            if u is None:
                total += float(np.add.reduce(terms))
            else:
                total += float(np.dot(terms, u[rows]))
                r *= u[rows]
            g[:-1] += np.dot(r, block)
            g[-1] += float(np.add.reduce(r))
        return total

    def _terms_and_residual(
        self, t: np.ndarray, y: np.ndarray, large: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each row's loss and ``p - y`` from the logits ``t`` (overwritten)."""
        sign = y + y
        np.subtract(1.0, sign, out=sign)  # 1 - 2y: +1 where y = 0, -1 where y = 1
        t *= sign
        # NaN where z is not finite (the parameters overflowed): the loss then says so, as the
        # other variants' formulas do, and train() stops
        nan_if_infinite = t * 0.0
        np.maximum(t, self.t_min, out=t)
        if large:  # softplus(t) in 5 vectorized ufuncs: faster than np.logaddexp
            terms = np.abs(t)
            np.negative(terms, out=terms)
            np.exp(terms, out=terms)
            np.log1p(terms, out=terms)
            terms += np.maximum(t, nan_if_infinite, out=nan_if_infinite)  # + max(t, 0)
        else:  # a small batch: one call costs less than five
            terms = np.logaddexp(t, nan_if_infinite)  # softplus(t): each row's loss
        np.negative(t, out=t)  # in place from here on: fewer 4 MB temporaries at N = 1e6
        np.exp(t, out=t)
        t += 1.0
        r = np.divide(sign, t, out=t)  # sign / (1 + e^-t) = sign sigmoid(t) = p - y
        return terms, r

    def _loss_and_gradient(
        self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None, gradient: bool = True
    ) -> tuple[Any, Any]:
        """``(L, g)`` with ``g = (X^T r, sum(r))`` and ``r = p - y`` (``u (p - y)`` with
        normalized weights ``u``), or ``(L, None)`` without ``gradient``. Written as one function
        on purpose: on a batch of 32 each Python call adds to a step's overhead, beside
        arithmetic that costs little."""
        n, theta = len(y), self.theta
        large = n > LARGE_BATCH
        bias_column = X.shape[1] == len(theta)
        if large and not bias_column:  # data kept as given: read X once, in blocks
            return self.read_once(X, y, u)
        # z = X w + b; a large batch: einsum reads a row-major X faster than the BLAS
        if bias_column:
            z = np.einsum("ij,j->i", X, theta) if large else np.dot(X, theta)
        else:
            z = np.dot(X, self.w)
            z += self.b
        terms, r = self._terms_and_residual(z, y, large)
        if u is not None:
            r *= u
            loss = np.dot(terms, u)
        elif large:  # a large batch: pairwise summation, more accurate than a dot
            loss = np.add.reduce(terms) / n
        else:  # a small batch: the mean as one dot product with cached 1/N (faster)
            mean = self.uniform.get(n)
            if mean is None:
                mean = self.uniform[n] = np.full(n, 1.0 / n, dtype=self.arrays.dtype)
            loss = np.dot(terms, mean)
        if not gradient:
            return loss, None
        # (X^T r, sum(r)); a large batch: einsum reads a row-major X faster than the BLAS
        if bias_column:
            return loss, np.einsum("i,ij->j", r, X) if large else np.dot(r, X)
        g = np.empty_like(theta)
        g[:-1] = np.dot(r, X)
        g[-1] = np.add.reduce(r)
        return loss, g

    def loss(self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None = None) -> Any:
        return self._loss_and_gradient(X, y, u, gradient=False)[0]

    def gradients(
        self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None = None
    ) -> tuple[F64, float]:
        g = self._loss_and_gradient(X, y, u)[1]
        if u is None:
            g /= len(y)
        return g[:-1].astype(np.float64), float(g[-1])

    def step(self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None = None) -> Any:
        loss, g = self._loss_and_gradient(X, y, u)
        if self.plain:  # theta <- theta - lr g / N: one scaling, one update
            g *= self.lr if u is not None else self.lr / len(y)
            self.theta -= g
        else:
            if u is None:
                g /= len(y)
            self.optimizer.step([self.w, self.b], [g[:-1], g[-1]])
        return loss
