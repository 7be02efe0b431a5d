"""Data: the reference article's two Gaussian blobs, loading a data set from a file or from
scikit-learn's bundled data sets, and standardizing features."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from lr_variants._validate import F64, check_data, check_features, check_int

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


def load_data(path: str | os.PathLike[str]) -> tuple[F64, F64]:
    """Read ``(X, y)`` from a CSV file (last column is the label; one header line allowed) or
    from an ``.npz`` file holding arrays ``X`` and ``y``. The result is validated."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"data must be an existing file; got {str(path)!r}")
    if p.suffix.lower() == ".npz":
        if not zipfile.is_zipfile(p):
            raise ValueError(f"data file {str(path)!r} is not a readable .npz (not a zip archive)")
        try:
            with np.load(p, allow_pickle=False) as npz:
                missing = {"X", "y"} - set(npz.files)
                if missing:
                    raise ValueError(
                        f"data file {str(path)!r} must hold arrays 'X' and 'y'; "
                        f"got {sorted(npz.files)}"
                    )
                X, y = npz["X"], npz["y"]
        except (OSError, EOFError) as exc:  # truncated or not a zip archive
            raise ValueError(f"data file {str(path)!r} is not a readable .npz: {exc}") from None
    else:
        X, y = _read_csv(p)
    return check_data(X, y)


def sklearn_data(name: str) -> tuple[F64, F64]:
    """A binary data set bundled with scikit-learn (nothing is downloaded), by name:

    - ``"breast_cancer"``: 569 tumours x 30 features (Wisconsin diagnostic); y = 1 benign,
      0 malignant. Features range from ~1e-3 to ~4e3: standardize them (:func:`standardize`)
      before SGD.

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


def _read_csv(p: Path) -> tuple[F64, F64]:
    lines = [ln for ln in p.read_text().splitlines() if ln.strip()]
    if lines and not _is_numeric_row(lines[0]):
        lines = lines[1:]  # a header
    if not lines:
        raise ValueError(f"data file {str(p)!r} must hold at least one row of numbers")
    try:
        rows = [[float(v) for v in ln.split(",")] for ln in lines]
    except ValueError as exc:
        raise ValueError(f"data file {str(p)!r} must hold only numbers; {exc}") from None
    if len({len(r) for r in rows}) != 1 or len(rows[0]) < 2:
        raise ValueError(
            f"data file {str(p)!r} must have rows of equal length with at least two columns "
            "(features, then the label)"
        )
    table = np.array(rows)
    return table[:, :-1], table[:, -1]


def _is_numeric_row(line: str) -> bool:
    try:
        [float(v) for v in line.split(",")]
    except ValueError:
        return False
    return True
