"""The numba variant tuned (``create("numba", ..., impl="fast")``): a large batch read once.

The formulas are the textbook kernels' (``lr_variants.textbook.numba_kernels``), with
``z_i = x_i . w + b``, ``p_i = sigmoid(z_i)`` and row weights ``u_i`` (``1/N``, or the
normalized sample weights)::

    L     = sum_i u_i (max(z_i, 0) - z_i y_i + log1p(exp(-|z_i|)))
    dL/dw = sum_i r_i x_i,   dL/db = sum_i r_i,   r_i = u_i (p_i - y_i)

and the update is the same compiled SGD rule. Batches of fewer than ``LARGE_BATCH_VALUES``
values (rows x features; the thread policy's threshold, ``lr_variants._threads``) run the
textbook kernels, every epoch in one compiled call. A larger batch is where reading ``X``
from memory is the cost, and a step here is one pass over the batch's rows, a tile of
``TILE_BYTES`` at a time (``tile_rows``), so that each row comes from memory once:

1. ``z_i`` for the tile's rows (``logits``): each row read from memory once;
2. each row's loss term and ``p_i - y_i`` (``_terms_float32``, ``_terms_float64``);
3. ``acc += r_i x_i`` for the tile's rows (``gradient``), while they are still in cache.

A tile of rows that lie one after another in ``X`` is read where it lies (the full batch,
unshuffled); any other is first gathered into a tile-sized buffer.

Steps 1 and 3 are compiled with the number of features ``D`` and the tile's rows as constants
(``_pass_for``: kernels made per ``D`` on first use and kept in numba's on-disk cache), so the
compiler unrolls and vectorizes their loops whole; they may sum in any order (``fastmath``
reassociation and fused multiply-adds, nothing else): the dot product's error is at most
``D eps sum_j |x_ij w_j|`` (``eps`` of the model's dtype) in any order, the bound of the
textbook's sequential sum. Step 2 computes each row in float64, as the textbook kernels do,
from ``e = exp(-|z|)`` and ``q = 1 + e``: the loss term is ``max(z, 0) - z y + log1p(e)``
and ``p - y`` is ``+sigmoid(z)`` (y = 0) or ``-sigmoid(-z)`` (y = 1), ``1/q`` or ``e/q``, to
full relative precision. In float32 its ``exp`` and ``log1p`` are the vectorizable
polynomials of ``lr_variants.tuned._elementary`` (within ``1e-9`` relative, so each rounded
result is within one float32 ulp of the correctly rounded one); in float64, the C library's
``exp`` and the textbook kernels' ``_log1p``. ``r_i`` is then rounded to the model's dtype
and ``acc`` kept in it over a tile of ``m`` rows, then added into a float64 sum: over ``k``
tiles the gradient's error is at most ``(m + k + 1) eps sum_i |r_i x_i|``, as for any blocked
sum (``lr_variants.tuned.numpy_fast`` has the same bound); the loss terms are summed in
float64. With more than one thread in force (the thread policy gives a large batch every
core), contiguous runs of the batch's rows are read in parallel, one per thread (the
kernels release the GIL), and their float64 partial sums added in a fixed order.

An optional extra, like the textbook kernels: ``pip install 'lr_variants[numba]'``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

try:
    import numba
except ImportError as exc:  # an optional extra: say how to get it
    raise ImportError("the numba variant needs numba: pip install 'lr_variants[numba]'") from exc

from lr_variants._sgd import SGDOptions
from lr_variants._threads import LARGE_BATCH_VALUES, block_runs, in_force, map_runs, sum_runs
from lr_variants._validate import F64
from lr_variants.textbook.numba_kernels import NumbaLogisticRegression, _log1p, as_stored
from lr_variants.tuned._elementary import exp_neg, log1p_unit

# bytes of X per tile: a tile's rows stay in a core's L2 cache between their two reads
TILE_BYTES = 1 << 18
# sums may be reordered and products fused; nothing else is relaxed (NaN and infinity keep
# their meaning)
_REORDER = {"reassoc", "contract"}


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _terms_float32(z, y, u, t, r):  # type: ignore[no-untyped-def]
    """Each row's loss term (into ``t``, float64) and ``r_i = u_i (p_i - y_i)`` (into ``r``)
    from the logits ``z`` (``u`` empty: unweighted), with ``exp_neg`` and ``log1p_unit``."""
    for k in range(z.size):
        zk, yk = np.float64(z[k]), np.float64(y[k])
        e = exp_neg(-abs(zk))
        term = max(zk, 0.0) - zk * yk + log1p_unit(e)
        rk = (1.0 if (zk >= 0) == (yk == 0) else e) / (1.0 + e) * (1.0 - yk - yk)
        weight = u[k] if u.size else 1.0
        t[k] = weight * term
        r[k] = weight * rk


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _terms_float64(z, y, u, t, r):  # type: ignore[no-untyped-def]
    """``_terms_float32`` with the C library's ``exp`` and the textbook's ``_log1p``."""
    for k in range(z.size):
        zk, yk = np.float64(z[k]), np.float64(y[k])
        e = np.exp(-abs(zk))
        term = max(zk, 0.0) - zk * yk + _log1p(e)
        rk = (1.0 if (zk >= 0) == (yk == 0) else e) / (1.0 + e) * (1.0 - yk - yk)
        weight = u[k] if u.size else 1.0
        t[k] = weight * term
        r[k] = weight * rk


@numba.njit(nogil=True, cache=True, fastmath=_REORDER)
def _sum(a):  # type: ignore[no-untyped-def]
    """``a``'s sum in float64, in any order."""
    s = 0.0
    for k in range(a.size):
        s += a[k]
    return s


@numba.njit(nogil=True, cache=True)
def _consecutive(rows):  # type: ignore[no-untyped-def]
    """Whether ``rows`` are consecutive ascending integers (stops at the first that is not)."""
    for k in range(1, rows.size):
        if rows[k] != rows[0] + k:
            return False
    return True


@functools.cache
def _pass_for(d: int, dtype: str, tile: int) -> tuple[Any, Any]:
    """The kernels for ``d`` features in ``dtype``, ``tile`` rows per tile (compile-time
    constants): ``(one_pass, gathered_pass)``."""
    terms = _terms_float32 if dtype == "float32" else _terms_float64

    @numba.njit(nogil=True, cache=True, error_model="numpy", fastmath=_REORDER)
    def logits(X, w, b, z):  # type: ignore[no-untyped-def]
        for i in range(X.shape[0]):
            s = X.dtype.type(0)
            for j in range(d):
                s += X[i, j] * w[j]
            z[i] = s + b

    @numba.njit(nogil=True, cache=True, error_model="numpy", fastmath=_REORDER)
    def gradient(X, r, acc):  # type: ignore[no-untyped-def]
        for i in range(X.shape[0]):
            ri = r[i]
            for j in range(d):
                acc[j] += ri * X[i, j]

    @numba.njit(nogil=True, cache=True, error_model="numpy")
    def one_pass(X, y, u, w, b, g):  # type: ignore[no-untyped-def]
        """All of ``X``'s rows (weights ``u``; ``u`` empty: unweighted sums), a tile at a
        time: returns the sum of their loss terms; adds that of their gradients into ``g``
        (float64, ``d + 1``)."""
        z = np.empty(tile, dtype=X.dtype)
        t = np.empty(tile)
        r = np.empty(tile, dtype=X.dtype)
        acc = np.empty(d, dtype=X.dtype)
        loss, n = 0.0, X.shape[0]
        for t0 in range(0, n, tile):
            m = min(tile, n - t0)
            acc[:] = 0
            Xt = X[t0 : t0 + m]
            logits(Xt, w, b, z[:m])  # the tile's rows read from memory
            terms(z[:m], y[t0 : t0 + m], u[t0 : t0 + m] if u.size else u, t[:m], r[:m])
            gradient(Xt, r[:m], acc)  # the same rows, still in cache
            loss += _sum(t[:m])
            g[d] += _sum(r[:m])
            for j in range(d):  # the tile's sums, into float64
                g[j] += acc[j]
        return loss

    @numba.njit(nogil=True, cache=True, error_model="numpy")
    def gathered_pass(X, y, u, rows, w, b, g):  # type: ignore[no-untyped-def]
        """``one_pass`` on the rows ``X[rows]``, gathered a tile at a time into a buffer."""
        Xg = np.empty((tile, d), dtype=X.dtype)
        yg = np.empty(tile, dtype=y.dtype)
        loss = 0.0
        for t0 in range(0, rows.size, tile):
            m = min(tile, rows.size - t0)
            for k in range(m):
                Xg[k, :] = X[rows[t0 + k], :]
                yg[k] = y[rows[t0 + k]]
            loss += one_pass(Xg[:m], yg[:m], u[t0 : t0 + m] if u.size else u, w, b, g)
        return loss

    return one_pass, gathered_pass


class FastNumbaLogisticRegression:
    """The textbook kernels (``kernels``, which hold ``theta`` and the SGD state) for small
    batches; one pass per step, over as many threads as are in force, for large ones."""

    def __init__(
        self, w: F64, b: float, *, sgd: SGDOptions, dtype: str, device: str = "cpu"
    ) -> None:
        self.kernels = NumbaLogisticRegression(w, b, sgd=sgd, dtype=dtype, device=device)
        self.arrays, self.optimizer = self.kernels.arrays, self.kernels.optimizer

    def get_params(self) -> tuple[F64, float]:
        return self.kernels.get_params()

    def set_params(self, w: F64, b: float) -> None:
        self.kernels.set_params(w, b)

    def probabilities(self, X: np.ndarray) -> F64:
        return self.kernels.probabilities(X)

    def loss(self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None = None) -> Any:
        if not _large(len(y), X.shape[1]):
            return self.kernels.loss(X, y, u)
        return self.arrays.dtype(self.read_once(X, y, u, np.arange(len(y)))[0])

    def gradients(
        self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None = None
    ) -> tuple[F64, float]:
        if not _large(len(y), X.shape[1]):
            return self.kernels.gradients(X, y, u)
        g = self.read_once(X, y, u, np.arange(len(y)))[1]
        return g[:-1], float(g[-1])

    def step(self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None = None) -> Any:
        return self.train_epochs(X, y, *as_stored(len(y), u, [slice(0, len(y))]))[0, 0]

    def train_epoch(
        self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None, slices: list[slice]
    ) -> F64:
        """One epoch on rows already in its order: ``train_epochs`` with the identity order."""
        losses: F64 = self.train_epochs(X, y, *as_stored(len(y), u, slices))[0]
        return losses

    def train_epochs(
        self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None, slices: list[slice], orders: Any
    ) -> F64:
        """Every epoch of ``orders`` (one row order per epoch): all in one compiled call
        when every batch is small, else one pass and one update per batch; the steps'
        losses, one row per epoch, up to the first epoch with a non-finite loss."""
        largest = max(s.stop - s.start for s in slices)
        if not _large(largest, X.shape[1]):
            return self.kernels.train_epochs(X, y, u, slices, orders)
        losses = np.empty((len(orders), len(slices)))
        dtype = self.arrays.dtype
        for e, order in enumerate(orders):
            for k, s in enumerate(slices):
                uk = None if u is None else u[e, s]
                loss, g = self.read_once(X, y, uk, order[s])
                losses[e, k] = loss
                self.kernels.update(g.astype(dtype))
            if not np.isfinite(losses[e]).all():
                return losses[: e + 1]
        return losses

    def read_once(
        self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None, rows: np.ndarray
    ) -> tuple[float, F64]:
        """``(L, g)`` on the rows ``X[rows]``, ``g = (dL/dw, dL/db)`` in float64: one pass,
        contiguous runs of ``rows`` in parallel over the threads in force."""
        d, dtype = X.shape[1], self.arrays.dtype.__name__
        tile = tile_rows(d, dtype)
        one_pass, gathered_pass = _pass_for(d, dtype, tile)
        theta = self.kernels.theta
        w, b = theta[:-1], theta[-1]
        uu = self.kernels.no_weights if u is None else u

        def run(part: slice) -> tuple[float, F64]:
            g, mine, um = np.zeros(len(theta)), rows[part], uu[part] if uu.size else uu
            if _consecutive(mine):  # read where they lie
                first = int(mine[0])
                lie = slice(first, first + len(mine))
                return one_pass(X[lie], y[lie], um, w, b, g), g
            return gathered_pass(X, y, um, mine, w, b, g), g

        # contiguous runs of the batch, one per thread in force, summed in the runs' order
        parts = map_runs(run, block_runs(len(rows), tile, in_force()))
        g = parts[0][1]
        for _, more in parts[1:]:
            g += more
        loss = sum_runs([loss for loss, _ in parts])
        if u is None:  # the plain mean: the sums over N
            g /= len(rows)
            loss /= len(rows)
        return loss, g


def tile_rows(d: int, dtype: str) -> int:
    """Rows per tile: ``TILE_BYTES`` of ``d`` features in ``dtype`` (at least one)."""
    return max(1, TILE_BYTES // (d * np.dtype(dtype).itemsize))


def _large(rows: int, features: int) -> bool:
    """Whether a batch takes the one-pass path (the thread policy's large batch)."""
    return rows * features >= LARGE_BATCH_VALUES
