"""Hypothesis strategies for logistic-regression problems and SGD runs, and the kit's table of
edge cases; public for writing your own properties.

Every value a strategy draws is exactly representable in its ``dtype``, so a model of that
dtype stores it unchanged and the float64 references see exactly what the model sees. A
``Problem``'s ``repr`` is exact and executable: ``make_problem(...)`` with every value for a
small problem, ``gaussian_problem`` ``(...)`` (the seed that regenerates it) for a large one,
so the smallest failing input can be pasted into a test.

- ``problems``: ``N`` rows from ``N_SIZES`` (1 to 1,024, odd sizes included), ``D``
  features from ``D_SIZES`` (1 to 64), features of scale 1e-3, 1 or 1e3 (or all three in one
  matrix, ``X_SCALES``), and ``w``, ``b`` scaled so that the largest ``|z|`` is one of
  ``logit_scales``: 0, 1, 10, the dtype's ``LOGIT_LIMIT`` (just below ``exp``'s
  overflow), past that overflow (1e3, 1e4) and ``HUGE_LOGIT`` (within a factor ``2^14`` of
  the largest finite value: ``N |z|`` stays finite).
- ``saturated_problems``: every row at ``|z|`` between half the limit and
  ``HUGE_LOGIT``.
- ``integer_weights``, ``positive_weights``: sample weights;
  ``weighted_problems``: a problem with its weights (``Weighted``).
- ``runs``: SGD runs of ``RUN_STEPS`` steps with ``lr L <= 1/16``, on up to 1,024 rows
  in batches of up to all of them.
- ``edge_problems``, ``edge_weighted``, ``edge_runs``: the edge-case tier, named
  inputs every check runs on top of the drawn ones: every overflow threshold, the largest
  shapes and scales, each alone and together (``Edge``).
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

# just below exp's overflow (log of the largest finite value: 709.78 in float64, 88.72 in
# float32): the largest |z| at which exp(z) itself is finite
LOGIT_LIMIT: dict[str, float] = {"float64": 700.0, "float32": 88.0}
EXP_OVERFLOW: dict[str, float] = {
    dt: float(np.log(np.finfo(dt).max, dtype=np.float64)) for dt in ("float64", "float32")
}
# the largest |z| drawn: 2^14 below the largest finite value (2^1024, 2^128), so that the sum of
# N <= 1,024 per-row losses (each about |z|) is finite in the dtype, and the reference too
HUGE_LOGIT: dict[str, float] = {"float64": 2.0**1010, "float32": 2.0**114}
# the sizes drawn (in this order of simplicity, for shrinking): odd ones and both sides of the
# powers of two where blocked code changes path; few of them, so that code compiled per shape
# (a jitted function) compiles a few dozen times, not once per example
N_SIZES: tuple[int, ...] = (1, 2, 3, 5, 8, 32, 33, 64, 127, 1023, 1024)
D_SIZES: tuple[int, ...] = (1, 2, 3, 8, 9, 16, 64)
MAX_N = N_SIZES[-1]
MAX_D = D_SIZES[-1]
# the scale of the features: one scale for all columns, or "columns": column j at
# 1e-3, 1, 1e3, 1e-3, ... (unscaled data, as in the wild)
X_SCALES: tuple[float | str, ...] = (1.0, 1e-3, 1e3, "columns")
# a problem of at most this many values may be filled by Hypothesis's own array strategy
HYPOTHESIS_FILL_MAX = 64
RUN_STEPS = 40


def rounded(a: Any, dtype: str) -> F64:
    """``a`` rounded once to ``dtype`` and returned as float64 (exact)."""
    out: F64 = np.asarray(a, dtype=np.float64).astype(dtype).astype(np.float64)
    return out


def logit_scales(dtype: str) -> tuple[float, ...]:
    """The largest ``|z|`` a drawn problem has, simplest first: 0 (``z = 0``), 1, 10, the dtype's
    ``LOGIT_LIMIT``, past ``exp``'s overflow (1e3, 1e4) and ``HUGE_LOGIT``."""
    return (0.0, 1.0, 10.0, LOGIT_LIMIT[dtype], 1e3, 1e4, HUGE_LOGIT[dtype])


@dataclass(eq=False)
class Problem:
    """One logistic-regression problem; every value is representable in ``dtype``.
    ``recipe``: the call that regenerates it, for a problem too large to print."""

    X: F64  # (N, D)
    y: F64  # (N,) of 0.0 / 1.0
    w: F64  # (D,)
    b: float
    dtype: str
    recipe: str = field(default="", repr=False)

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        return int(self.X.shape[1])

    @property
    def z(self) -> F64:
        """The logits ``X w + b`` in float64."""
        out: F64 = self.X @ self.w + self.b
        return out

    def __repr__(self) -> str:
        if self.recipe and self.X.size > 16:
            return self.recipe
        # exact and executable: tolist() gives floats whose repr round-trips
        return (
            f"make_problem(X={self.X.tolist()!r}, y={self.y.tolist()!r}, "
            f"w={self.w.tolist()!r}, b={self.b!r}, dtype={self.dtype!r})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def rows(self, k: int) -> Problem:
        """The first ``k`` rows (same parameters)."""
        return Problem(self.X[:k], self.y[:k], self.w, self.b, self.dtype, _sliced(self, k, None))

    def features(self, k: int) -> Problem:
        """The first ``k`` features (and their weights)."""
        return Problem(
            self.X[:, :k], self.y, self.w[:k], self.b, self.dtype, _sliced(self, None, k)
        )

    def scaled(self, x_factor: float, logit_factor: float = 1.0) -> Problem:
        """``X`` times ``x_factor`` and ``w`` divided by it (the logits unchanged), then the
        logits times ``logit_factor``; factors that are powers of two keep every value exact."""
        w = rounded(self.w / x_factor * logit_factor, self.dtype)
        b = float(rounded(self.b * logit_factor, self.dtype))
        return Problem(rounded(self.X * x_factor, self.dtype), self.y, w, b, self.dtype)


def _sliced(p: Problem, rows: int | None, features: int | None) -> str:
    if not p.recipe:
        return ""
    r = "" if rows is None else f".rows({rows})"
    f = "" if features is None else f".features({features})"
    return f"{p.recipe}{r}{f}"


def make_problem(X: Any, y: Any, w: Any, b: float, dtype: str) -> Problem:
    """A ``Problem`` from plain values, rounded once to ``dtype``."""
    ya = np.asarray(y, np.float64)
    Xa = rounded(X, dtype).reshape(len(ya), -1)
    return Problem(Xa, ya, rounded(w, dtype), float(rounded(b, dtype)), dtype)


def column_scales(d: int, x_scale: float | str) -> F64:
    """The scale of each of ``d`` columns: ``x_scale`` for all, or for ``"columns"`` column
    ``j`` at ``1e-3``, ``1``, ``1e3``, ``1e-3``, ... (features left unscaled)."""
    if x_scale == "columns":
        return np.array([(1e-3, 1.0, 1e3)[j % 3] for j in range(d)])
    return np.full(d, float(x_scale))


def gaussian_problem(
    n: int,
    d: int,
    seed: int,
    *,
    x_scale: float | str = 1.0,
    logit: float = 10.0,
    labels: str = "mixed",
    dtype: str = "float64",
) -> Problem:
    """A dense problem from ``np.random.default_rng(seed)``: column ``j`` of ``X`` Gaussian with
    standard deviation half its scale (``column_scales``), clipped to the scale; ``w`` and
    ``b`` Gaussian, then scaled so that the largest ``|z|`` is ``logit`` (less where the terms
    of ``X w + b`` cancel by more than a factor 16; past ``logit = 1e4``, each column of ``X``
    is multiplied by a power of two that balances its largest ``|x|`` with its ``|w|``, so
    ``|x|^2`` and ``|w|^2`` stay finite); labels ``"zeros"``,
    ``"ones"`` or ``"mixed"`` (fair coins). Every value rounded to ``dtype``."""
    rng = np.random.default_rng(seed)
    scales = column_scales(d, x_scale)
    X = rounded(np.clip(rng.standard_normal((n, d)) * scales / 2, -scales, scales), dtype)
    w_raw, b_raw = rng.standard_normal(d) / scales, float(rng.standard_normal())
    y = {"zeros": np.zeros(n), "ones": np.ones(n)}.get(labels)
    if y is None:
        y = (rng.random(n) < 0.5).astype(np.float64)
    # the largest |z| is logit, unless the terms cancel so much that |x|.|w| + |b| would exceed
    # 16 logit (a dtype's product could overflow where the sum would not): then it is less
    S = np.abs(X) @ np.abs(w_raw) + abs(b_raw)
    z_max = max(float(np.max(np.abs(X @ w_raw + b_raw))), float(np.max(S)) / 16)
    c = 0.0 if logit == 0.0 or z_max == 0.0 else logit / z_max
    # past 1e4, each column of X takes a power of two that balances its largest |x| with its
    # |w|, so that |z| is huge while |x|^2 and |w|^2 stay finite (unscaled data, large weights)
    k = np.ones(d)
    if logit > 1e4 and c > 0.0:
        for j in range(d):
            x_j, w_j = float(np.max(np.abs(X[:, j]))), abs(float(w_raw[j]))
            if x_j > 0.0 and w_j > 0.0:
                log_ratio = math.log2(w_j) + math.log2(c) - math.log2(x_j)
                k[j] = 2.0 ** math.floor(max(log_ratio, 0.0) / 2)
    X = rounded(X * k, dtype)
    w, b = rounded(w_raw * (c / k), dtype), float(rounded(b_raw * c, dtype))
    recipe = (
        f"gaussian_problem({n}, {d}, seed={seed}, x_scale={x_scale!r}, logit={logit!r}, "
        f"labels={labels!r}, dtype={dtype!r})"
    )
    return Problem(X, y, w, b, dtype, recipe)


def _floats(bound: float, dtype: str) -> st.SearchStrategy[float]:
    """Finite floats in ``[-bound, bound]`` representable in ``dtype`` (bound rounded down)."""
    if dtype == "float32":
        b32 = np.float32(bound)
        bound = float(b32 if b32 <= bound else np.nextafter(b32, np.float32(0.0)))
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


def _sizes(sizes: tuple[int, ...], most: int) -> st.SearchStrategy[int]:
    return st.sampled_from([s for s in sizes if s <= most] or [1])


@st.composite
def problems(
    draw: st.DrawFn,
    dtype: str = "float64",
    *,
    max_n: int = MAX_N,
    max_d: int = MAX_D,
    max_logit: float | None = None,
    x_scales: tuple[float | str, ...] = X_SCALES,
) -> Problem:
    """A ``Problem`` of ``N`` rows (``N_SIZES`` up to ``max_n``) and ``D`` features
    (``D_SIZES`` up to ``max_d``), features of a scale from ``x_scales`` and a largest
    ``|z|`` from ``logit_scales`` (at most ``max_logit``, default: all of them).

    Small problems (at most ``HYPOTHESIS_FILL_MAX`` values, ``|z|`` up to 1e4) are either
    filled by Hypothesis (``|w_j| <= logit / ((D + 1) scale_j)``, so ``|z| <= logit``) or
    ``gaussian_problem``; the others are ``gaussian_problem`` (a seed, not 65,536 drawn
    values)."""
    n = draw(_sizes(N_SIZES, max_n))
    d = draw(_sizes(D_SIZES, max_d))
    x_scale = draw(st.sampled_from(x_scales))
    scales = [s for s in logit_scales(dtype) if max_logit is None or s <= max_logit]
    logit = draw(st.sampled_from(scales or [0.0]))
    if n * d > HYPOTHESIS_FILL_MAX or logit > 1e4 or draw(st.booleans()):
        seed = draw(st.integers(0, 2**32 - 1))
        kind = draw(st.sampled_from(("mixed", "zeros", "ones")))
        return gaussian_problem(n, d, seed, x_scale=x_scale, logit=logit, labels=kind, dtype=dtype)
    cols = column_scales(d, x_scale)
    X = np.column_stack([draw(matrices((n,), float(c), dtype)) for c in cols])
    y = draw(labels(n))
    w = np.array([draw(_floats(logit / ((d + 1) * c), dtype)) if logit else 0.0 for c in cols])
    b = 0.0 if logit == 0.0 else draw(_floats(logit / (d + 1), dtype))
    return Problem(X, y, w, float(b), dtype)


def saturated(n: int, d: int, t: float, y: Any, dtype: str, x: float | None = None) -> Problem:
    """Every row's logit is ``+t`` or ``-t`` (alternating): ``X`` holds ``+-x`` in its first
    column and zeros elsewhere, ``w = (t / x, 0, ...)``, ``b = 0``; labels ``y``. By default
    ``x`` is 1, or past ``t = 1e4`` a power of two near ``sqrt(t)`` (no ``|w|^2`` overflows)."""
    if x is None:
        x = 2.0 ** math.floor(math.log2(t) / 2) if t > 1e4 else 1.0
    X = np.zeros((n, d))
    X[:, 0] = np.where(np.arange(n) % 2 == 0, x, -x)
    w = np.zeros(d)
    w[0] = t / x
    return make_problem(X, np.broadcast_to(np.asarray(y, np.float64), (n,)), w, 0.0, dtype)


@st.composite
def saturated_problems(draw: st.DrawFn, dtype: str = "float64") -> Problem:
    """Every row's logit is ``+t`` or ``-t`` for one ``t`` from half the dtype's
    ``LOGIT_LIMIT`` to ``HUGE_LOGIT`` (just below and past ``exp``'s overflow, and near
    the largest finite values): ``X`` holds ``+-x`` in its first column and zeros elsewhere,
    ``w = (t / x, 0, ...)``, ``b = 0`` (``x`` as in ``saturated``); labels of either
    sign."""
    limit = LOGIT_LIMIT[dtype]
    n = draw(_sizes(N_SIZES, 64))
    d = draw(st.integers(1, 3))
    t = draw(
        st.one_of(
            st.floats(limit / 2, limit),
            st.floats(EXP_OVERFLOW[dtype], 1e4),
            st.sampled_from([1e5, 1e10, HUGE_LOGIT[dtype]]),
        )
    )
    x = 2.0 ** math.floor(math.log2(t) / 2) if t > 1e4 else 1.0
    X = np.zeros((n, d))
    X[:, 0] = (draw(hnp.arrays(np.bool_, n)).astype(np.float64) * 2 - 1) * x
    w = np.zeros(d)
    w[0] = float(rounded(t / x, dtype))
    return Problem(X, draw(labels(n)), w, 0.0, dtype)


def seeded_weights(n: int, seed: int, kind: str = "integer") -> F64:
    """``n`` sample weights from ``np.random.default_rng(seed)``: ``"integer"`` ones in
    ``0..4`` (at least one positive) or ``"positive"`` ones in ``[1/64, 64]`` (float32
    values)."""
    rng = np.random.default_rng(seed)
    if kind == "integer":
        s = rng.integers(0, 5, n).astype(np.float64)
        s[seed % n] = max(s[seed % n], 1.0)  # at least one positive
        return s
    return rounded(2.0 ** rng.uniform(-6.0, 6.0, n), "float32")


@dataclass(eq=False)
class Weighted:
    """A problem with sample weights ``s`` (one per row); ``recipe`` regenerates long ones."""

    problem: Problem
    s: F64
    recipe: str = field(default="", repr=False)

    def __repr__(self) -> str:
        s = self.recipe if self.recipe and len(self.s) > 16 else repr(self.s.tolist())
        return f"Weighted({self.problem!r}, s={s})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def rows(self, k: int) -> Weighted:
        """The first ``k`` rows and their weights."""
        return Weighted(self.problem.rows(k), self.s[:k], self.recipe and f"{self.recipe}[:{k}]")

    def with_problem(self, p: Problem) -> Weighted:
        """The same weights on ``p`` (as many rows)."""
        return Weighted(p, self.s, self.recipe)


def weighted(p: Problem, s: F64, recipe: str = "") -> Weighted:
    """``p`` with weights ``s`` (as float64)."""
    return Weighted(p, np.asarray(s, np.float64), recipe)


@st.composite
def _seeded(draw: st.DrawFn, n: int, kind: str) -> tuple[F64, str]:
    seed = draw(st.integers(0, 2**32 - 1))
    return seeded_weights(n, seed, kind), f"seeded_weights({n}, seed={seed}, kind={kind!r})"


def _weights_of(n: int, kind: str) -> st.SearchStrategy[tuple[F64, str]]:
    """Weights and the recipe that regenerates them (``""`` for drawn values)."""
    if n > HYPOTHESIS_FILL_MAX:
        return _seeded(n, kind)
    if kind == "integer":
        ints = hnp.arrays(np.int64, n, elements=st.integers(0, 4))
        arrays = ints.filter(lambda a: bool(a.any())).map(lambda a: a.astype(np.float64))
    else:
        arrays = hnp.arrays(np.float64, n, elements=st.floats(1 / 64, 64.0, width=32))
    return arrays.map(lambda a: (a, ""))


def integer_weights(n: int) -> st.SearchStrategy[F64]:
    """``n`` integer sample weights in ``0..4``, at least one positive."""
    return _weights_of(n, "integer").map(lambda w: w[0])


def positive_weights(n: int) -> st.SearchStrategy[F64]:
    """``n`` sample weights in ``[1/64, 64]`` (float32 values)."""
    return _weights_of(n, "positive").map(lambda w: w[0])


@st.composite
def weighted_problems(draw: st.DrawFn, dtype: str = "float64", kind: str = "integer") -> Weighted:
    """A ``problems`` problem with ``integer_weights`` (``kind="integer"``) or
    ``positive_weights`` (``"positive"``)."""
    p = draw(problems(dtype))
    s, recipe = draw(_weights_of(p.n, kind))
    return Weighted(p, s, recipe)


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


def run_lr(X: F64) -> float:
    """The largest power of two with ``lr L <= 1/16`` (``L``:
    ``lr_variants.testing.bounds.smoothness``)."""
    return 2.0 ** math.floor(math.log2(1.0 / (16.0 * smoothness(X))))


def make_run(problem: Problem, batch_size: int, steps: int = RUN_STEPS, seed: int = 0) -> Run:
    """An SGD run of ``steps`` steps on ``problem`` with ``run_lr``."""
    batches = batch_indices(problem.n, batch_size, steps, seed)
    return Run(problem, run_lr(problem.X), batches, batch_size, seed)


@st.composite
def runs(draw: st.DrawFn, dtype: str = "float64", *, steps: int = RUN_STEPS) -> Run:
    """An SGD run of ``steps`` steps on a problem of up to 1,024 rows and 64 features at any
    feature scale with ``|z| <= 10`` (so ``|w|, |b|`` stay moderate); batches of a size from
    ``N_SIZES`` up to ``N`` (or all ``N``); ``lr`` from ``run_lr``."""
    problem = draw(problems(dtype, max_logit=10.0))
    size = draw(st.sampled_from(sorted({s for s in N_SIZES if s < problem.n} | {problem.n})))
    return make_run(problem, size, steps, draw(st.integers(0, 2**16)))


# ======================================================================= the edge-case tier


@dataclass(frozen=True)
class Edge:
    """A named input of the edge-case tier: ``name`` says what it exercises, ``case`` is what a
    check's property receives (a ``Problem``, a ``(Problem, weights)`` pair or a
    ``Run``)."""

    name: str
    case: Any

    def __repr__(self) -> str:
        return f"edge case {self.name!r}: {self.case!r}"


def edge_problems(dtype: str) -> tuple[Edge, ...]:
    """The problems every value check runs besides the drawn ones, smallest first within each
    family: the simplest inputs, every overflow threshold of ``exp`` (just below, just past, in
    the thousands, near the largest finite values), the largest shapes, and the feature scales
    from 1e-3 to 1e3, alone and all together."""
    over = float(rounded(EXP_OVERFLOW[dtype] + 1.0, dtype))
    near_max = {"float64": 2.0**1020, "float32": 2.0**124}[dtype]

    def g(n: int, d: int, **kw: Any) -> Problem:
        return gaussian_problem(n, d, seed=n + 97 * d, dtype=dtype, **kw)

    limit = LOGIT_LIMIT[dtype]
    return (
        Edge("z = 0", make_problem([[0.5, -2.0], [1.0, 0.0]], [1, 0], [0.0, 0.0], 0.0, dtype)),
        Edge("one row", make_problem([[1.0, -0.5, 0.25]], [1], [0.5, 2.0, -1.0], -0.5, dtype)),
        Edge(f"|z| = {limit:g}, below exp's overflow", saturated(4, 1, limit, [0, 1, 1, 0], dtype)),
        Edge(
            f"|z| = {over:g}, just past exp's overflow", saturated(4, 1, over, [0, 1, 1, 0], dtype)
        ),
        Edge(
            "|z| from 1e3 to 1e4",
            make_problem(
                [[1.0], [-2.0], [5.0], [-10.0], [-1.0], [2.0], [-5.0], [10.0]],
                [0, 0, 0, 0, 1, 1, 1, 1],
                [1e3],
                0.0,
                dtype,
            ),
        ),
        Edge(
            f"|z| = 2^{int(math.log2(near_max))}, near the largest finite value",
            saturated(4, 1, near_max, [0, 1, 1, 0], dtype),
        ),
        Edge("33 rows", g(33, 2)),
        Edge("1,023 rows", g(1023, 3)),
        Edge("9 features", g(16, 9)),
        Edge("64 features", g(8, 64)),
        Edge("features of scale 1e-3", g(32, 3, x_scale=1e-3)),
        Edge("features of scale 1e3", g(32, 3, x_scale=1e3)),
        Edge("features of scales 1e-3 to 1e3", g(32, 8, x_scale="columns")),
        Edge("1,024 rows x 64 features", g(1024, 64)),
        Edge(
            "1,024 rows x 64 features of scales 1e-3 to 1e3, |z| to 1e4",
            g(1024, 64, x_scale="columns", logit=1e4),
        ),
    )


def edge_weighted(dtype: str) -> tuple[Edge, ...]:
    """Weighted problems every weighted check runs (``Weighted``): one row, many rows, many
    features, large scales, with integer weights in ``0..4`` (at least one positive)."""
    out = []
    for e in edge_problems(dtype):
        if e.name in ("one row", "33 rows", "1,023 rows", "64 features") or "1,024" in e.name:
            n = e.case.n
            recipe = f"seeded_weights({n}, seed={n})"
            out.append(Edge(e.name, Weighted(e.case, seeded_weights(n, n), recipe)))
    return tuple(out)


def edge_runs(dtype: str, steps: int = RUN_STEPS) -> tuple[Edge, ...]:
    """SGD runs every optimizer check runs: batches past 32 rows, a full batch of 1,024 rows,
    a last batch of one row, 64 features, feature scales 1e-3 and 1e3."""

    def g(n: int, d: int, **kw: Any) -> Problem:
        return gaussian_problem(n, d, seed=n + 97 * d, dtype=dtype, logit=5.0, **kw)

    return (
        Edge("batches of 33 rows", make_run(g(99, 3), 33, steps)),
        Edge("one batch of 1,024 rows", make_run(g(1024, 4), 1024, steps)),
        Edge("batches of 64 rows, the last of 1", make_run(g(257, 2), 64, steps)),
        Edge("64 features", make_run(g(48, 64), 48, steps)),
        Edge("features of scale 1e-3", make_run(g(40, 3, x_scale=1e-3), 8, steps)),
        Edge("features of scale 1e3", make_run(g(40, 3, x_scale=1e3), 8, steps)),
    )
