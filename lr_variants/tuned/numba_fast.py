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
2. each row's loss term and ``p_i - y_i`` (``_terms``);
3. ``acc += r_i x_i`` for the tile's rows (``gradient``), while they are still in cache.

A tile of rows that lie one after another in ``X`` is read where it lies (the full batch,
unshuffled); any other is first gathered into a tile-sized buffer.

Steps 1 and 3 are compiled with the number of features ``D`` and the tile's rows as constants
(``_pass_for``: kernels made per ``D`` on first use and kept in numba's on-disk cache), so the
compiler unrolls and vectorizes their loops whole; they may sum in any order (``fastmath``
reassociation and fused multiply-adds, nothing else): the dot product's error is at most
``D eps sum_j |x_ij w_j|`` (``eps`` of the model's dtype) in any order, the bound of the
textbook's sequential sum (a sum that overflows in one order may not in another, so a model
whose logits pass the dtype's range can stop as diverged a step later than the textbook's).
Step 2 computes each row in float64 from ``e = exp(-|z|)`` and ``q = 1 + e``: the loss
term is ``max(z, 0) - z y + log1p(e)`` and ``p - y`` is ``+sigmoid(z)`` (y = 0) or
``-sigmoid(-z)`` (y = 1), ``1/q`` or ``e/q``, to full relative precision. In float32 its
``exp`` and ``log1p`` are the vectorizable polynomials ``exp_neg`` and ``log1p_unit``
(within ``1e-9`` relative, so each rounded result is within one float32 ulp of the
correctly rounded one; the textbook kernels' float32 model takes ``exp`` in float32); in
float64, the C library's
``exp`` and ``log`` as in the textbook kernels. ``r_i`` is then rounded to the model's dtype
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

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from lr_variants._sgd import SGDOptions
from lr_variants._threads import LARGE_BATCH_VALUES, block_runs, in_force, map_runs, sum_runs
from lr_variants._validate import F64
from lr_variants.textbook.numba_kernels import NumbaLogisticRegression, one_epoch_as_stored

# bytes of X per tile: a tile's rows stay in a core's L2 cache between their two reads
TILE_BYTES = 1 << 18
# sums may be reordered and products fused; nothing else is relaxed (NaN and infinity keep
# their meaning)
_REORDER = {"reassoc", "contract"}
_STORED = np.empty(0, dtype=np.int64)  # one_pass's rows: X's rows as stored


# exp and log1p for float32 models, as float64 polynomials with no calls or branches, which
# the compiler vectorizes (a loop that calls the C library's exp or log runs one value per
# call). ERROR bounds their relative error (the truncation bounds in their docstrings plus
# float64 rounding, with room to spare; the test suite holds them to it): a float32 result
# rounded once from them is within one float32 ulp of the correctly rounded value.
ERROR = 1e-9
LN2_HI = 0.693145751953125  # ln 2 to 16 bits: k * LN2_HI is exact for |k| < 2^37
LN2_LO = 1.4286068203094173e-06  # ln 2 - LN2_HI
INV_LN2 = 1.4426950408889634
ROUNDER = 6755399441055744.0  # 1.5 * 2^52: (v + ROUNDER) - ROUNDER rounds v to an integer
SMALLEST = -745.0  # exp(-745) is float64's smallest subnormal


def _pow2_typed(typingctx: Any, k: Any) -> Any:
    """``2^k`` for an integer ``-1022 <= k <= 1023``: the float64 with exponent field
    ``k + 1023`` and a zero fraction."""
    sig = types.float64(types.int64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        i64 = ir.IntType(64)
        bits = builder.shl(builder.add(args[0], ir.Constant(i64, 1023)), ir.Constant(i64, 52))
        return builder.bitcast(bits, ir.DoubleType())

    return sig, codegen


_pow2: Any = intrinsic(_pow2_typed)


@numba.njit(cache=True, error_model="numpy", inline="always")
def exp_neg(x):  # type: ignore[no-untyped-def]
    """``exp(x)`` for ``x <= 0`` (float64) as straight-line arithmetic, within ``ERROR``
    relative where the result is a normal number (``x >= -708``), within ``2^-1074`` below.

    With ``k = round(x / ln 2)`` and ``r = x - k ln 2`` (``ln 2`` split into a 16-bit head,
    so that ``k * LN2_HI`` is exact, and a tail: Cody and Waite), ``|r| <= ln(2)/2`` and
    ``exp(x) = 2^k exp(r)``. ``exp(r)`` is its Taylor polynomial to ``r^9/9!``: the remainder
    is below ``(ln(2)/2)^10 / 10! * e^(ln(2)/2) < 1e-11`` relative. ``2^k`` is built from its
    bits, as two factors so that each is a normal number down to ``exp(-745)`` (float64's
    smallest subnormal); ``x`` is clamped there (NaN stays NaN). The rounding to an integer
    by ``ROUNDER`` needs exact float64 arithmetic: no ``fastmath`` here or in a caller that
    inlines it."""
    x = max(x, SMALLEST) if x == x else x
    kf = (x * INV_LN2 + ROUNDER) - ROUNDER
    r = (x - kf * LN2_HI) - kf * LN2_LO
    p = 1 / 362880  # exp(r) = sum of r^i / i! for i = 0..9, by Horner's rule
    p = 1 / 40320 + r * p
    p = 1 / 5040 + r * p
    p = 1 / 720 + r * p
    p = 1 / 120 + r * p
    p = 1 / 24 + r * p
    p = 1 / 6 + r * p
    p = 1 / 2 + r * p
    p = 1.0 + r * p
    p = 1.0 + r * p
    k = int(kf) if x == x else 0
    half = k // 2
    return p * _pow2(half) * _pow2(k - half)


@numba.njit(cache=True, error_model="numpy", inline="always")
def log1p_unit(e):  # type: ignore[no-untyped-def]
    """``log(1 + e)`` for ``0 <= e <= 1`` (float64) as straight-line arithmetic, within
    ``ERROR`` relative where ``e`` is a normal number, within ``2^-1074`` below.

    With ``s = e / (2 + e)`` (``0 <= s <= 1/3``), ``log(1 + e) = 2 atanh(s) =
    2 (s + s^3/3 + s^5/5 + ...)``, summed to ``s^17/17``: the rest is below
    ``(1/9)^9 / 19 * 9/8 < 2e-10`` relative. ``s`` carries two roundings (``2 + e`` and the
    division), a few ``1e-16``."""
    s = e / (2.0 + e)
    t = s * s
    series = 1 / 15 + t * (1 / 17)  # by Horner's rule
    series = 1 / 13 + t * series
    series = 1 / 11 + t * series
    series = 1 / 9 + t * series
    series = 1 / 7 + t * series
    series = 1 / 5 + t * series
    series = 1 / 3 + t * series
    return 2.0 * s * (1.0 + t * series)


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _terms(z, y, u, mean, t, r, polynomials):  # type: ignore[no-untyped-def]
    """Each row's loss term (into ``t``, float64) and ``r_i = u_i (p_i - y_i)`` (into ``r``)
    from the logits ``z``, with ``u_i = u[i]``, or ``mean`` where ``u`` is empty. With
    ``polynomials`` (float32 models), ``exp`` and ``log1p`` by ``exp_neg`` and
    ``log1p_unit``; else the C library's ``exp`` and ``log``, ``log1p(e)`` as
    ``log(q) + ((1 - q) + e) / q`` with ``q = fl(1 + e)`` (the textbook kernels' ``_log1p``,
    within two ulps)."""
    for k in range(z.size):
        zk, yk = np.float64(z[k]), np.float64(y[k])
        e = exp_neg(-abs(zk)) if polynomials else np.exp(-abs(zk))
        q = 1.0 + e
        softplus = log1p_unit(e) if polynomials else np.log(q) + ((1.0 - q) + e) / q
        term = max(zk, 0.0) - zk * yk + softplus
        rk = (1.0 if (zk >= 0) == (yk == 0) else e) / q * (1.0 - yk - yk)
        weight = u[k] if u.size else mean
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


@numba.njit(nogil=True, cache=True, error_model="numpy", fastmath=_REORDER)
def _logits(A, m, d, w, b, z):  # type: ignore[no-untyped-def]
    """``z[i] = A[i] . w + b`` for the first ``m`` rows of ``A`` (``d`` features), summed in
    any order."""
    for i in range(m):
        s = A.dtype.type(0)
        for j in range(d):
            s += A[i, j] * w[j]
        z[i] = s + b


@numba.njit(nogil=True, cache=True, error_model="numpy", fastmath=_REORDER)
def _gradient(A, m, d, r, acc):  # type: ignore[no-untyped-def]
    """``acc = sum_i r[i] A[i]`` over the first ``m`` rows of ``A`` (``d`` features), in any
    order."""
    acc[:] = 0
    for i in range(m):
        ri = r[i]
        for j in range(d):
            acc[j] += ri * A[i, j]


@functools.cache
def _pass_for(d: int, tile: int, float32: bool) -> Any:
    """The pass for ``d`` features and ``tile`` rows per tile, with ``_terms``' polynomials
    in float32. The three are compile-time constants of the closure (the compiler
    inlines ``_logits`` and ``_gradient`` with ``d`` known, and unrolls and vectorizes their
    loops whole); the closure holds plain values only, which numba's on-disk cache keys the
    compiled code by."""

    @numba.njit(nogil=True, cache=True, error_model="numpy")
    def one_pass(X, y, u, mean, rows, w, b, g):  # type: ignore[no-untyped-def]
        """The rows of ``X`` as stored (``rows`` empty), or the rows ``X[rows]`` gathered a
        tile at a time into a buffer; weights ``u`` (or ``mean`` each, ``u`` empty). Returns
        the sum of their loss terms; adds that of their gradients into ``g`` (float64,
        ``d + 1``)."""
        z = np.empty(tile, dtype=w.dtype)
        t = np.empty(tile)
        r = np.empty(tile, dtype=w.dtype)
        acc = np.empty(d, dtype=w.dtype)
        Xg = np.empty((tile if rows.size else 0, d), dtype=X.dtype)
        yg = np.empty(tile if rows.size else 0, dtype=y.dtype)

        def tile_pass(A, ys, us, m):  # type: ignore[no-untyped-def]
            _logits(A, m, d, w, b, z)  # the rows read from memory
            _terms(z[:m], ys, us, mean, t[:m], r[:m], float32)  # each row's term, residual
            _gradient(A, m, d, r, acc)  # the same rows, still in cache
            for j in range(d):  # the tile's sums, into float64
                g[j] += acc[j]
            g[d] += _sum(r[:m])
            return _sum(t[:m])

        loss = 0.0
        n = rows.size if rows.size else X.shape[0]
        for t0 in range(0, n, tile):
            m = min(tile, n - t0)
            us = u[t0 : t0 + m] if u.size else u
            if rows.size:
                for k in range(m):
                    Xg[k, :] = X[rows[t0 + k], :]
                    yg[k] = y[rows[t0 + k]]
                loss += tile_pass(Xg, yg[:m], us, m)  # type: ignore[no-untyped-call]
            else:
                loss += tile_pass(X[t0 : t0 + m], y[t0 : t0 + m], us, m)  # type: ignore[no-untyped-call]
        return loss

    return one_pass


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
        return self.train_epochs(X, y, *one_epoch_as_stored(len(y), u, [slice(0, len(y))]))[0, 0]

    def train_epoch(
        self, X: np.ndarray, y: np.ndarray, u: np.ndarray | None, slices: list[slice]
    ) -> F64:
        """One epoch on rows already in its order: ``train_epochs`` with the identity order."""
        losses: F64 = self.train_epochs(X, y, *one_epoch_as_stored(len(y), u, slices))[0]
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
        one_pass = _pass_for(d, tile, dtype == "float32")
        theta = self.kernels.theta
        w, b = theta[:-1], theta[-1]
        uu = self.kernels.no_weights if u is None else u
        mean = 1.0 / len(rows)  # each row's weight without sample weights (scaled per row,
        # as the textbook kernels do: a tile's sum of unscaled terms could overflow)

        def run(part: slice) -> tuple[float, F64]:
            g, mine, um = np.zeros(len(theta)), rows[part], uu[part] if uu.size else uu
            if _consecutive(mine):  # read where they lie
                lie = slice(int(mine[0]), int(mine[0]) + len(mine))
                return one_pass(X[lie], y[lie], um, mean, _STORED, w, b, g), g
            return one_pass(X, y, um, mean, mine, w, b, g), g

        # contiguous runs of the batch, one per thread in force, summed in the runs' order
        parts = map_runs(run, block_runs(len(rows), tile, in_force()))
        g = parts[0][1]
        for _, more in parts[1:]:
            g += more
        loss = sum_runs([loss for loss, _ in parts])
        return loss, g


def tile_rows(d: int, dtype: str) -> int:
    """Rows per tile: ``TILE_BYTES`` of ``d`` features in ``dtype`` (at least one)."""
    return max(1, TILE_BYTES // (d * np.dtype(dtype).itemsize))


def _large(rows: int, features: int) -> bool:
    """Whether a batch takes the one-pass path (the thread policy's large batch)."""
    return rows * features >= LARGE_BATCH_VALUES
