"""Saving and loading a model: one ``.npz`` archive of plain arrays, never a pickle.

Format version 1 (what :func:`save` writes, at exactly the path given, whatever its suffix)::

    metadata     uint8 (K,)   UTF-8 JSON: {"format": "lr_variants.model", "version": 1,
                              "variant", "n_features", "dtype", "device",
                              "sgd": {lr, momentum, dampening, nesterov, weight_decay,
                                      maximize, decay_bias},
                              "loss", "sgd_impl"}
    w            float64 (D,) the weights
    b            float64 ()   the bias
    momentum_w   float64 (D,) the optimizer's momentum buffers, present once the optimizer
    momentum_b   float64 ()   has made them (momentum > 0 and at least one step taken)

A float32 model's values are stored exactly in float64 and rounded back on loading, so a loaded
model continues training bit for bit where the saved one stopped. The initial-parameter seed is
not stored: the parameters themselves are.

:func:`load` reads the archive member by member, checks each array's header (an object array,
which only a pickle can fill, is refused before any of its bytes are read), reads it with
``allow_pickle=False``, then checks every name, dtype and shape against the metadata before it
builds anything. Anything wrong raises ``ValueError`` naming the file and what is wrong.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from lr_variants._sgd import SGDOptions

if TYPE_CHECKING:
    from lr_variants._model import Model

FORMAT = "lr_variants.model"
VERSION = 1
_REQUIRED = ("metadata", "w", "b")
_STATE = ("momentum_w", "momentum_b")
_META_KEYS = frozenset(
    {"format", "version", "variant", "n_features", "dtype", "device", "sgd", "loss", "sgd_impl"}
)


class _Refused(ValueError):
    """A file that was read but is not acceptable (its message is already complete)."""


def _check_path(path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike; got {type(path).__name__}")
    return Path(path)


def save(model: Model, path: str | os.PathLike[str]) -> None:
    """Write ``model`` to ``path`` (exactly that name) in the format above."""
    p = _check_path(path)
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
    }
    arrays: dict[str, Any] = {  # Any: savez's stub would take a key named allow_pickle
        "metadata": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
        "w": np.asarray(w, dtype=np.float64),
        "b": np.asarray(b, dtype=np.float64),
        **model.get_state(),
    }
    # np.savez appends ".npz" to a str path that lacks it; a file object keeps the name as given
    with open(p, "wb") as f:
        np.savez(f, **arrays)


def load(path: str | os.PathLike[str], *, device: str | None = None) -> Model:
    """The model saved at ``path`` by :meth:`Model.save <lr_variants.Model.save>`, on the device
    it was saved from, or on ``device`` if given (e.g. ``"cpu"`` for a model trained on CUDA)."""
    import lr_variants

    p = _check_path(path)
    where = f"model file {str(path)!r}"
    if not p.is_file():
        raise ValueError(f"path must be an existing file; got {str(path)!r}")
    arrays = _read_arrays(p, where)
    meta = _metadata(arrays, where)
    n = meta["n_features"]
    expected = {"w": (n,), "b": (), "momentum_w": (n,), "momentum_b": ()}
    unknown = sorted(set(arrays) - set(_REQUIRED) - set(_STATE))
    missing = [k for k in _REQUIRED if k not in arrays]
    if unknown or missing:
        raise ValueError(
            f"{where} must hold arrays {list(_REQUIRED)} and optionally {list(_STATE)}; "
            f"got {sorted(arrays)}"
        )
    for key, shape in expected.items():
        if key in arrays:
            a = arrays[key]
            if a.dtype != np.float64 or a.shape != shape:
                raise ValueError(
                    f"{where}: array {key!r} must be float64 of shape {shape} (n_features={n}); "
                    f"got {a.dtype} of shape {a.shape}"
                )
            if not np.isfinite(a).all():
                raise ValueError(f"{where}: array {key!r} must hold finite values")
    state = {k: arrays[k] for k in _STATE if k in arrays}
    if state and len(state) != len(_STATE):
        raise ValueError(f"{where} must hold both {list(_STATE)} or neither; got {sorted(state)}")
    if state and meta["sgd"]["momentum"] == 0:
        raise ValueError(f"{where} holds momentum buffers but its momentum is 0")
    try:
        model = lr_variants.create(
            meta["variant"],
            n,
            dtype=meta["dtype"],
            device=meta["device"] if device is None else device,
            loss=meta["loss"],
            sgd_impl=meta["sgd_impl"],
            **meta["sgd"],
        )
        model.set_params(arrays["w"], arrays["b"])
    except (ValueError, TypeError) as exc:
        hint = " (pass device=... to load it on another device)" if device is None else ""
        raise ValueError(f"{where}: {exc}{hint if 'device' in str(exc) else ''}") from None
    model.set_state(state)
    return model


def _read_arrays(p: Path, where: str) -> dict[str, npt.NDArray[Any]]:
    """Every ``NAME.npy`` member of the archive, read without ever unpickling."""
    out: dict[str, npt.NDArray[Any]] = {}
    try:
        with zipfile.ZipFile(p) as zf:
            for info in zf.infolist():
                name = info.filename
                if not name.endswith(".npy") or name[:-4] in out:
                    raise _Refused(f"{where} holds an unexpected member {name!r}")
                data = io.BytesIO(zf.read(info))  # checks the CRC: catches a changed byte
                version = np.lib.format.read_magic(data)
                read_header = {
                    (1, 0): np.lib.format.read_array_header_1_0,
                    (2, 0): np.lib.format.read_array_header_2_0,
                }.get(version)
                if read_header is None:
                    raise _Refused(f"{where}: array {name[:-4]!r} has .npy version {version}")
                _, _, dtype = read_header(data)
                if dtype.hasobject:
                    raise _Refused(
                        f"{where}: array {name[:-4]!r} holds Python objects (dtype {dtype}), "
                        "which only a pickle can restore; refused without unpickling "
                        "(lr_variants never writes one)"
                    )
                data.seek(0)
                out[name[:-4]] = np.lib.format.read_array(data, allow_pickle=False)
    except _Refused:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error) as exc:
        raise ValueError(
            f"{where} is not a readable lr_variants model (truncated or corrupted .npz): {exc}"
        ) from None
    return out


def _metadata(arrays: dict[str, npt.NDArray[Any]], where: str) -> dict[str, Any]:
    """The JSON metadata, checked for format, version and the type of every field."""
    raw = arrays.get("metadata")
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        got = "nothing" if raw is None else f"{raw.dtype} of shape {raw.shape}"
        raise ValueError(
            f"{where} is not an lr_variants model: it must hold 'metadata' as uint8 JSON bytes; "
            f"got {got}"
        )
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{where}: its metadata is not valid UTF-8 JSON: {exc}") from None
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
    if set(meta) != _META_KEYS:
        raise ValueError(
            f"{where}: metadata must have keys {sorted(_META_KEYS)}; got {sorted(meta)}"
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
