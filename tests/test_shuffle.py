"""The batch plan's shuffled orders: drawn one epoch at a time or many at once, they are NumPy's
``permutation`` draws, and the generator ends in NumPy's state; the compiled twin is the one
in use where numba is installed, and one that disagrees with NumPy is never used."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lr_variants as lv
from lr_variants import _shuffle
from lr_variants._shuffle import Permutations, agrees, stacked


def numpy_orders(n: int, epochs: int, seed: int) -> tuple[list[np.ndarray], dict[str, Any]]:
    """The reference: ``permutation(n)`` per epoch, and the generator's state after."""
    rng = np.random.default_rng(seed)
    return [rng.permutation(n) for _ in range(epochs)], rng.bit_generator.state


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 700),
    seed=st.integers(0, 2**32 - 1),
    takes=st.lists(st.integers(0, 4), min_size=1, max_size=5),
)
def test_take_and_next_give_numpys_orders_and_state(n: int, seed: int, takes: list[int]) -> None:
    """Any mix of ``take(k)`` and ``next`` yields ``permutation(n)`` per epoch, in order."""
    epochs = sum(takes) + len(takes)
    plan = Permutations(n, epochs, seed)
    got: list[np.ndarray] = []
    for k in takes:
        block = plan.take(k)
        assert block.shape == (k, n) and block.dtype == np.int64
        got.extend(block)
        got.append(next(plan))
    want, state = numpy_orders(n, epochs, seed)
    assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))
    assert plan.rng.bit_generator.state == state
    assert plan.take(3).shape == (0, n)
    with pytest.raises(StopIteration):
        next(plan)


def test_the_twin_is_in_use_where_numba_is_installed() -> None:
    """With numba, ``take`` draws with the compiled twin: if a NumPy release changes its
    draw, the twin's check fails, users get NumPy's draw, and this test says so."""
    pytest.importorskip("numba")
    assert _shuffle.twin() is not None


def test_without_the_twin_take_is_numpys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_shuffle, "_twin", [None])
    plan = Permutations(50, 6, 3)
    got = [*plan.take(4), *plan.take(9)]
    want, state = numpy_orders(50, 6, 3)
    assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))
    assert plan.rng.bit_generator.state == state


def test_past_the_twins_range_take_is_numpys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above ``TWIN_MAX_ROWS`` rows (2^32: NumPy then draws 64-bit values), NumPy draws."""
    monkeypatch.setattr(_shuffle, "TWIN_MAX_ROWS", 10)
    monkeypatch.setattr(_shuffle, "twin", lambda: pytest.fail("the twin was asked"))
    got = Permutations(11, 2, 5).take(2)
    want, _ = numpy_orders(11, 2, 5)
    assert np.array_equal(got, np.stack(want))


def wrong_order(state: np.ndarray, out: np.ndarray) -> None:
    out[:] = np.arange(out.shape[1])  # every order the identity


def right_orders_state_unmoved(state: np.ndarray, out: np.ndarray) -> None:
    rng = np.random.default_rng(20261207)
    for row in out:
        row[:] = rng.permutation(out.shape[1])


@pytest.mark.parametrize("draw", [wrong_order, right_orders_state_unmoved])
def test_a_twin_that_disagrees_with_numpy_is_refused(draw: Any) -> None:
    assert not agrees(draw)


def test_a_twin_that_fails_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A twin that raises while checked (numba present but broken) leaves NumPy's draw."""
    pytest.importorskip("numba")

    def broken(draw: Any) -> bool:
        raise RuntimeError("no LLVM today")

    monkeypatch.setattr(_shuffle, "agrees", broken)
    assert _shuffle._checked_twin() is None


def test_stacked_reads_any_source_of_orders() -> None:
    """``arange(n)`` for rows as stored (None); other iterators stacked as they come."""
    rows = stacked(iter([None, np.array([2, 0, 1]), None]), 2, 3)
    np.testing.assert_array_equal(rows, [[0, 1, 2], [2, 0, 1]])
    assert stacked(iter([]), 4, 3).shape == (0, 3)
    same = stacked(iter([None, None, None]), 2, 3)  # rows as stored: one arange, not copies
    np.testing.assert_array_equal(same, [[0, 1, 2], [0, 1, 2]])
    assert same.strides[0] == 0 and not same.flags.writeable


def test_numba_trains_the_same_with_and_without_the_twin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole-epoch path draws its plan with ``take``: the same batches, the same run."""
    pytest.importorskip("numba")
    X, y = lv.two_blobs(60)

    def run() -> tuple[Any, ...]:
        model = lv.create("numba", 2, dtype="float64", seed=1)
        history = lv.train(model, X, y, epochs=7, batch_size=16, seed=8)
        return history.batch_loss, *model.get_params()

    twin = run()
    monkeypatch.setattr(_shuffle, "_twin", [None])
    plain = run()
    for a, b in zip(twin, plain, strict=True):
        np.testing.assert_array_equal(a, b)


def test_fewer_than_two_rows_draw_nothing_whatever_the_generator_kept() -> None:
    """NumPy draws nothing for 0 or 1 rows, even with a kept half value: neither does take."""
    for n in (0, 1):
        plan = Permutations(n, 3, 4)
        plan.rng.integers(0, 10, dtype=np.uint32)  # leaves a kept 32-bit half in the state
        state = plan.rng.bit_generator.state
        assert state["has_uint32"] == 1
        assert plan.take(3).shape == (3, n)
        assert plan.rng.bit_generator.state == state
