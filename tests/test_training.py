"""The shared batching and training loop, and agreement of the variants' trajectories."""

from __future__ import annotations

import numpy as np
import pytest
import reference as ref

import lr_variants as lv


def test_batches_are_permutations_cut_in_order() -> None:
    steps = list(lv.batches(10, epochs=3, batch_size=4, seed=1))
    assert [len(s) for s in steps] == [4, 4, 2] * 3
    for e in range(3):
        np.testing.assert_array_equal(
            np.sort(np.concatenate(steps[3 * e : 3 * e + 3])), np.arange(10)
        )
    again = list(lv.batches(10, epochs=3, batch_size=4, seed=1))
    assert all(np.array_equal(a, b) for a, b in zip(steps, again, strict=True))
    other = list(lv.batches(10, epochs=3, batch_size=4, seed=2))
    assert not all(np.array_equal(a, b) for a, b in zip(steps, other, strict=True))
    plain = np.concatenate(list(lv.batches(10, epochs=1, batch_size=4, seed=1, shuffle=False)))
    np.testing.assert_array_equal(plain, np.arange(10))


def test_history_shapes_and_weighted_mean() -> None:
    X, y = lv.two_blobs(50)
    model = lv.create("numpy", 2, dtype="float64")
    h = lv.train(model, X, y, epochs=3, batch_size=32)
    assert h.batch_loss.shape == (3, 4) and h.n_steps == 12
    np.testing.assert_array_equal(h.batch_sizes, [32, 32, 32, 4])
    np.testing.assert_allclose(h.epoch_loss, h.batch_loss @ [32, 32, 32, 4] / 100)
    assert h.seconds > 0


def test_train_follows_the_reference_sgd_on_the_shared_batches() -> None:
    """Every step of train() is one float64 reference SGD step on batch_plan's batches."""
    X, y = lv.two_blobs(40)
    model = lv.create("numpy", 2, dtype="float64", lr=0.3, seed=4)
    w0, b0 = model.get_params()
    h = lv.train(model, X, y, epochs=4, batch_size=16, seed=9)
    idx = list(lv.batches(80, epochs=4, batch_size=16, seed=9))
    path = ref.sgd(X, y, w0, b0, lr=0.3, index_batches=idx)
    w, b = model.get_params()
    np.testing.assert_allclose(w, path[-1][0], rtol=1e-12)
    assert b == pytest.approx(path[-1][1], rel=1e-12)
    assert h.batch_loss[0, 0] == pytest.approx(ref.loss(X[idx[0]], y[idx[0]], w0, b0), rel=1e-13)


def test_zero_epochs_and_full_batch() -> None:
    X, y = lv.two_blobs(20)
    model = lv.create("autograd", 2, dtype="float64")
    before = model.get_params()
    h = lv.train(model, X, y, epochs=0)
    assert h.batch_loss.shape == (0, 2)
    np.testing.assert_array_equal(model.get_params()[0], before[0])
    h = lv.train(model, X, y, epochs=5, batch_size=None)
    assert h.batch_loss.shape == (5, 1)
    # full batch: gradient descent on the whole data set, whatever shuffle says
    w, b = before
    for _ in range(5):
        gw, gb = ref.gradients(X, y, w, b)
        w, b = w - 0.1 * gw, b - 0.1 * gb
    np.testing.assert_allclose(model.get_params()[0], w, rtol=1e-12)


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-9), ("float32", 2e-5)])
def test_variants_follow_the_same_trajectory(dtype: str, tol: float) -> None:
    """The article's training (100 epochs, batch 32, lr 0.1) gives the same parameters in every
    variant: within 1e-9 in float64 (rounding differences only, ~1e-15 per step over 3,200 steps);
    in float32 within 2e-5 (float32's 6e-8 per step, grown over 3,200 steps on |w| ~ 2.6)."""
    X, y = lv.two_blobs()
    finals = {}
    for name in lv.VARIANTS:
        model = lv.create(name, 2, dtype=dtype, seed=42)
        lv.train(model, X, y, epochs=100, batch_size=32, seed=42)
        finals[name] = np.array([*model.get_params()[0], model.get_params()[1]])
        assert lv.accuracy(model, X, y) >= 0.99
    for name, p in finals.items():
        np.testing.assert_allclose(p, finals["numpy"], rtol=0, atol=tol, err_msg=name)


@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
def test_divergence_stops_with_a_clear_error() -> None:
    X = np.array([[1e30], [-1e30]])
    y = np.array([0.0, 1.0])
    model = lv.create("numpy", 1, dtype="float32", lr=1e10)
    with pytest.raises(
        FloatingPointError,
        match=r"training diverged: the loss became (inf|nan) in epoch \d+ \(step \d+\)",
    ):
        lv.train(model, X, y, epochs=3, batch_size=2)
