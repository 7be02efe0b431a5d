"""Hypothesis strategies for logistic-regression problems and SGD runs, public for writing
your own properties.

Every value a strategy draws is exactly representable in its ``dtype``, so a model of that
dtype stores it unchanged and the float64 references see exactly what the model sees. A
:class:`Problem`'s ``repr`` is exact and executable (``make_problem(...)``), so the smallest
failing input Hypothesis finds can be pasted into a test.

- :func:`problems`: ``N`` in ``1..max_n`` rows, ``D`` in ``1..max_d``, ``|x| <= 1``, and ``w``,
  ``b`` scaled so that ``|z| <= max_logit``, drawn from ``0`` (``z = 0``), ``1``, ``10`` and the
  dtype's :data:`LOGIT_LIMIT` (far into saturation: ``exp(700)`` is near float64's largest value,
  ``exp(88)`` near float32's).
- :func:`saturated_problems`: every row at ``|z|`` between half the limit and the limit.
- :func:`integer_weights`, :func:`positive_weights`: sample weights.
- :func:`runs`: SGD runs of :data:`RUN_STEPS` steps with ``lr L <= 1/16``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import strategies as st

from lr_variants._validate import F64
from lr_variants.testing.bounds import smoothness

LOGIT_LIMIT: dict[str, float] = {"float64": 700.0, "float32": 88.0}
MAX_N = 32
MAX_D = 8
RUN_STEPS = 40


def rounded(a: Any, dtype: str) -> F64:
    """``a`` rounded once to ``dtype`` and returned as float64 (exact)."""
    out: F64 = np.asarray(a, dtype=np.float64).astype(dtype).astype(np.float64)
    return out


@dataclass(eq=False)
class Problem:
    """One logistic-regression problem; every value is representable in ``dtype``."""

    X: F64  # (N, D)
    y: F64  # (N,) of 0.0 / 1.0
    w: F64  # (D,)
    b: float
    dtype: str

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        return int(self.X.shape[1])

    def __repr__(self) -> str:
        # exact and executable: tolist() gives floats whose repr round-trips
        return (
            f"make_problem(X={self.X.tolist()!r}, y={self.y.tolist()!r}, "
            f"w={self.w.tolist()!r}, b={self.b!r}, dtype={self.dtype!r})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def make_problem(X: Any, y: Any, w: Any, b: float, dtype: str) -> Problem:
    """A :class:`Problem` from plain values, rounded once to ``dtype``."""
    ya = np.asarray(y, np.float64)
    Xa = rounded(X, dtype).reshape(len(ya), -1)
    return Problem(Xa, ya, rounded(w, dtype), float(rounded(b, dtype)), dtype)


def _floats(bound: float, dtype: str) -> st.SearchStrategy[float]:
    """Finite floats in ``[-bound, bound]`` representable in ``dtype`` (bound rounded down)."""
    if dtype == "float32":
        b32 = np.float32(bound)
        bound = float(b32 if b32 <= bound else np.nextafter(b32, np.float32(0.0)))
    if dtype == "float32":
        return st.floats(-bound, bound, width=32, allow_nan=False, allow_infinity=False)
    return st.floats(-bound, bound, allow_nan=False, allow_infinity=False)


@st.composite
def matrices(draw: st.DrawFn, shape: tuple[int, ...], scale: float, dtype: str) -> F64:
    """A float64 array of ``shape`` with ``|entries| <= scale``, representable in ``dtype``:
    either a dense seeded Gaussian (realistic rounding) or Hypothesis's own array fill (zeros,
    bounds, subnormals, values that shrink well)."""
    if scale == 0.0:
        return np.zeros(shape)
    if draw(st.booleans()):
        seed = draw(st.integers(0, 2**32 - 1))
        a = np.random.default_rng(seed).standard_normal(shape) * (scale / 2)
        clipped: F64 = np.clip(rounded(a, dtype), -scale, scale)
        return rounded(clipped, dtype)
    np_dtype = np.float32 if dtype == "float32" else np.float64
    out: F64 = np.asarray(
        draw(hnp.arrays(np_dtype, shape, elements=_floats(scale, dtype))), np.float64
    )
    return out


def labels(n: int) -> st.SearchStrategy[F64]:
    """``n`` labels: all 0, all 1, or mixed."""
    return st.one_of(
        st.just(np.zeros(n)),
        st.just(np.ones(n)),
        hnp.arrays(np.bool_, n).map(lambda a: a.astype(np.float64)),
    )


@st.composite
def problems(
    draw: st.DrawFn,
    dtype: str = "float64",
    *,
    max_n: int = MAX_N,
    max_d: int = MAX_D,
    max_logit: float | None = None,
) -> Problem:
    """A :class:`Problem` with ``|x| <= 1`` and ``|z| <= max_logit`` (default: the dtype's
    :data:`LOGIT_LIMIT`): ``|w_j|, |b| <= scale / (D + 1)`` for a drawn logit scale."""
    limit = LOGIT_LIMIT[dtype] if max_logit is None else max_logit
    n = draw(st.integers(1, max_n))
    d = draw(st.integers(1, max_d))
    X = draw(matrices((n, d), 1.0, dtype))
    y = draw(labels(n))
    scale = draw(st.sampled_from([s for s in (0.0, 1.0, 10.0, limit) if s <= limit]))
    w = draw(matrices((d,), scale / (d + 1), dtype))
    b = 0.0 if scale == 0.0 else draw(_floats(scale / (d + 1), dtype))
    return Problem(X, y, w, float(b), dtype)


@st.composite
def saturated_problems(draw: st.DrawFn, dtype: str = "float64") -> Problem:
    """Every row's logit is ``+t`` or ``-t`` for one ``t`` in ``[limit / 2, limit]`` (the
    dtype's :data:`LOGIT_LIMIT`): ``X`` holds ``+-1`` in its first column and zeros elsewhere,
    ``w = (t, 0, ...)``, ``b = 0``; labels of either sign."""
    limit = LOGIT_LIMIT[dtype]
    n = draw(st.integers(1, 8))
    d = draw(st.integers(1, 3))
    t = float(rounded(draw(st.floats(limit / 2, limit)), dtype))
    X = np.zeros((n, d))
    X[:, 0] = draw(hnp.arrays(np.bool_, n)).astype(np.float64) * 2 - 1
    w = np.zeros(d)
    w[0] = t
    return Problem(X, draw(labels(n)), w, 0.0, dtype)


def integer_weights(n: int) -> st.SearchStrategy[F64]:
    """``n`` integer sample weights in ``0..4``, at least one positive."""
    ints = hnp.arrays(np.int64, n, elements=st.integers(0, 4))
    return ints.filter(lambda a: bool(a.any())).map(lambda a: a.astype(np.float64))


def positive_weights(n: int) -> st.SearchStrategy[F64]:
    """``n`` sample weights in ``[1/64, 64]`` (float32 values)."""
    elements = st.floats(1 / 64, 64.0, width=32)
    return hnp.arrays(np.float64, n, elements=elements)


@dataclass(eq=False)
class Run:
    """An SGD run: a problem (``w``, ``b`` the initial parameters), a learning rate (a power of
    two, so exact in every dtype) and the row indices of each step's batch."""

    problem: Problem
    lr: float
    batches: list[np.ndarray] = field(repr=False)
    batch_size: int = 1
    seed: int = 0

    def __repr__(self) -> str:
        return (
            f"Run({self.problem!r}, lr={self.lr!r}, batch_size={self.batch_size}, "
            f"seed={self.seed}, steps={len(self.batches)})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def batch_indices(n: int, batch_size: int, steps: int, seed: int) -> list[np.ndarray]:
    """``steps`` batches of consecutive slices of a fresh permutation of ``n`` rows per epoch
    (``np.random.default_rng(seed)``)."""
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    while len(out) < steps:
        order = rng.permutation(n)
        out += [order[i : i + batch_size] for i in range(0, n, batch_size)]
    return out[:steps]


@st.composite
def runs(draw: st.DrawFn, dtype: str = "float64", *, steps: int = RUN_STEPS) -> Run:
    """An SGD run of ``steps`` steps on a problem with ``|x| <= 1``, ``|w|, |b| <= 1``, ``N``
    in ``1..16``, ``D`` in ``1..4``; ``lr`` the largest power of two with ``lr L <= 1/16``
    (``L``: :func:`lr_variants.testing.bounds.smoothness`)."""
    problem = draw(problems(dtype, max_n=16, max_d=4, max_logit=float(4 + 1)))
    lr = 2.0 ** math.floor(math.log2(1.0 / (16.0 * smoothness(problem.X))))
    batch_size = draw(st.integers(1, problem.n))
    seed = draw(st.integers(0, 2**16))
    return Run(problem, lr, batch_indices(problem.n, batch_size, steps, seed), batch_size, seed)
