"""Model.save / lr_variants.load: a round trip keeps everything, training continues bit for bit,
and a bad file (truncated, tampered, from another format version, pickled) is refused with a
ValueError that names it."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import lr_variants as lv

X, Y = lv.two_blobs(20)  # 40 rows: 3 batches of 16 per epoch

# (dtype, SGD options): every variant continues bit for bit with each
MOMENTUM_CONFIGS = [
    ("float32", {"momentum": 0.9}),
    ("float64", {"momentum": 0.5, "nesterov": True, "weight_decay": 0.01}),
    ("float32", {"momentum": 0.8, "dampening": 0.3, "weight_decay": 0.05, "decay_bias": True}),
]


def _steps(model: lv.Model, index_batches: list[np.ndarray]) -> None:
    for idx in index_batches:
        model.step(X[idx], Y[idx])


def _snapshot(model: lv.Model) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    w, b = model.get_params()
    return np.append(w, b), model.get_state()


@pytest.mark.parametrize("variant", lv.VARIANTS)
@pytest.mark.parametrize("dtype,options", MOMENTUM_CONFIGS)
def test_loaded_model_continues_bit_for_bit(tmp_path: Path, variant: str, dtype, options) -> None:
    """Save after step k, load, take the remaining steps: the parameters and momentum buffers
    equal (np.array_equal) those of a run that never stopped."""
    idx = list(lv.batches(len(Y), epochs=3, batch_size=16, seed=5))
    k = 4
    uninterrupted = lv.create(variant, 2, dtype=dtype, lr=0.2, seed=3, **options)
    _steps(uninterrupted, idx)

    first = lv.create(variant, 2, dtype=dtype, lr=0.2, seed=3, **options)
    _steps(first, idx[:k])
    first.save(tmp_path / "model.npz")
    resumed = lv.load(tmp_path / "model.npz")
    assert set(resumed.get_state()) == {"momentum_w", "momentum_b"}
    _steps(resumed, idx[k:])

    p_ref, state_ref = _snapshot(uninterrupted)
    p, state = _snapshot(resumed)
    assert np.array_equal(p, p_ref)
    assert state.keys() == state_ref.keys()
    for key in state:
        assert np.array_equal(state[key], state_ref[key]), key


@pytest.mark.parametrize("sgd_impl", ["foreach", "fused"])
def test_module_options_survive_and_continue(tmp_path: Path, sgd_impl: str) -> None:
    """The module variant's loss form and torch SGD implementation are kept; continuing through
    train() equals training the same object on."""
    opts: dict[str, Any] = {"momentum": 0.9, "loss": "sigmoid_bce", "sgd_impl": sgd_impl}
    ref = lv.create("module", 2, **opts)
    lv.train(ref, X, Y, epochs=2, seed=1)
    ref.save(tmp_path / "m")
    loaded = lv.load(tmp_path / "m")
    assert loaded.options == {"loss": "sigmoid_bce", "sgd_impl": sgd_impl}
    lv.train(ref, X, Y, epochs=2, seed=2)
    lv.train(loaded, X, Y, epochs=2, seed=2)
    assert np.array_equal(_snapshot(loaded)[0], _snapshot(ref)[0])


@pytest.mark.parametrize("variant", lv.VARIANTS)
def test_round_trip_keeps_settings_and_parameters(tmp_path: Path, variant: str) -> None:
    opts: dict[str, Any] = {"lr": 0.05, "weight_decay": 0.1, "maximize": False}
    model = lv.create(variant, 2, dtype="float32", seed=7, **opts)
    lv.train(model, X, Y, epochs=1)
    path = tmp_path / "plain.model"
    model.save(path)
    loaded = lv.load(path)
    assert (loaded.name, loaded.n_features, loaded.dtype, loaded.device, loaded.sgd) == (
        model.name,
        model.n_features,
        model.dtype,
        model.device,
        model.sgd,
    )
    assert np.array_equal(_snapshot(loaded)[0], _snapshot(model)[0])
    assert loaded.get_state() == {}  # no momentum: no buffers, in the file or the model


@pytest.mark.parametrize("name", ["model.npz", "model.bin", "model", "dir.v2/model.lrv"])
def test_save_writes_exactly_the_path_given(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.parent.mkdir(exist_ok=True)
    lv.create("numpy", 3).save(str(path))
    assert path.is_file()
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no ".npz" appended
    assert lv.load(str(path)).n_features == 3


def test_device_can_be_overridden(tmp_path: Path) -> None:
    lv.create("torch_manual", 2).save(tmp_path / "m")
    assert lv.load(tmp_path / "m", device="cpu").device == "cpu"


# ---- bad files ----------------------------------------------------------------------------


def _good_arrays(tmp_path: Path) -> dict[str, np.ndarray]:
    model = lv.create("autograd", 2, momentum=0.9)
    lv.train(model, X, Y, epochs=1)
    model.save(tmp_path / "good")
    with np.load(tmp_path / "good") as npz:
        return {k: npz[k] for k in npz.files}


def _edit_meta(**changes: Any) -> Callable[[dict[str, np.ndarray]], None]:
    def edit(arrays: dict[str, np.ndarray]) -> None:
        meta = json.loads(arrays["metadata"].tobytes())
        meta.update(changes)
        arrays["metadata"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)

    return edit


def _drop_meta(key: str) -> Callable[[dict[str, np.ndarray]], None]:
    def edit(arrays: dict[str, np.ndarray]) -> None:
        meta = json.loads(arrays["metadata"].tobytes())
        del meta[key]
        arrays["metadata"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)

    return edit


SGD = {"lr": 0.1, "momentum": 0.9, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0}
SGD |= {"maximize": False, "decay_bias": False}

TAMPERED: list[tuple[str, Callable[[dict[str, np.ndarray]], None], str]] = [
    ("w shape", lambda a: a.update(w=np.zeros(3)), r"'w' must be float64 of shape \(2,\).*\(3,\)"),
    ("w dtype", lambda a: a.update(w=a["w"].astype(np.float32)), r"'w' must be float64"),
    ("b shape", lambda a: a.update(b=np.zeros(1)), r"'b' must be float64 of shape \(\)"),
    ("w nan", lambda a: a.update(w=np.array([np.nan, 0.0])), r"'w' must hold finite values"),
    (
        "buffer shape",
        lambda a: a.update(momentum_w=np.zeros(5)),
        r"'momentum_w' must be float64 of shape \(2,\)",
    ),
    ("one buffer", lambda a: a.pop("momentum_b"), r"must hold both .* or neither"),
    ("extra array", lambda a: a.update(extra=np.zeros(1)), r"must hold arrays .*'extra'"),
    ("no w", lambda a: a.pop("w"), r"must hold arrays \['metadata', 'w', 'b'\]"),
    ("no metadata", lambda a: a.pop("metadata"), r"must hold 'metadata' as uint8 JSON bytes"),
    (
        "metadata not JSON",
        lambda a: a.update(metadata=np.frombuffer(b"{variant: numpy", np.uint8)),
        r"metadata is not valid UTF-8 JSON",
    ),
    (
        "metadata as text",
        lambda a: a.update(metadata=np.array('{"format": 1}')),
        r"must hold 'metadata' as uint8 JSON bytes; got <U13",
    ),
    ("unknown variant", _edit_meta(variant="jax"), r"name must be one of .*; got 'jax'"),
    ("format version", _edit_meta(version=2), r"format version 2 \(written by a newer"),
    ("version 0", _edit_meta(version=0), r"format version 0; this lr_variants reads version 1"),
    ("version text", _edit_meta(version="1"), r"format version '1'"),
    ("other format", _edit_meta(format="other"), r"is not an lr_variants model: format must be"),
    ("n_features", _edit_meta(n_features=3), r"'w' must be float64 of shape \(3,\)"),
    ("n_features bool", _edit_meta(n_features=True), r"'n_features' must be an integer >= 1"),
    ("dtype", _edit_meta(dtype="float16"), r"dtype must be one of"),
    ("lr", _edit_meta(sgd=SGD | {"lr": -1}), r"lr must be > 0.0; got -1.0"),
    ("nesterov type", _edit_meta(sgd=SGD | {"nesterov": 1}), r"nesterov must be a bool; got 1"),
    ("sgd keys", _edit_meta(sgd={"lr": 0.1}), r"metadata 'sgd' must have keys"),
    ("no momentum", _edit_meta(sgd=SGD | {"momentum": 0.0}), r"momentum buffers but its momentum"),
    ("extra key", _edit_meta(note="hi"), r"metadata must have keys .*'note'"),
    ("missing key", _drop_meta("dtype"), r"metadata must have keys"),
    ("bad device", _edit_meta(device="tpu"), r"device .*pass device=\.\.\. to load it"),
    ("loss on numpy", _edit_meta(variant="numpy", loss="sigmoid_bce"), r"loss must be 'stable'"),
]


@pytest.mark.parametrize("edit,match", [t[1:] for t in TAMPERED], ids=[t[0] for t in TAMPERED])
def test_tampered_file_is_refused(tmp_path: Path, edit, match: str) -> None:
    arrays = _good_arrays(tmp_path)
    edit(arrays)
    path = tmp_path / "tampered"
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(ValueError, match=match) as info:
        lv.load(path)
    assert "model file" in str(info.value)


def test_truncated_or_corrupted_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    lv.create("numpy", 2, momentum=0.9).save(path)
    good = path.read_bytes()
    readable = r"is not a readable lr_variants model \(truncated or corrupted .npz\)"
    for bad in (good[: len(good) // 2], good[:-1], b"", b"not an archive"):
        path.write_bytes(bad)
        with pytest.raises(ValueError, match=readable):
            lv.load(path)
    flipped = bytearray(good)
    at = good.index(b"<f8") + 40  # inside w's data: the CRC no longer matches
    flipped[at] ^= 0xFF
    path.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match=readable):
        lv.load(path)
    with pytest.raises(ValueError, match=r"path must be an existing file"):
        lv.load(tmp_path / "missing.npz")
    with pytest.raises(TypeError, match=r"path must be a str or os.PathLike; got int"):
        lv.load(3)  # type: ignore[arg-type]


class _Payload:
    """Unpickling this object creates a directory: the test sees whether it was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return os.mkdir, (str(self.marker),)


@pytest.mark.parametrize("key", ["momentum_w", "metadata", "w"])
def test_pickled_object_array_is_refused_without_unpickling(tmp_path: Path, key: str) -> None:
    marker = tmp_path / "unpickled"
    arrays: dict[str, Any] = _good_arrays(tmp_path)
    arrays[key] = np.array([_Payload(marker), 1.0], dtype=object)
    path = tmp_path / "evil.npz"
    with open(path, "wb") as f:
        np.savez(f, **arrays)  # np.save pickles an object array (allow_pickle defaults to True)
    with pytest.raises(ValueError, match=rf"array '{key}' holds Python objects .* refused"):
        lv.load(path)
    assert not marker.exists()
    # the payload is live: loading the same file with pickle allowed runs it
    with np.load(path, allow_pickle=True) as npz:
        npz[key]
    assert marker.is_dir()
