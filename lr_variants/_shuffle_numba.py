"""A compiled twin of NumPy's ``Generator.permutation(n)`` on its default bit generator,
PCG64: the same orders, and the same generator state after, at a fraction of the cost
(``lr_variants._shuffle`` says when it is used and checks it against NumPy's own draw).

What NumPy does (``Generator.shuffle`` of ``arange(n)``; Fisher-Yates from the last place)::

    for i = n-1, ..., 1:  j = interval(i);  swap a[i], a[j]
    interval(i):  m = 2^bitlength(i) - 1;  repeat c = next32() & m  until c <= i
    next32():     the low half of a fresh 64-bit output; its high half is kept
                  (has_uint32, uinteger) and served by the next call
    PCG64:        s <- s * M + inc  (mod 2^128);  output = rotr64(hi(s) ^ lo(s), s >> 122)

(for ``i >= 2^32`` NumPy draws 64-bit values instead; ``draw`` is only used below that).

Why it is faster. NumPy pays a call through the bit generator's function pointer per value
and three ``memcpy`` per swap. Here the 128-bit step is inlined (one LLVM ``i128`` multiply),
and the rejection loop has no data-dependent branch: every candidate value is tried at the
current place ``i``, the swap is done with ``j = c`` if ``c <= i`` and with ``j = i`` (a swap
with itself) if not, and ``i`` moves down only on acceptance. A rejected value, about one in
four, then costs a few instructions instead of a mispredicted branch. Both halves of each
64-bit output are consumed in order, low then high, as ``next32`` serves them.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

# PCG64's 128-bit multiplier (NumPy's pcg64.h: PCG_DEFAULT_MULTIPLIER_HIGH, _LOW)
MULTIPLIER = (2549297995355413924 << 64) + 4865540595714422341
LOW32 = np.uint64(0xFFFFFFFF)


def _pcg64_step_typed(typingctx: Any, hi: Any, lo: Any, inc_hi: Any, inc_lo: Any) -> Any:
    """``(hi', lo', output)``: the state ``s = (hi, lo)`` moved on by one step,
    ``s' = s M + inc (mod 2^128)``, and PCG64's output ``rotr64(hi' ^ lo', hi' >> 58)``."""
    u64 = types.uint64
    sig = types.UniTuple(u64, 3)(u64, u64, u64, u64)  # type: ignore[no-untyped-call]

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        i64, i128 = ir.IntType(64), ir.IntType(128)
        c64 = ir.Constant(i128, 64)

        def wide(high: Any, low: Any) -> Any:
            return builder.or_(builder.shl(builder.zext(high, i128), c64), builder.zext(low, i128))

        mult = builder.mul(wide(args[0], args[1]), ir.Constant(i128, MULTIPLIER))
        s = builder.add(mult, wide(args[2], args[3]))
        hi, lo = builder.trunc(builder.lshr(s, c64), i64), builder.trunc(s, i64)
        x, r = builder.xor(hi, lo), builder.lshr(hi, ir.Constant(i64, 58))
        left = builder.and_(builder.sub(ir.Constant(i64, 64), r), ir.Constant(i64, 63))
        out = builder.or_(builder.lshr(x, r), builder.shl(x, left))
        return context.make_tuple(builder, signature.return_type, (hi, lo, out))

    return sig, codegen


_pcg64_step: Any = intrinsic(_pcg64_step_typed)


@numba.njit(cache=True, error_model="numpy")
def _try(a, i, mask, c):  # type: ignore[no-untyped-def]
    """One candidate ``c`` for place ``i``: swap ``a[i]`` with ``a[c & mask]`` if that is
    ``<= i`` (then ``i`` moves down, and ``mask`` with it past a power of two)."""
    v = c & mask
    accepted = v <= np.uint64(i)
    j = np.int64(v) if accepted else i
    t = a[i]
    a[i] = a[j]
    a[j] = t
    i -= np.int64(accepted)
    half = mask >> np.uint64(1)
    return i, (half if np.uint64(i) <= half else mask)


@numba.njit(cache=True, error_model="numpy")
def draw(state, out):  # type: ignore[no-untyped-def]
    """Fill each row of ``out`` (``(k, n)`` int64, ``1 <= n <= 2^32``) with the next
    ``permutation(n)``; ``state`` (uint64: ``hi, lo, inc_hi, inc_lo, has_uint32,
    uinteger``) is read and moved on in place."""
    k, n = out.shape
    hi, lo, inc_hi, inc_lo, has, kept = state[0], state[1], state[2], state[3], state[4], state[5]
    for e in range(k):
        a = out[e]
        for i in range(n):
            a[i] = i
        i = n - 1
        if i == 0:
            continue
        mask = np.uint64(i)
        for shift in (1, 2, 4, 8, 16, 32):
            mask |= mask >> np.uint64(shift)
        if has:  # the kept high half is the next value
            has = np.uint64(0)
            i, mask = _try(a, i, mask, kept)
        while i > 0:
            hi, lo, value = _pcg64_step(hi, lo, inc_hi, inc_lo)
            kept = value >> np.uint64(32)
            i, mask = _try(a, i, mask, value & LOW32)
            if i == 0:  # the high half stays for the next draw
                has = np.uint64(1)
                break
            i, mask = _try(a, i, mask, kept)
    state[0], state[1], state[4], state[5] = hi, lo, has, kept
