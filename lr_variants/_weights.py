"""Sample weights, normalized once for every variant: ``u = s / sum(s)`` per batch.

Every variant takes a batch's weights as ``u``, non-negative and summing to 1 (or all zero, for a
batch of zero total weight, which then contributes loss 0 and zero gradients), so that a
weighted mean is ``sum(u l)`` whatever the variant. The weights are first divided by their
largest value, in float64: ``s`` and ``c s`` give the same ``u`` for any ``c > 0``, whether
``s`` is ``3e38``, ``1e-46`` or ``1e-320`` (dividing first keeps ``sum(s)`` from overflowing
or underflowing, and the model's dtype from rounding the weights to 0 or inf).
"""

from __future__ import annotations

import numpy as np

from lr_variants._validate import F64


def normalized(s: F64, slices: list[slice] | None = None) -> F64:
    """``s`` (float64, finite, ``>= 0``) divided by its sum over each of ``slices``
    (consecutive, covering ``s``; ``None``: one batch of every row); zeros where a slice's sum
    is 0."""
    top = float(np.max(s, initial=0.0))
    if top == 0.0:
        return np.zeros_like(s)
    scaled = s / top  # in [0, 1], the largest exactly 1
    if slices is None:
        out: F64 = scaled / scaled.sum()
        return out
    sums = np.add.reduceat(scaled, [sl.start for sl in slices])
    per_row = np.repeat(sums, [sl.stop - sl.start for sl in slices])
    u: F64 = np.divide(scaled, per_row, out=np.zeros_like(scaled), where=per_row > 0)
    return u
