"""``exp`` and ``log1p`` as straight-line float64 arithmetic, for numba loops to vectorize.

A loop that calls the C library's ``exp`` or ``log`` runs one value per call; these are
polynomials with no calls or branches, so the compiler runs several values per
instruction. They are accurate to about ``1e-9`` relative (``ERROR``): enough for a float32
result (rounded once, it is within one float32 ulp of the correctly rounded value; the test
suite checks it), not for a float64 one.

``exp_neg(x)`` for ``x <= 0``: with ``k = round(x / ln 2)`` and ``r = x - k ln 2`` (``ln 2``
split into a 16-bit head, so that ``k * LN2_HI`` is exact, and a tail: Cody and Waite),
``|r| <= ln(2)/2`` and ``exp(x) = 2^k exp(r)``. ``exp(r)`` is its Taylor polynomial to
``r^9/9!``: the remainder is below ``(ln(2)/2)^10 / 10! * e^(ln(2)/2) < 1e-11`` relative.
``2^k`` is built from its bits, as two factors so that each is a normal number down to
``exp(-745)`` (float64's smallest subnormal); ``x`` is clamped there (NaN stays NaN).

``log1p_unit(e)`` for ``0 <= e <= 1``: with ``s = e / (2 + e)`` (``0 <= s <= 1/3``),
``log(1 + e) = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...)``, summed to ``s^17/17``: the rest is
below ``(1/9)^9 / 19 * 9/8 < 2e-10`` relative. ``s`` carries two roundings (``2 + e`` and the
division), a few ``1e-16``.
"""

from __future__ import annotations

from typing import Any

import numba
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

# a bound on the relative error of exp_neg and log1p_unit (the truncation bounds above plus
# float64 rounding, with room to spare): what the test suite holds them to
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
    """``exp(x)`` for ``x <= 0`` (float64), within ``ERROR`` relative."""
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
    """``log(1 + e)`` for ``0 <= e <= 1`` (float64), within ``ERROR`` relative."""
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
