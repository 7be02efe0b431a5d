"""Argument checks shared by every public entry point.

Each check raises ``ValueError`` for a bad value and ``TypeError`` for a bad type, with a message
that names the argument, says what it must be and shows what it got. Checks never modify their
inputs, so a rejected call leaves every model exactly as it was.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from lr_variants._mapped import check_mapped

F64 = npt.NDArray[np.float64]

DTYPES: tuple[str, ...] = ("float32", "float64")
_NUMERIC_KINDS = "biuf"  # bool, signed int, unsigned int, float


def _position(index: tuple[Any, ...]) -> str:
    return str(index[0]) if len(index) == 1 else str(tuple(int(i) for i in index))


# Data are checked a block of rows at a time, in their own dtype: about this many elements per
# block (256 KB of float32), so that each block's two reductions read it from cache and no
# temporary ever grows with the data (a memory-mapped file is read once, never copied)
CHUNK_ELEMENTS = 1 << 16


def as_array(value: Any, name: str, *, allow_bool: bool = True) -> npt.NDArray[Any]:
    """``value`` as a NumPy array of real numbers in its own dtype (no copy where possible),
    or a TypeError/ValueError if it is not real numbers.

    Any strided or read-only NumPy array is accepted (a memory map stays a view of its file),
    and a torch tensor (detached and copied to the host, whether or not it requires grad); a
    masked array with masked entries is refused (its mask would be silently dropped), as is an
    array of Python objects.
    """
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers; got {type(value).__name__}")
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ma.MaskedArray):
        if np.ma.is_masked(value):
            masked = int(np.ma.getmaskarray(value).sum())
            raise ValueError(
                f"{name} must have no masked entries (fill or drop them first, e.g. "
                f"{name}.filled(...)); got a masked array with {masked} masked"
            )
        value = value.data
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged nested lists and the like
        raise ValueError(f"{name} must be a rectangular array of numbers; got {exc}") from None
    kinds = _NUMERIC_KINDS if allow_bool else _NUMERIC_KINDS.replace("b", "")
    if arr.dtype.kind not in kinds:
        what = "real numbers" if allow_bool else "real numbers (not bools)"
        raise TypeError(f"{name} must hold {what}; got an array of dtype {arr.dtype}")
    return arr


def as_float_array(value: Any, name: str, *, allow_bool: bool = True) -> F64:
    """``value`` as a float64 array (``as_array``, then converted; a view if it is one)."""
    return as_array(value, name, allow_bool=allow_bool).astype(np.float64, copy=False)


def row_blocks(n_rows: int, row_size: int, elements: int = CHUNK_ELEMENTS) -> Iterator[slice]:
    """Consecutive slices of ``n_rows`` rows of ``row_size`` elements each, of about
    ``elements`` elements each (at least one row)."""
    rows = max(1, elements // max(1, row_size))
    return (slice(i, min(i + rows, n_rows)) for i in range(0, n_rows, rows))


def check_finite(arr: npt.NDArray[Any], name: str, dtype: str = "float64", offset: int = 0) -> None:
    """Raise ValueError if ``arr`` holds NaN or inf, or a value that overflows ``dtype``.

    Checked in ``arr``'s own dtype, a block of rows at a time (``CHUNK_ELEMENTS``): per
    block ``max`` and ``-min`` (NaN propagates through both) against the largest ``dtype``
    value, and only a failing block is searched for its first bad value. Integers and bools
    are always finite and within float32's range (``2^64 < 3.4e38``); a float wider than
    float64 is compared after rounding to float64, as the model sees it. ``offset``: the
    index of ``arr``'s first row in the array the message names."""
    if arr.dtype.kind != "f":
        return
    limit = float(np.finfo(dtype).max)
    if arr.ndim == 0:
        _check_block(arr, name, dtype, limit, ())
        return
    for rows in row_blocks(len(arr), arr[0].size if len(arr) else 1):
        check_mapped(arr)  # a memory-mapped file cut short: an error, not SIGBUS
        block = arr[rows]
        if block.dtype.itemsize > 8:
            block = block.astype(np.float64)
        if block.size and not max(float(block.max()), -float(block.min())) <= limit:
            _check_block(block, name, dtype, limit, (offset + rows.start,))


def max_abs(arr: npt.NDArray[Any]) -> float:
    """``max |arr|`` (NaN if any element is), read a block of rows at a time like
    ``check_finite``: no temporary grows with the data, so a message that quotes the
    largest value of a memory-mapped file costs no more memory than validating it did."""
    if arr.ndim == 0 or arr.size == 0:
        return float(np.max(np.abs(arr), initial=0.0))
    largest = 0.0
    for rows in row_blocks(len(arr), arr[0].size if len(arr) else 1):
        check_mapped(arr)
        block = arr[rows]
        if block.size:
            hi, lo = float(block.max()), -float(block.min())
            if np.isnan(hi) or np.isnan(lo):  # NaN propagates through max and min
                return math.nan
            largest = max(largest, hi, lo)
    return largest


def _check_block(
    block: npt.NDArray[Any], name: str, dtype: str, limit: float, offset: tuple[int, ...]
) -> None:
    """Find the first bad value of ``block`` (rows from ``offset[0]`` of the whole array)."""
    ok = np.isfinite(block)
    ok &= np.abs(block) <= limit
    if ok.all():
        return
    where = np.unravel_index(int(np.argmin(ok)), block.shape) if block.ndim else ()
    bad = float(block[where])
    if offset:
        where = (where[0] + offset[0], *where[1:])
    what = "overflows float32" if np.isfinite(bad) else "is not finite"
    at = f" at index {_position(where)}" if block.ndim else ""
    raise ValueError(f"{name} must hold finite {dtype} values; got {bad!r}{at}, which {what}")


def check_features_native(
    X: Any, n_features: int | None = None, *, dtype: str = "float64", scan: bool = True
) -> npt.NDArray[Any]:
    """Validate a design matrix: real, 2-D, at least one row, ``n_features`` columns, finite in
    ``dtype``; returns it in its own dtype (a view where possible: nothing is copied). Without
    ``scan``, the values are left unread (``check_rows`` reads the rows a caller uses)."""
    arr = as_array(X, "X")
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-D with shape (N, n_features); got shape {arr.shape}")
    if arr.shape[0] < 1:
        raise ValueError(f"X must have at least one row; got shape {arr.shape}")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(
            f"X must have {n_features} columns (the model's n_features); got shape {arr.shape}"
        )
    if arr.shape[1] < 1:
        raise ValueError(f"X must have at least one column; got shape {arr.shape}")
    if scan:
        check_finite(arr, "X", dtype)
    return arr


def check_features(X: Any, n_features: int | None = None, *, dtype: str = "float64") -> F64:
    """``check_features_native``, returned as float64."""
    return check_features_native(X, n_features, dtype=dtype).astype(np.float64, copy=False)


def check_labels_native(y: Any, n_rows: int, *, scan: bool = True) -> npt.NDArray[Any]:
    """Validate labels: real, shape ``(n_rows,)``, only 0 and 1 (in blocks, in ``y``'s dtype;
    without ``scan``, the values are left unread)."""
    arr = as_array(y, "y")
    if arr.ndim != 1:
        raise ValueError(f"y must be 1-D with shape (N,); got shape {arr.shape}")
    if arr.shape[0] != n_rows:
        raise ValueError(f"y must have one label per row of X ({n_rows}); got {arr.shape[0]}")
    if scan:
        _check_binary(arr, 0)
    return arr


def _check_binary(arr: npt.NDArray[Any], offset: int) -> None:
    """ValueError at the first label that is neither 0 nor 1 (``offset``: as in check_finite)."""
    if arr.dtype.kind == "b":
        return
    for rows in row_blocks(len(arr), 1):
        check_mapped(arr)
        block = arr[rows]
        bad = (block != 0) & (block != 1)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"y must hold only 0 and 1; got {float(block[i])!r} at index "
                f"{offset + rows.start + i}"
            )


def check_rows(
    X: npt.NDArray[Any], y: npt.NDArray[Any], ranges: list[tuple[int, int]], dtype: str
) -> None:
    """The value checks of ``check_data_native`` on the rows ``[lo, hi)`` of each range
    only (data whose shapes are checked already): what one data-parallel rank reads."""
    for lo, hi in ranges:
        check_finite(X[lo:hi], "X", dtype, offset=lo)
        _check_binary(y[lo:hi], lo)


def check_data_native(
    X: Any, y: Any, n_features: int | None = None, *, dtype: str = "float64", scan: bool = True
) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """Validate a batch ``(X, y)`` without converting it: both in their own dtypes (views of
    the input where possible; a memory map is read a block at a time, never copied). The
    backends (``arrays.convert``) then convert once, where the dtype or layout demands it.
    Without ``scan`` only types and shapes are checked (``check_rows`` reads the values)."""
    Xn = check_features_native(X, n_features, dtype=dtype, scan=scan)
    return Xn, check_labels_native(y, Xn.shape[0], scan=scan)


def check_data(
    X: Any, y: Any, n_features: int | None = None, *, dtype: str = "float64"
) -> tuple[F64, F64]:
    """Validate a batch ``(X, y)``; returns both as float64 arrays (views where possible)."""
    Xn, yn = check_data_native(X, y, n_features, dtype=dtype)
    return Xn.astype(np.float64, copy=False), yn.astype(np.float64, copy=False)


def check_int(value: Any, name: str, minimum: int) -> int:
    """An integer (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    return int(value)


def check_real(
    value: Any, name: str, *, minimum: float | None = None, strict: bool = False
) -> float:
    """A finite real number, optionally ``> minimum`` (``strict``) or ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r} ({type(value).__name__})")
    try:
        out = float(value)
    except OverflowError:  # an integer beyond the float range, e.g. 10**400
        raise ValueError(
            f"{name} must be a finite real number; got an integer of {len(str(value))} digits"
        ) from None
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite; got {out!r}")
    if minimum is not None and (out <= minimum if strict else out < minimum):
        relation = ">" if strict else ">="
        raise ValueError(f"{name} must be {relation} {minimum}; got {out!r}")
    return out


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (strings)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {choices}; got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}; got {value!r}")
    return value


def check_array(value: Any, name: str, shape: tuple[int, ...], dtype: str) -> F64:
    """A float64 array of exactly ``shape`` (not bools), finite in ``dtype``."""
    arr = as_float_array(value, name, allow_bool=False)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}; got shape {arr.shape}")
    check_finite(arr, name, dtype)
    return arr


def check_params(w: Any, b: Any, n_features: int, dtype: str) -> tuple[F64, float]:
    """Validate parameters for a model with ``n_features`` features stored in ``dtype``."""
    w64 = as_float_array(w, "w", allow_bool=False)
    if w64.shape != (n_features,):
        raise ValueError(f"w must have shape ({n_features},); got shape {w64.shape}")
    check_finite(w64, "w", dtype)
    b64 = as_float_array(b, "b", allow_bool=False)
    if b64.size != 1 or b64.ndim > 1:
        raise ValueError(f"b must be a single number; got shape {b64.shape}")
    check_finite(b64.reshape(()), "b", dtype)
    return w64, float(b64.reshape(()))


def check_sample_weight(sample_weight: Any, n_rows: int, dtype: str = "float64") -> F64:
    """Validate per-row weights: real, shape ``(n_rows,)``, finite, ``>= 0``, not all zero.

    Weights are scale-free (only ``s / sum(s)`` matters, ``lr_variants._weights``), so they
    are checked as float64 whatever the model's dtype."""
    arr = as_float_array(sample_weight, "sample_weight")
    if arr.shape != (n_rows,):
        raise ValueError(
            f"sample_weight must have shape ({n_rows},), one weight per row of X; "
            f"got shape {arr.shape}"
        )
    check_finite(arr, "sample_weight", dtype)
    if (arr < 0).any():
        i = int(np.argmax(arr < 0))
        raise ValueError(f"sample_weight must be >= 0; got {float(arr[i])!r} at index {i}")
    if not (arr > 0).any():
        raise ValueError("sample_weight must have a positive sum; got all zeros")
    return arr
