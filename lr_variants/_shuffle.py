"""The row orders of [`batch_plan`][lr_variants.training.batch_plan]'s ``"shuffle"`` source:
``rng.permutation(n)`` once per epoch from ``rng = np.random.default_rng(seed)``, one epoch
at a time (iteration) or many at once (``Permutations.take``, for the variants that train many
epochs per call).

``take`` draws with a compiled twin of NumPy's draw (``lr_variants._shuffle_numba``) where
numba is installed: the same orders and the same generator state after, several times
faster. NumPy's algorithm is its own (``Generator`` promises no stream across releases), so
the twin is checked against NumPy's draw once per process before its first use, and a twin
that disagrees, or that cannot be compiled, is not used: ``take`` then calls NumPy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

# numba's twin handles n up to 2^32 (NumPy draws 64-bit values beyond)
TWIN_MAX_ROWS = 1 << 32
_U64 = (1 << 64) - 1

Draw = Callable[[np.ndarray, np.ndarray], None]
_twin: list[Draw | None] = []  # the twin once loaded and checked, or None: decided once


class Permutations(Iterator[np.ndarray]):
    """``epochs`` orders ``rng.permutation(n_samples)`` from ``np.random.default_rng(seed)``."""

    def __init__(self, n_samples: int, epochs: int, seed: int) -> None:
        self.n, self.left = n_samples, epochs
        self.rng = np.random.default_rng(seed)

    def __next__(self) -> np.ndarray:
        if self.left <= 0:
            raise StopIteration
        self.left -= 1
        return self.rng.permutation(self.n)

    def take(self, k: int) -> np.ndarray:
        """The next ``min(k, epochs left)`` orders as one ``(k, n)`` int64 array: what as
        many ``next`` calls return, leaving the generator in the same state."""
        k = max(0, min(k, self.left))
        # NumPy draws nothing for fewer than 2 rows; beyond 2^32 it draws 64-bit values
        draw = twin() if 2 <= self.n <= TWIN_MAX_ROWS and k else None
        if draw is None:
            return np.array([next(self) for _ in range(k)], dtype=np.int64).reshape(k, self.n)
        out = np.empty((k, self.n), dtype=np.int64)
        drawn_with(draw, self.rng, out)
        self.left -= k
        return out


def drawn_with(draw: Draw, rng: np.random.Generator, out: np.ndarray) -> None:
    """``draw`` on ``rng``'s PCG64 state (hi, lo, inc_hi, inc_lo, has_uint32, uinteger), then
    that state moved on, written back to ``rng``."""
    state = dict(rng.bit_generator.state)
    s, inc = state["state"]["state"], state["state"]["inc"]
    words = [s >> 64, s & _U64, inc >> 64, inc & _U64, state["has_uint32"], state["uinteger"]]
    packed = np.array(words, dtype=np.uint64)
    draw(packed, out)
    state["state"] = {"state": (int(packed[0]) << 64) | int(packed[1]), "inc": inc}
    state["has_uint32"], state["uinteger"] = int(packed[4]), int(packed[5])
    rng.bit_generator.state = state


def twin() -> Draw | None:
    """The compiled twin, loaded and checked against NumPy on the first call; None where
    numba is missing, the twin does not compile, or it disagrees with NumPy."""
    if not _twin:
        _twin.append(_checked_twin())
    return _twin[0]


def _checked_twin() -> Draw | None:
    try:
        from lr_variants._shuffle_numba import draw
    except Exception:  # numba missing, or a numba whose API the twin's module no longer fits
        return None
    if np.random.default_rng(0).bit_generator.state["bit_generator"] != "PCG64":
        return None
    try:
        return draw if agrees(draw) else None
    except Exception:  # any failure to compile or run the optional twin: NumPy's draw instead
        return None


def agrees(draw: Draw) -> bool:
    """Whether ``draw`` gives NumPy's orders and final state: sizes across powers of two,
    and draws that start with a kept half value and with none."""
    mine, numpy_ = np.random.default_rng(20261207), np.random.default_rng(20261207)
    for n, k in ((1, 2), (2, 3), (37, 3), (64, 1), (65, 2), (1000, 2)):
        out = np.empty((k, n), dtype=np.int64)
        drawn_with(draw, mine, out)
        if not all(np.array_equal(row, numpy_.permutation(n)) for row in out):
            return False
    return bool(mine.bit_generator.state == numpy_.bit_generator.state)


def stacked(
    orders: Iterator[np.ndarray | None], k: int, n: int, as_stored: np.ndarray | None = None
) -> np.ndarray:
    """The next up to ``k`` orders of ``orders`` as one ``(k, n)`` int64 array (``arange(n)``
    for an epoch whose rows stay as stored, ``None``); ``(0, n)`` when none are left. When
    every one is ``None``, a read-only view of one ``arange(n)`` (``as_stored`` where given,
    so that a caller drawing many chunks makes it once), not ``k`` copies of it."""
    if isinstance(orders, Permutations):
        return orders.take(k)
    perms = [perm for _, perm in zip(range(k), orders, strict=False)]
    if not perms:
        return np.empty((0, n), dtype=np.int64)
    identity = np.arange(n, dtype=np.int64) if as_stored is None else as_stored
    if all(perm is None for perm in perms):
        return np.broadcast_to(identity, (len(perms), n))
    rows = [identity if perm is None else perm for perm in perms]
    return np.array(rows, dtype=np.int64).reshape(len(rows), n)
