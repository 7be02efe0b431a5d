"""The model file: one ``.npz`` archive of plain arrays, never a pickle (what
[`lr_variants.Model.save`][lr_variants._model.Model.save] writes and [`lr_variants.io.load`][]
reads).

Format version 1 (what ``write`` writes, at exactly the path given, whatever its suffix)::

    metadata     uint8 (K,)   UTF-8 JSON: {"format": "lr_variants.model", "version": 1,
                              "variant", "n_features", "dtype", "device",
                              "sgd": {lr, momentum, dampening, nesterov, weight_decay,
                                      maximize, decay_bias},
                              "loss", "sgd_impl", "impl"}
    w            float64 (D,) the weights
    b            float64 ()   the bias
    momentum_w   float64 (D,) the optimizer's momentum buffers, present once the optimizer
    momentum_b   float64 ()   has made them (momentum > 0 and at least one step taken)

``impl`` (``"textbook"`` or ``"fast"``) is optional: a file without it, as written before it
existed, loads as ``"textbook"``. A float32 model's values are stored exactly in float64 and
rounded back on loading, so a loaded model continues training bit for bit where the saved one
stopped. The initial-parameter seed is not stored: the parameters themselves are.

``write`` is atomic (``lr_variants._files.write_atomic``): the file at ``path`` is
replaced whole once the new one is on disk, or not at all.

``read`` opens only a regular file and reads it with ``lr_variants._files.read_npz``:
every zip entry's compression method, size and ratio, then every array's ``.npy`` header
(version, dtype, shape times item size) are checked against ``LIMITS`` before any data are
read; an object array, which only a pickle can fill, is refused unread. The metadata are
bounded in size and nesting depth before being parsed. Every name, dtype, shape and value
(finite in the model's dtype) is checked against the metadata before anything is built.
Anything wrong raises ``ValueError`` naming the file and what is wrong.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import numpy as np
import numpy.typing as npt

from lr_variants._files import LIMITS, Limits, open_regular, read_json, read_npz, write_npz_atomic
from lr_variants._sgd import SGDOptions

__all__ = ["FORMAT", "LIMITS", "VERSION", "Limits", "read", "to_arrays", "write"]

FORMAT = "lr_variants.model"
VERSION = 1
_REQUIRED = ("metadata", "w", "b")
_STATE = ("momentum_w", "momentum_b")
_META_KEYS = frozenset(
    {"format", "version", "variant", "n_features", "dtype", "device", "sgd", "loss", "sgd_impl"}
)
_OPTIONAL_META_KEYS = frozenset({"impl"})


def _check_path(path: Any) -> None:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike; got {type(path).__name__}")


def to_arrays(model: Any) -> dict[str, npt.NDArray[Any]]:
    """``model`` as the arrays of the format above (what ``save`` writes)."""
    w, b = model.get_params()
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "variant": model.name,
        "n_features": model.n_features,
        "dtype": model.dtype,
        "device": model.device,
        "sgd": dataclasses.asdict(model.sgd),
        # options only the module variant has; every other variant runs the defaults
        "loss": model.options.get("loss", "stable"),
        "sgd_impl": model.options.get("sgd_impl", "for-loop"),
        "impl": model.impl,
    }
    return {
        "metadata": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
        "w": np.asarray(w, dtype=np.float64),
        "b": np.asarray(b, dtype=np.float64),
        **model.get_state(),
    }


def write(model: Any, path: str | os.PathLike[str]) -> None:
    """Write ``model`` to ``path`` (exactly that name) in the format above, atomically: a
    failure part-way (full disk, ``KeyboardInterrupt``) leaves any file already at ``path``
    unchanged and no temporary file behind. ``ValueError`` if it cannot be written."""
    _check_path(path)
    write_npz_atomic(path, to_arrays(model), name="path")


def read(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """``(metadata, arrays)`` of the model file at ``path``, every check above passed: the
    arrays ``w``, ``b`` and, when present, both momentum buffers, as float64."""
    _check_path(path)
    where = f"model file {str(path)!r}"
    with open_regular(path, "path") as f:
        arrays = read_npz(
            f,
            where,
            "lr_variants model (truncated or corrupted .npz)",
            select=lambda names: _known_names(names, where),
            max_bytes={"metadata": (LIMITS.max_json_bytes, "max_json_bytes")},
        )
    meta = _metadata(arrays, where)
    n = meta["n_features"]
    missing = [k for k in _REQUIRED if k not in arrays]
    if missing:
        raise ValueError(
            f"{where} must hold arrays {list(_REQUIRED)} and optionally {list(_STATE)}; "
            f"got {sorted(arrays)}"
        )
    expected = {"w": (n,), "b": (), "momentum_w": (n,), "momentum_b": ()}
    for key, shape in expected.items():
        if key in arrays:
            _check_values(arrays[key], key, shape, n, meta["dtype"], where)
    state = {k: arrays[k] for k in _STATE if k in arrays}
    if state and len(state) != len(_STATE):
        raise ValueError(f"{where} must hold both {list(_STATE)} or neither; got {sorted(state)}")
    if state and meta["sgd"]["momentum"] == 0:
        raise ValueError(f"{where} holds momentum buffers but its momentum is 0")
    return meta, arrays


def _known_names(names: list[str], where: str) -> list[str]:
    """The arrays to read: all of them, once none is unknown (checked before reading any)."""
    if set(names) - set(_REQUIRED) - set(_STATE):
        raise ValueError(
            f"{where} must hold arrays {list(_REQUIRED)} and optionally {list(_STATE)}; "
            f"got {sorted(names)}"
        )
    return names


def _check_values(
    a: npt.NDArray[Any], key: str, shape: tuple[int, ...], n: int, dtype: Any, where: str
) -> None:
    """``a`` is float64 of ``shape`` and finite, also once rounded to the model's ``dtype``."""
    if a.dtype != np.float64 or a.shape != shape:
        raise ValueError(
            f"{where}: array {key!r} must be float64 of shape {shape} (n_features={n}); "
            f"got {a.dtype} of shape {a.shape}"
        )
    if not np.isfinite(a).all():
        raise ValueError(f"{where}: array {key!r} must hold finite values")
    if dtype == "float32":
        big = np.abs(a) > np.finfo(np.float32).max
        if big.any():
            at = np.unravel_index(int(np.argmax(big)), a.shape) if a.ndim else ()
            raise ValueError(
                f"{where}: array {key!r} must hold finite values in the model's dtype float32; "
                f"got {float(a[at])!r}, which overflows float32"
            )


def _metadata(arrays: dict[str, npt.NDArray[Any]], where: str) -> dict[str, Any]:
    """The JSON metadata, checked for format, version and the type of every field."""
    raw = arrays.get("metadata")
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        got = "nothing" if raw is None else f"{raw.dtype} of shape {raw.shape}"
        raise ValueError(
            f"{where} is not an lr_variants model: it must hold 'metadata' as uint8 JSON bytes; "
            f"got {got}"
        )
    meta = read_json(raw.tobytes(), where, "metadata")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise ValueError(
            f"{where} is not an lr_variants model: format must be {FORMAT!r}; got {found!r}"
        )
    version = meta.get("version")
    if version != VERSION or isinstance(version, bool):
        newer = (
            " (written by a newer lr_variants)"
            if isinstance(version, int) and version > VERSION
            else ""
        )
        raise ValueError(
            f"{where} has format version {version!r}{newer}; this lr_variants reads version "
            f"{VERSION}"
        )
    if not _META_KEYS <= set(meta) <= _META_KEYS | _OPTIONAL_META_KEYS:
        raise ValueError(
            f"{where}: metadata must have keys {sorted(_META_KEYS)} and optionally "
            f"{sorted(_OPTIONAL_META_KEYS)}; got {sorted(meta)}"
        )
    fields = {f.name for f in dataclasses.fields(SGDOptions)}
    if not isinstance(meta["sgd"], dict) or set(meta["sgd"]) != fields:
        raise ValueError(
            f"{where}: metadata 'sgd' must have keys {sorted(fields)}; got {meta['sgd']!r}"
        )
    n = meta["n_features"]
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"{where}: metadata 'n_features' must be an integer >= 1; got {n!r}")
    return meta
