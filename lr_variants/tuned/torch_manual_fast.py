"""The torch_manual variant tuned (``create("torch_manual", ..., impl="fast")``): fewer torch calls.

No autograd: the parameters are plain tensors (``requires_grad=False``), so torch records no
graph, and the gradient is the formula itself::

    z = X w + b,   p = sigmoid(z)
    L = binary_cross_entropy_with_logits(z, y)   # mean(max(z,0) - z y + log1p(e^-|z|))
    dL/dw = X^T (p - y) / N,   dL/db = mean(p - y)

With sample weights ``s`` and ``u = s / sum(s)``: ``L = u . l``, ``dL/dw = X^T (u (p - y))``,
``dL/db = u . (p - y)``.

Set beside ``"autograd"`` it measures what autograd costs; run on CUDA it shows the same
arithmetic on a GPU. The update is ``torch.optim.SGD``'s rule written by hand
(``lr_variants._sgd``).

How the code computes it, in 7 torch calls per plain SGD step (each has its dispatch cost on the
CPU however small the batch): ``theta = (w, b)`` is one tensor (``w`` and ``b`` are views into it)
and ``X`` arrives as ``[X, 1]``, column-major (``TorchArrays(bias_column=True)``), so
``z = X theta`` is one ``mv``. With ``t = (1 - 2y) z = z - 2 y z`` (one ``addcmul``; NaN where
``z`` is not finite, so that overflowed parameters show in the loss), each row's loss is
``softplus(t) = logaddexp(t, 0)`` (``-log(1 - p)`` for y = 0, ``-log p`` for y = 1) and
``p - y = (1 - 2y) sigmoid(t)`` (another ``addcmul``), both to full relative precision; the
mean is a dot product with ``1/N``, and plain SGD is one ``theta.addmv_(X^T, p - y,
alpha=-lr/N)``.

Large data (``lr_variants._backends.keeps_layout``: above 64 MB, or memory-mapped) arrive as
given, row-major and without the bias column (a float32 C-contiguous array, or a memory map of
one, is shared, not copied): ``z = addmv(b, X, w)``, and on the CPU a batch above
``LARGE_BATCH`` rows is read once per step (``FastTorchManualLogisticRegression.read_once``):
per cache-sized block of ``m`` rows its logits, losses, residuals and its share of ``X^T r``
(one ``addmv_`` into the running sum) and ``sum(r)``. Over ``k`` blocks the sums are blocked
sums: ``|error| <= (m + k) eps sum|terms|`` (``eps`` of the model's dtype), the bound
``tests/test_scale.py`` checks against the textbook variant. With more than one thread in force
(the thread policy gives a large batch every core, ``lr_variants._threads``), contiguous runs
of blocks are read in parallel, one per thread, each worker's torch calls on one intra-op
thread (a block's element-wise calls are too small for torch to share among threads, so left
to torch one block's per-row work ran on one core), and the runs' sums are added in a fixed
order: the same blocked sum, within the same bound.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lr_variants._backends import READ_BLOCK_ELEMENTS, TorchArrays
from lr_variants._sgd import SGD, SGDOptions
from lr_variants._threads import block_runs, in_force, map_runs, sum_runs
from lr_variants._validate import F64, row_blocks

LARGE_BATCH = 4096  # rows above which the mean is torch's (pairwise), not a dot with 1/N


class FastTorchManualLogisticRegression:
    """Plain tensors ``w`` (shape ``(D,)``) and ``b`` (shape ``()``), closed-form gradients."""

    def __init__(self, w: F64, b: float, *, sgd: SGDOptions, dtype: str, device: str) -> None:
        self.arrays = TorchArrays(dtype, device, bias_column=True)
        self.optimizer = SGD(sgd, self.arrays)
        self.plain, self.lr = sgd.plain, sgd.lr
        like: dict[str, Any] = {"dtype": self.arrays.dtype, "device": self.arrays.device}
        self.theta = torch.zeros(len(w) + 1, **like)  # (w, b)
        self.w = self.theta[:-1]
        self.b = self.theta[-1]  # a 0-d view
        self.zero = torch.zeros((), **like)
        self.uniform: dict[int, torch.Tensor] = {}  # N -> N copies of 1/N: a mean as a dot
        self.set_params(w, b)

    def get_params(self) -> tuple[F64, float]:
        theta = self.arrays.to_numpy(self.theta)
        return theta[:-1], float(theta[-1])

    def set_params(self, w: F64, b: float) -> None:
        self.arrays.assign(self.theta, np.append(w, b))

    def probabilities(self, X: torch.Tensor) -> F64:
        return self.arrays.to_numpy(torch.sigmoid(self._logits(X)))

    def _logits(self, X: torch.Tensor) -> torch.Tensor:
        """``z = X w + b``: one ``mv`` with ``[X, 1]``, or one ``addmv`` (large data)."""
        if X.shape[1] == self.theta.shape[0]:
            return X.mv(self.theta)
        return torch.addmv(self.b, X, self.w)

    def _product(self, X: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        """``(X^T r, sum(r))`` as one vector."""
        if X.shape[1] == self.theta.shape[0]:
            return X.t().mv(r)
        return torch.cat([X.t().mv(r), r.sum().reshape(1)])

    def _read_once_applies(self, X: torch.Tensor, n: int) -> bool:
        small = n <= LARGE_BATCH or X.shape[1] == self.theta.shape[0]
        return not small and X.device.type == "cpu"

    def read_once(
        self, X: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(L, (X^T r, sum(r)) scaled)`` reading ``X`` (no bias column) once, in blocks:
        contiguous runs of whole blocks, one per thread of the policy's, each run's torch
        calls on one intra-op thread; the runs' sums added in their order (a fixed order)."""
        n = y.shape[0]
        block = max(1, READ_BLOCK_ELEMENTS // max(1, X.shape[1]))
        runs = block_runs(n, block, in_force())

        def run(rows: slice) -> tuple[float, torch.Tensor]:
            g = torch.zeros_like(self.theta)
            return self._read_blocks(X[rows], y[rows], None if u is None else u[rows], g), g

        parts = map_runs(run, runs, torch_calls=True)
        total = sum_runs([t for t, _ in parts])
        g = parts[0][1] if len(parts) == 1 else torch.stack([g for _, g in parts]).sum(0)
        scale = 1.0 / n if u is None else 1.0
        return torch.tensor(total * scale, dtype=self.theta.dtype), g.mul_(scale)

    def _read_blocks(
        self, X: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None, g: torch.Tensor
    ) -> float:
        """The loss terms' sum (in float64) over ``X``'s rows, block by block, adding each
        block's ``(X^T r, sum(r))`` into ``g``."""
        gw, gb = g[:-1], g[-1]
        total = torch.zeros((), dtype=torch.float64)
        for rows in row_blocks(y.shape[0], X.shape[1], READ_BLOCK_ELEMENTS):
            block, yb = X[rows], y[rows]
            t = torch.addmv(self.b, block, self.w)
            t.addcmul_(yb, t, value=-2.0)  # (1 - 2y) z
            terms = torch.logaddexp(t, self.zero)
            r = torch.sigmoid(t, out=t)
            r.addcmul_(yb, r, value=-2.0)  # p - y
            if u is None:
                total += terms.sum(dtype=torch.float64)
            else:
                total += terms.dot(u[rows]).double()
                r.mul_(u[rows])
            gw.addmv_(block.t(), r)
            gb += r.sum()
        return float(total)

    def _loss_and_residual(
        self, X: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, float]:
        """``(L, r, scale)``: ``r = p - y`` (times ``u = s / sum(s)`` with sample weights) and
        the scale that makes ``X^T r`` the gradient (``1/N``; 1 with weights)."""
        n = y.shape[0]
        z = self._logits(X)  # X w + b
        t = z.addcmul_(y, z, value=-2.0)  # in place: (1 - 2y) z
        terms = torch.logaddexp(t, self.zero)  # softplus(t): each row's loss
        scale = 1.0 / n
        if u is not None:
            scale = 1.0
            loss = terms.dot(u)
        elif n > LARGE_BATCH:  # a large batch: torch's mean, more accurate than a dot
            loss = terms.mean()
        else:  # a small batch: the mean as one dot product (faster)
            mean = self.uniform.get(n)
            if mean is None:
                mean = self.uniform[n] = torch.full((n,), 1.0 / n, dtype=y.dtype, device=y.device)
            loss = terms.dot(mean)
        r = torch.sigmoid(t, out=terms)  # in place from here on: fewer temporaries at N = 1e6
        r.addcmul_(y, r, value=-2.0)  # (1 - 2y) sigmoid(t) = p - y
        return loss, r if u is None else r.mul_(u), scale

    def loss(self, X: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        if self._read_once_applies(X, y.shape[0]):
            return self.read_once(X, y, u)[0]
        return self._loss_and_residual(X, y, u)[0]

    def gradients(
        self, X: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None = None
    ) -> tuple[F64, float]:
        if self._read_once_applies(X, y.shape[0]):
            g = self.read_once(X, y, u)[1]
        else:
            _, r, scale = self._loss_and_residual(X, y, u)
            g = self._product(X, r).mul_(scale)  # (X^T r, sum(r)) scaled
        return self.arrays.to_numpy(g[:-1]), float(g[-1])

    def step(self, X: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None = None) -> Any:
        n = y.shape[0]
        if self.plain and u is None and n in self.uniform and X.shape[1] == self.theta.shape[0]:
            # the hot path: _loss_and_residual's statements inlined (one Python call fewer)
            z = X.mv(self.theta)
            t = z.addcmul_(y, z, value=-2.0)
            terms = torch.logaddexp(t, self.zero)
            loss = terms.dot(self.uniform[n])
            r = torch.sigmoid(t, out=terms)
            self.theta.addmv_(X.t(), r.addcmul_(y, r, value=-2.0), alpha=-self.lr / n)
            return loss
        if self._read_once_applies(X, n):
            loss, g = self.read_once(X, y, u)
        else:
            loss, r, scale = self._loss_and_residual(X, y, u)
            if self.plain and X.shape[1] == self.theta.shape[0]:  # one addmv_
                self.theta.addmv_(X.t(), r, alpha=-self.lr * scale)
                return loss
            g = self._product(X, r).mul_(scale)
        if self.plain:
            self.theta.add_(g, alpha=-self.lr)
        else:
            self.optimizer.step([self.w, self.b], [g[:-1], g[-1]])
        return loss
