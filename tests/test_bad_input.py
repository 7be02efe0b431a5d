"""Bad input: a ValueError/TypeError naming the argument, and the model left exactly as it was."""

from __future__ import annotations

import numpy as np
import pytest

import lr_variants as lv

X_OK = np.array([[0.5, -1.0], [1.5, 2.0], [-0.5, 0.25]])
Y_OK = np.array([0.0, 1.0, 1.0])

CREATE_CASES = [
    ({"name": "jax"}, ValueError, r"name must be one of .*got 'jax'"),
    ({"name": 3}, TypeError, r"name must be a string"),
    ({"n_features": 0}, ValueError, r"n_features must be >= 1; got 0"),
    ({"n_features": 2.0}, TypeError, r"n_features must be an integer"),
    ({"lr": 0.0}, ValueError, r"lr must be > 0.0; got 0.0"),
    ({"lr": -0.1}, ValueError, r"lr must be > 0.0; got -0.1"),
    ({"lr": float("nan")}, ValueError, r"lr must be finite; got nan"),
    ({"lr": float("inf")}, ValueError, r"lr must be finite; got inf"),
    ({"lr": "0.1"}, TypeError, r"lr must be a real number"),
    (
        {"dtype": "float16"},
        ValueError,
        r"dtype must be one of \('float32', 'float64'\); got 'float16'",
    ),
    (
        {"name": "numpy", "device": "cuda"},
        ValueError,
        r"device must be 'cpu' for the numpy variant",
    ),
    ({"name": "module", "device": "tpu"}, ValueError, r"device must be a torch device string"),
    ({"name": "module", "device": "meta"}, ValueError, r"device type must be one of"),
    (
        {"name": "autograd", "loss": "sigmoid_bce"},
        ValueError,
        r"loss must be 'stable' for the autograd",
    ),
    ({"name": "module", "loss": "mse"}, ValueError, r"loss must be one of"),
    ({"seed": -1}, ValueError, r"seed must be >= 0; got -1"),
]


@pytest.mark.parametrize("kwargs,exc,match", CREATE_CASES)
def test_create_rejects(kwargs: dict, exc: type, match: str) -> None:
    args = {"name": "module", "n_features": 2, **kwargs}
    with pytest.raises(exc, match=match):
        lv.create(args.pop("name"), args.pop("n_features"), **args)


def test_cuda_without_cuda_is_a_value_error() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is present here; the error is for machines without it")
    with pytest.raises(ValueError, match=r"device must be available here; got 'cuda:0' but CUDA"):
        lv.create("module", 2, device="cuda:0")


DATA_CASES = [
    (
        np.array([[np.nan, 0.0], [1, 1], [2, 2]]),
        Y_OK,
        ValueError,
        r"X must hold finite .* got nan at index \(0, 0\)",
    ),
    (
        np.array([[np.inf, 0.0], [1, 1], [2, 2]]),
        Y_OK,
        ValueError,
        r"X must hold finite .*got inf",
    ),
    (
        np.array([[1e39, 0.0], [1, 1], [2, 2]]),
        Y_OK,
        ValueError,
        r"X must hold finite float32 values; got 1e\+39 .* overflows float32",
    ),
    (
        X_OK,
        np.array([0.0, np.nan, 1.0]),
        ValueError,
        r"y must hold only 0 and 1; got nan at index 1",
    ),
    (X_OK, np.array([0, 2, 1]), ValueError, r"y must hold only 0 and 1; got 2.0 at index 1"),
    (X_OK, np.array([0, 1]), ValueError, r"y must have one label per row of X \(3\); got 2"),
    (
        X_OK,
        np.array([[0], [1], [1]]),
        ValueError,
        r"y must be 1-D with shape \(N,\); got shape \(3, 1\)",
    ),
    (
        X_OK[:, :1],
        Y_OK,
        ValueError,
        r"X must have 2 columns \(the model's n_features\); got shape \(3, 1\)",
    ),
    (
        np.array([0.5, 1.0]),
        Y_OK[:2],
        ValueError,
        r"X must be 2-D with shape \(N, n_features\); got shape \(2,\)",
    ),
    (
        np.empty((0, 2)),
        np.empty(0),
        ValueError,
        r"X must have at least one row; got shape \(0, 2\)",
    ),
    (
        [["a", "b"], ["c", "d"], ["e", "f"]],
        Y_OK,
        TypeError,
        r"X must hold real numbers; got an array of dtype <U1",
    ),
    ([[1.0, 2.0], [3.0]], Y_OK[:2], ValueError, r"X must be a rectangular array of numbers"),
    (X_OK, ["0", "1", "1"], TypeError, r"y must hold real numbers"),
    (
        X_OK.astype(complex),
        Y_OK,
        TypeError,
        r"X must hold real numbers; got an array of dtype complex128",
    ),
]


@pytest.mark.parametrize("variant", lv.VARIANTS)
@pytest.mark.parametrize("X,y,exc,match", DATA_CASES)
def test_methods_reject_bad_data_and_change_nothing(variant, X, y, exc, match) -> None:
    model = lv.create(variant, 2, dtype="float32")
    before = model.get_params()
    calls = [
        lambda: model.loss(X, y),
        lambda: model.gradients(X, y),
        lambda: model.step(X, y),
        lambda: lv.train(model, X, y, epochs=1),
        lambda: lv.accuracy(model, X, y),
    ]
    for call in calls:
        with pytest.raises(exc, match=match):
            call()
    np.testing.assert_array_equal(model.get_params()[0], before[0])
    assert model.get_params()[1] == before[1]


TRAIN_CASES = [
    ({"epochs": -1}, ValueError, r"epochs must be >= 0; got -1"),
    ({"epochs": 1.5}, TypeError, r"epochs must be an integer"),
    ({"batch_size": 0}, ValueError, r"batch_size must be >= 1; got 0"),
    ({"batch_size": "32"}, TypeError, r"batch_size must be an integer"),
    ({"seed": -3}, ValueError, r"seed must be >= 0; got -3"),
    ({"shuffle": "yes"}, TypeError, r"shuffle must be a bool"),
]


@pytest.mark.parametrize("kwargs,exc,match", TRAIN_CASES)
def test_train_rejects_bad_options_before_any_step(kwargs, exc, match) -> None:
    model = lv.create("module", 2)
    before = model.get_params()
    with pytest.raises(exc, match=match):
        lv.train(model, X_OK, Y_OK, **kwargs)
    np.testing.assert_array_equal(model.get_params()[0], before[0])


SET_PARAMS_CASES = [
    (np.zeros(3), 0.0, ValueError, r"w must have shape \(2,\); got shape \(3,\)"),
    (np.zeros((1, 2)), 0.0, ValueError, r"w must have shape \(2,\); got shape \(1, 2\)"),
    (
        np.array([np.nan, 0.0]),
        0.0,
        ValueError,
        r"w must hold finite float32 values; got nan at index 0",
    ),
    (
        np.array([1e39, 0.0]),
        0.0,
        ValueError,
        r"w must hold finite float32 values; got 1e\+39 at index 0, which overflows",
    ),
    (np.zeros(2), float("inf"), ValueError, r"b must hold finite float32 values; got inf"),
    (np.zeros(2), [1.0, 2.0], ValueError, r"b must be a single number; got shape \(2,\)"),
    (np.zeros(2), "0", TypeError, r"b must be an array of numbers; got str"),
]


@pytest.mark.parametrize("variant", lv.VARIANTS)
@pytest.mark.parametrize("w,b,exc,match", SET_PARAMS_CASES)
def test_set_params_rejects(variant, w, b, exc, match) -> None:
    model = lv.create(variant, 2)
    before = model.get_params()
    with pytest.raises(exc, match=match):
        model.set_params(w, b)
    np.testing.assert_array_equal(model.get_params()[0], before[0])
    assert model.get_params()[1] == before[1]


def test_predict_proba_rejects_wrong_width() -> None:
    with pytest.raises(ValueError, match=r"X must have 2 columns"):
        lv.create("numpy", 2).predict_proba(np.zeros((4, 3)))
