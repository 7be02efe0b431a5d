"""Saving and loading models: [`save`][lr_variants.io.save] and [`load`][lr_variants.io.load] (the
file format, its checks and limits are in ``lr_variants._modelfile``)."""

from __future__ import annotations

import os

from lr_variants._files import LIMITS, Limits
from lr_variants._model import Model
from lr_variants._modelfile import FORMAT, VERSION, read, to_arrays, write
from lr_variants.registry import create

__all__ = ["FORMAT", "LIMITS", "VERSION", "Limits", "load", "save", "to_arrays"]


def save(model: Model, path: str | os.PathLike[str]) -> None:
    """Write ``model`` to ``path`` (exactly that name), atomically: a failure part-way (full
    disk, ``KeyboardInterrupt``) leaves any file already at ``path`` unchanged and no temporary
    file behind. ``ValueError`` if it cannot be written. The same as ``model.save(path)``."""
    write(model, path)


def load(path: str | os.PathLike[str], *, device: str | None = None) -> Model:
    """The model saved at ``path`` by [`Model.save`][lr_variants._model.Model.save], on the device
    it was saved from, or on ``device`` if given (e.g. ``"cpu"`` for a model trained on CUDA).
    A damaged, hostile or newer-format file is a ``ValueError`` naming the file."""
    meta, arrays = read(path)
    where = f"model file {str(path)!r}"
    try:
        model = create(
            meta["variant"],
            meta["n_features"],
            dtype=meta["dtype"],
            device=meta["device"] if device is None else device,
            loss=meta["loss"],
            sgd_impl=meta["sgd_impl"],
            impl=meta.get("impl", "textbook"),
            **meta["sgd"],
        )
        model.set_params(arrays["w"], arrays["b"])
    except (ValueError, TypeError) as exc:
        hint = " (pass device=... to load it on another device)" if device is None else ""
        raise ValueError(f"{where}: {exc}{hint if 'device' in str(exc) else ''}") from None
    model.set_state({k: arrays[k] for k in ("momentum_w", "momentum_b") if k in arrays})
    return model
