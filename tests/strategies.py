"""Hypothesis strategies for logistic-regression problems ``(X, y, w, b)`` and SGD runs.

A :class:`Problem` holds float64 arrays whose values are exactly representable in the problem's
``dtype`` (drawn with ``width=32`` for float32, or rounded once by :func:`make_problem`), so a
model of that dtype stores them unchanged and the float64 references in ``tests/reference.py``
see exactly the inputs the model sees.

Shapes: ``N`` in ``1..64`` rows, ``D`` in ``1..16`` features. Scales: the largest ``|x|``,
``|w|`` and ``|b|`` of a problem are drawn from a list of powers of ten up to ``1e3``, so logits
reach about ``+-1.6e7`` (``D * 1e3 * 1e3``); each scale list contains ``0`` so that ``z = 0``
(and ``w = 0``) comes up regularly. Labels are all 0, all 1, or mixed.

Two ways to fill ``X``: Hypothesis's own array strategy (sparse fills of "nasty" floats: bounds,
zero, subnormals, values that shrink well) or a dense seeded Gaussian matrix rounded to the
dtype (realistic data whose float32 rounding errors do not cancel by luck).

This module and the shipped kit's ``lr_variants/testing/strategies.py`` share the shape of
``Problem`` and ``make_problem`` on purpose: the library's own suite keeps its generator
independent of the kit it ships, so that a bug in the kit's strategies cannot hide one in the
library (and the other way round).

``EDGE_PROBLEMS`` pins the edges every general property runs first (:func:`edge_examples`):
``z = 0``, ``|z|`` at float32's sigmoid saturation (~16.64) and at ``exp`` overflow (~88.72),
one sample, one feature, the largest scales.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import example
from hypothesis import strategies as st

DTYPES: tuple[str, ...] = ("float32", "float64")
MAX_N = 64
MAX_D = 16
# the largest |x|, |w|, |b| a general problem may hold (so |z| <= MAX_D * 1e3 * 1e3 + 1e3)
SCALES: tuple[float, ...] = (0.0, 1e-2, 1.0, 10.0, 1e3)

# float32 logits where the article's form changes behaviour (measured with torch 2.x on CPU,
# pinned in tests/test_properties.py::test_article_loss_departs_exactly_at_pinned_thresholds)
Z_SIGMOID_ONE_F32 = float(np.float32(16.635532))  # smallest float32 z with sigmoid(z) == 1
Z_SIGMOID_ZERO_F32 = float(np.float32(-88.72284))  # largest float32 z with sigmoid(z) == 0

F = TypeVar("F", bound=Callable[..., Any])


def rounded(a: Any, dtype: str) -> np.ndarray:
    """``a`` rounded once to ``dtype`` and returned as float64 (exact)."""
    return np.asarray(a, dtype=np.float64).astype(dtype).astype(np.float64)


@dataclass(eq=False)
class Problem:
    """One logistic-regression problem; every value is representable in ``dtype``."""

    X: np.ndarray  # (N, D) float64
    y: np.ndarray  # (N,) float64 of 0.0 / 1.0
    w: np.ndarray  # (D,) float64
    b: float
    dtype: str

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        return int(self.X.shape[1])

    def __repr__(self) -> str:
        # executable, and exact: tolist() gives floats whose repr round-trips
        return (
            f"make_problem(X={self.X.tolist()!r}, y={self.y.tolist()!r}, "
            f"w={self.w.tolist()!r}, b={self.b!r}, dtype={self.dtype!r})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Hypothesis prints falsifying examples with this (not its dataclass printer, which
        shows arrays to 8 digits): the exact, executable repr."""
        printer.text(repr(self))


def make_problem(
    X: Sequence[Sequence[float]] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    w: Sequence[float] | np.ndarray,
    b: float,
    dtype: str,
) -> Problem:
    """A :class:`Problem` from plain values, rounded once to ``dtype``."""
    Xa = rounded(X, dtype).reshape(len(y), -1)
    return Problem(
        Xa, np.asarray(y, np.float64), rounded(w, dtype), float(rounded(b, dtype)), dtype
    )


def _floats(bound: float, dtype: str) -> st.SearchStrategy[float]:
    """Finite floats in ``[-bound, bound]`` representable in ``dtype`` (the bound rounded
    towards zero when ``dtype`` cannot hold it exactly)."""
    if dtype == "float32":
        b32 = np.float32(bound)
        bound = float(b32 if b32 <= bound else np.nextafter(b32, np.float32(0.0)))
    return st.floats(
        -bound,
        bound,
        width=32 if dtype == "float32" else 64,
        allow_nan=False,
        allow_infinity=False,
    )


@st.composite
def matrices(draw: st.DrawFn, shape: tuple[int, ...], scale: float, dtype: str) -> np.ndarray:
    """A float64 array of ``shape`` with ``|entries| <= scale``, representable in ``dtype``."""
    if scale == 0.0:
        return np.zeros(shape)
    if draw(st.booleans()):  # dense, seeded Gaussian, clipped to the scale
        seed = draw(st.integers(0, 2**32 - 1))
        a = np.random.default_rng(seed).standard_normal(shape) * (scale / 2)
        return rounded(np.clip(a, -scale, scale), dtype)
    np_dtype = np.float32 if dtype == "float32" else np.float64
    a = draw(hnp.arrays(np_dtype, shape, elements=_floats(scale, dtype)))
    return np.asarray(a, dtype=np.float64)


def labels(n: int) -> st.SearchStrategy[np.ndarray]:
    """``n`` labels: all 0, all 1, or mixed."""
    return st.one_of(
        st.just(np.zeros(n)),
        st.just(np.ones(n)),
        hnp.arrays(np.bool_, n).map(lambda a: a.astype(np.float64)),
    )


@st.composite
def problems(
    draw: st.DrawFn,
    *,
    dtypes: Sequence[str] = DTYPES,
    max_n: int = MAX_N,
    max_d: int = MAX_D,
    x_scales: Sequence[float] = SCALES,
    w_scales: Sequence[float] = SCALES,
    b_scales: Sequence[float] = SCALES,
) -> Problem:
    """A :class:`Problem`: dtype, shape, then each of ``X``, ``w``, ``b`` at a drawn scale."""
    dtype = draw(st.sampled_from(list(dtypes)))
    n = draw(st.integers(1, max_n))
    d = draw(st.integers(1, max_d))
    X = draw(matrices((n, d), draw(st.sampled_from(list(x_scales))), dtype))
    y = draw(labels(n))
    w = draw(matrices((d,), draw(st.sampled_from(list(w_scales))), dtype))
    b_scale = draw(st.sampled_from(list(b_scales)))
    b = 0.0 if b_scale == 0.0 else draw(_floats(b_scale, dtype))
    return Problem(X, y, w, float(b), dtype)


def moderate_problems(dtypes: Sequence[str] = ("float64",)) -> st.SearchStrategy[Problem]:
    """Problems with ``|x| <= 3``, ``|w| <= 2``, ``|b| <= 2`` (so ``|z| <= 98``): where central
    finite differences and ``torch.autograd.gradcheck`` are accurate."""
    return problems(
        dtypes=dtypes, x_scales=(0.1, 1.0, 3.0), w_scales=(0.0, 0.1, 1.0, 2.0), b_scales=(0.0, 2.0)
    )


@st.composite
def unsaturated_problems(draw: st.DrawFn, dtypes: Sequence[str] = DTYPES) -> Problem:
    """Problems whose logits all lie in ``[-25, 12]``: ``|x| <= 1``, ``|w| <= 11 / D``,
    ``-13 <= b <= 0.5``. There float32's sigmoid neither rounds to 1 (z >= 16.64) nor drops
    ``p (1 - p)`` below ``nn.BCELoss``'s 1e-12 (z < -27.63), and ``4 eps32 e^z < 0.08``."""
    dtype = draw(st.sampled_from(list(dtypes)))
    n = draw(st.integers(1, MAX_N))
    d = draw(st.integers(1, MAX_D))
    X = draw(matrices((n, d), 1.0, dtype))
    y = draw(labels(n))
    # (a dense draw rounded to float32 may exceed 11/d by half an ulp: |z| <= 11.5 still holds)
    w = draw(matrices((d,), draw(st.sampled_from([0.0, 1.0 / d, 11.0 / d])), dtype))
    b = draw(st.floats(-13.0, 0.5, width=32 if dtype == "float32" else 64))
    return Problem(X, y, w, float(b), dtype)


@st.composite
def extreme_float32_problems(draw: st.DrawFn) -> Problem:
    """float32 problems up to the largest magnitudes whose loss can be finite at all.

    ``(|x| max, |w| max)`` ranges over pairs whose product is at most ``1e35``, and
    ``|b| <= 1e35``, so ``|z| <= 16 * 1e35 + 1e35 = 1.7e36`` and the sum of 64 per-sample
    losses (``<= |z| + log 2`` each) stays below float32's max (3.4e38): larger logits overflow
    the mean's running sum in any float32 implementation, so "finite" cannot be asked of them.
    """
    pairs = [(1e35, 1.0), (1.0, 1e35), (1e17, 1e18), (1e-20, 1e35), (1e3, 1e3), (1e-30, 1e-8)]
    x_scale, w_scale = draw(st.sampled_from(pairs))
    n = draw(st.integers(1, MAX_N))
    d = draw(st.integers(1, MAX_D))
    X = draw(matrices((n, d), x_scale, "float32"))
    y = draw(labels(n))
    w = draw(matrices((d,), w_scale, "float32"))
    b = draw(st.one_of(st.just(0.0), _floats(1e35, "float32")))
    return Problem(X, y, w, float(b), "float32")


# ------------------------------------------------------------------ SGD runs


@dataclass(eq=False)
class Run:
    """A training run: a problem (``w``, ``b`` are the initial parameters), a learning rate
    and the batch plan ``(epochs, batch_size, seed)`` of ``lr_variants.batches``."""

    problem: Problem
    lr: float
    epochs: int
    batch_size: int
    seed: int

    def __repr__(self) -> str:
        return (
            f"Run({self.problem!r}, lr={self.lr!r}, epochs={self.epochs}, "
            f"batch_size={self.batch_size}, seed={self.seed})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


MAX_STEPS = 200


def smoothness_bound(X: np.ndarray) -> float:
    """An upper bound on the Lipschitz constant of the gradient of the mean logistic loss on any
    subset of the rows of ``X``: the Hessian is ``Xt^T diag(p (1 - p)) Xt / N`` with
    ``Xt = [X, 1]`` and ``p (1 - p) <= 1/4``, so ``L <= max_i (|x_i|^2 + 1) / 4``."""
    return float(np.max(np.sum(X * X, axis=1)) + 1.0) / 4.0


@st.composite
def runs(draw: st.DrawFn, dtypes: Sequence[str] = DTYPES) -> Run:
    """An SGD run of at most 200 steps with ``lr * L <= 1`` (so each step is non-expansive).

    ``lr = frac / L`` with ``frac`` in ``{1, 0.5, 0.1, 0.01}`` and ``L`` the
    :func:`smoothness_bound`, rounded down to a float32 value so that every variant, whatever
    its dtype, multiplies by exactly the same learning rate as the float64 reference.
    """
    problem = draw(
        problems(
            dtypes=dtypes,
            x_scales=(0.1, 1.0, 10.0),
            w_scales=(0.0, 0.1, 1.0, 10.0),
            b_scales=(0.0, 1.0, 10.0),
        )
    )
    frac = draw(st.sampled_from([1.0, 0.5, 0.1, 0.01]))
    lr32 = np.float32(frac / smoothness_bound(problem.X))
    if float(lr32) * smoothness_bound(problem.X) > frac:
        lr32 = np.nextafter(lr32, np.float32(0.0))
    batch_size = draw(st.integers(1, problem.n))
    per_epoch = math.ceil(problem.n / batch_size)
    epochs = draw(st.integers(1, max(1, MAX_STEPS // per_epoch)))
    seed = draw(st.integers(0, 2**16))
    return Run(problem, float(lr32), epochs, batch_size, seed)


# ------------------------------------------------------------------ pinned edges


def _edge_problems() -> list[Problem]:
    z1, z0 = Z_SIGMOID_ONE_F32, Z_SIGMOID_ZERO_F32
    below_one = float(np.nextafter(np.float32(z1), np.float32(0)))
    above_zero = float(np.nextafter(np.float32(z0), np.float32(0)))
    out: list[Problem] = []
    for dtype in DTYPES:
        out += [
            # z = 0 everywhere (w = 0, b = 0): the loss is log 2, the gradient X^T (1/2 - y) / N
            make_problem([[0.5, -2.0], [3.0, 1.0], [0.0, 0.0]], [1, 0, 1], [0.0, 0.0], 0.0, dtype),
            # |z| at float32's sigmoid saturation: sigmoid rounds to 1 from z = 16.635532 on
            make_problem(
                [[1.0], [1.0], [-1.0], [-1.0], [1.0]],
                [0, 1, 0, 1, 0],
                [z1],
                0.0,
                dtype,
            ),
            make_problem([[1.0], [-1.0], [1.0]], [0, 1, 1], [below_one], 0.0, dtype),
            make_problem([[1.0], [1.0]], [0, 1], [16.0], 1.0, dtype),  # z = 17
            # |z| at float32's exp overflow (e^88.72 > 3.4e38): sigmoid(z0) == 0
            make_problem([[-1.0], [-1.0], [1.0], [1.0]], [1, 0, 1, 0], [-z0], 0.0, dtype),
            make_problem([[-1.0], [1.0]], [1, 0], [-above_zero], 0.0, dtype),
            make_problem([[1.0], [-1.0]], [1, 0], [89.0], 0.0, dtype),  # z = +-89
            # one sample
            make_problem([[3.0, -1.5, 2.0]], [1], [0.25, 4.0, -1.0], -0.5, dtype),
            # one feature, mixed labels
            make_problem(
                [[-2.0], [-0.5], [0.25], [1.0], [4.0]], [0, 0, 1, 1, 1], [1.5], 0.1, dtype
            ),
            # the largest scales: |x| = |w| = 1e3 in all 16 features, |z| = 1.6e7
            make_problem(
                np.full((4, 16), 1e3) * [[1], [-1], [1], [-1]],
                [1, 1, 0, 0],
                np.full(16, 1e3),
                1e3,
                dtype,
            ),
        ]
    return out


EDGE_PROBLEMS: list[Problem] = _edge_problems()


def edge_examples(
    arg: str = "problem", dtypes: Sequence[str] = DTYPES, **fixed: Any
) -> Callable[[F], F]:
    """Decorator: ``@example(<arg>=p, **fixed)`` for every pinned edge problem of ``dtypes``."""

    def decorate(f: F) -> F:
        for p in reversed(EDGE_PROBLEMS):
            if p.dtype in dtypes:
                f = example(**{arg: p}, **fixed)(f)
        return f

    return decorate
