"""Data: the reference article's two Gaussian blobs, loading a data set from a file or from
scikit-learn's bundled data sets, and standardizing features.

Files are read within ``LIMITS`` (sizes, compression ratio; ``docs/reliability.md``), the
same object as ``lr_variants.io.LIMITS``: raise a field to read a larger trusted file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from lr_variants._files import (
    LIMITS,
    Limits,
    Refused,
    csv_lines,
    map_npy,
    open_regular,
    read_npz,
    shown,
)
from lr_variants._mapped import check_mapped
from lr_variants._validate import F64, check_data, check_data_native, check_features, check_int

__all__ = [
    "LIMITS",
    "SKLEARN_DATASETS",
    "Limits",
    "load_data",
    "sklearn_data",
    "standardize",
    "two_blobs",
]

# name -> loader in sklearn.datasets: the binary data sets scikit-learn ships (no download)
SKLEARN_DATASETS: dict[str, str] = {"breast_cancer": "load_breast_cancer"}


def two_blobs(n_per_class: int = 500, seed: int = 42) -> tuple[F64, F64]:
    """The reference article's data, bit for bit.

    With the legacy generator ``np.random.RandomState(seed)`` (the state ``np.random.seed(seed)``
    sets): ``n`` points ``randn(n, 2) + [2, 2]`` labelled 0, then ``n`` points
    ``randn(n, 2) + [-2, -2]`` labelled 1. Returns ``X`` float64 ``(2n, 2)`` and ``y`` float64
    ``(2n,)``. The global NumPy generator is left untouched.
    """
    n = check_int(n_per_class, "n_per_class", 1)
    check_int(seed, "seed", 0)
    rng = np.random.RandomState(seed)
    x0 = rng.randn(n, 2) + np.array([2, 2])
    x1 = rng.randn(n, 2) + np.array([-2, -2])
    X = np.vstack([x0, x1])
    y = np.concatenate([np.zeros(n), np.ones(n)])
    return X, y


def load_data(path: str | os.PathLike[str], *, scan: bool = True) -> tuple[Any, Any]:
    """Read ``(X, y)`` from a CSV file (last column is the label; one header line allowed),
    from an ``.npz`` file holding arrays ``X`` and ``y``, or from a pair of ``.npy`` files
    ``"X.npy,y.npy"`` (one string, comma-separated), opened memory-mapped. The result is
    validated; CSV and ``.npz`` data are returned as float64 arrays.

    A ``.npy`` pair is for data larger than memory: each file's header is checked
    (``lr_variants._files.open_regular``; magic string, version, header of at most
    ``LIMITS.max_header_bytes``, no Python objects, data size = file size), then it is opened
    with ``np.load(mmap_mode="r")``: nothing is read into memory (``LIMITS.max_array_bytes``
    does not apply), the arrays are validated a block of rows at a time and returned as
    read-only memory maps in their own dtype. With ``scan=False`` (a ``.npy`` pair only) their
    values are not read here: headers, shapes and dtypes are checked, and the values where they
    are used ([`lr_variants.train`][lr_variants.training.train] checks every row it trains on;
    with ``distributed=True`` and the rows in their stored order, each rank only its own, so
    that no rank reads the whole file; ``docs/distributed.md``). Training reads them block by
    block (write ``X`` in the model's dtype, C order, so that it is never converted whole; see
    ``docs/benchmarks.md``, "Data larger than memory", for making such a file with
    ``np.lib.format.open_memmap``).

    CSV: UTF-8 (a byte-order mark is fine), comma-separated numbers, read line by line into
    a float64 table, within ``LIMITS.max_csv_bytes``, ``LIMITS.max_csv_line_bytes`` and
    ``LIMITS.max_array_bytes``. ``.npz``: read with every member and header checked before its
    data (``lr_variants._files.read_npz``); object arrays (pickles) are refused unread,
    other arrays are ignored. Anything wrong, the path included, raises one ``ValueError``
    naming the file.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"data must be a str or os.PathLike; got {type(path).__name__}")
    where = f"data file {str(path)!r}"
    text = os.fsdecode(path)
    if not isinstance(scan, bool):
        raise TypeError(f"scan must be a bool; got {scan!r} ({type(scan).__name__})")
    if "," in text and all(p.strip().lower().endswith(".npy") for p in text.split(",")):
        return _mapped_pair(text, where, scan)
    if not scan:
        raise ValueError(
            "scan=False applies to a pair of .npy files ('X.npy,y.npy'), read in place; "
            f"got {where}, which is read into memory and checked whole"
        )
    with open_regular(path, "data") as f:
        if Path(os.fsdecode(path)).suffix.lower() == ".npz":
            arrays = read_npz(
                f,
                where,
                ".npz (truncated, corrupted or not a zip archive)",
                select=lambda names: _x_and_y(names, where),
            )
            X: Any = arrays["X"]
            y: Any = arrays["y"]
        else:
            X, y = _read_csv(f, where)
    try:
        with np.errstate(all="ignore"):  # a NaN or an overflow is reported as one error below
            return check_data(X, y)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{where}: {exc}") from None


def _mapped_pair(text: str, where: str, scan: bool = True) -> tuple[Any, Any]:
    """``"X.npy,y.npy"``: both memory-mapped after their headers are checked, then validated
    (without ``scan``, their types and shapes only)."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2:
        raise ValueError(f"{where} must name two .npy files, X then y; got {len(parts)}")
    X, y = (map_npy(p, f"data file {shown(p)}") for p in parts)
    try:
        with np.errstate(all="ignore"):  # a NaN or an overflow is reported as one error below
            Xv, yv = check_data_native(X, y, scan=scan)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{where}: {exc}") from None
    check_mapped(Xv)  # a validation pass read every byte: did the files stay whole?
    check_mapped(yv)
    return Xv, yv


def _x_and_y(names: list[str], where: str) -> list[str]:
    if not {"X", "y"} <= set(names):
        raise Refused(f"{where} must hold arrays 'X' and 'y'; got {sorted(names)}")
    return ["X", "y"]


def sklearn_data(name: str) -> tuple[F64, F64]:
    """A binary data set bundled with scikit-learn (nothing is downloaded), by name:

    - ``"breast_cancer"``: 569 tumours x 30 features (Wisconsin diagnostic); y = 1 benign,
      0 malignant. Features range from ~1e-3 to ~4e3: standardize them
      ([`standardize`][lr_variants.data.standardize]) before SGD.

    Raises ``ValueError`` for another name and ``ImportError`` without scikit-learn.
    """
    if not isinstance(name, str) or name not in SKLEARN_DATASETS:
        raise ValueError(
            f"sklearn data set must be one of {tuple(SKLEARN_DATASETS)} (the binary data sets "
            f"bundled with scikit-learn); got {name!r}"
        )
    try:
        import sklearn.datasets
    except ImportError:
        raise ImportError(
            f"data set sklearn:{name} needs scikit-learn: pip install 'lr_variants[sklearn]'"
        ) from None
    X, y = getattr(sklearn.datasets, SKLEARN_DATASETS[name])(return_X_y=True)
    return check_data(X, y)


def standardize(X: object) -> tuple[F64, F64, F64]:
    """``((X - mean) / scale, mean, scale)`` per column, from ``X`` itself (the training data):
    ``scale`` is the standard deviation, or 1 for a constant column. Apply the same ``mean`` and
    ``scale`` to any other data the model will see."""
    X64 = check_features(X)
    mean = X64.mean(axis=0)
    std = X64.std(axis=0)
    scale = np.where(std > 0, std, 1.0)
    return (X64 - mean) / scale, mean, scale


_CHUNK_BYTES = 1 << 20  # the CSV table grows by blocks of rows of about this size


def _read_csv(f: BinaryIO, where: str) -> tuple[F64, F64]:
    """Stream the CSV in ``f`` into a float64 table, a block of rows at a time: memory stays
    about 8 bytes per value, never a Python list of every row."""
    blocks: list[F64] = []
    block: F64 | None = None
    filled = n_rows = 0
    n_cols = 0
    header_possible = True
    for number, line in csv_lines(f, where):
        for text in line.splitlines():  # "\r\n" and a lone "\r" end a row too
            if not text.strip():
                continue
            fields = text.split(",")
            if header_possible:
                header_possible = False
                if not _is_numeric_row(fields):
                    continue  # a header
            try:
                values = [float(v) for v in fields]
            except ValueError as exc:
                raise ValueError(f"{where} must hold only numbers; line {number}: {exc}") from None
            if n_cols == 0:
                n_cols = len(values)
            if len(values) != n_cols or n_cols < 2:
                raise ValueError(
                    f"{where} must have rows of equal length with at least two columns "
                    f"(features, then the label); line {number} has {len(values)}, "
                    f"the first row {n_cols}"
                )
            if (n_rows + 1) * n_cols * 8 > LIMITS.max_array_bytes:
                raise ValueError(
                    f"{where} holds more than {LIMITS.max_array_bytes} bytes of numbers at line "
                    f"{number} (LIMITS.max_array_bytes); raise it if the file is trusted, e.g. "
                    "lr_variants.data.LIMITS.max_array_bytes = 8 * 2**30"
                )
            if block is None or filled == len(block):
                if block is not None:
                    blocks.append(block)
                block = np.empty((max(1, _CHUNK_BYTES // (8 * n_cols)), n_cols))
                filled = 0
            block[filled] = values
            filled += 1
            n_rows += 1
    if block is None:
        raise ValueError(f"{where} must hold at least one row of numbers")
    blocks.append(block[:filled])
    table = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    return table[:, :-1], table[:, -1]


def _is_numeric_row(fields: list[str]) -> bool:
    try:
        [float(v) for v in fields]
    except ValueError:
        return False
    return True
