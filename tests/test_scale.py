"""Big data: the native-dtype data path, the read-once full-batch pass, memory-mapped data.

The read-once pass is forced on small data by lowering the thresholds (large data arrive without
the bias column above ``BIAS_COLUMN_MAX_BYTES``; blocks of ``READ_BLOCK_ELEMENTS``), so that
5,000 rows make 40 blocks.

Tolerance of the read-once pass, against an extended-precision (``np.longdouble``) reference on
the same data and parameters, with ``eps`` the unit roundoff of the model's dtype, ``m`` rows per
block and ``k`` blocks: each logit ``z_i = x_i . w + b`` is within
``e_i = (d + 2) eps (sum_j |x_ij w_j| + |b|)``; the residual ``r_i = sigmoid(z_i) - y_i`` moves by
at most ``e_i / 4`` (sigmoid's slope) plus ``4 eps`` for its own evaluation; a block's sum of
``m`` terms adds ``m eps sum|terms|`` and the sum over blocks ``k eps sum|terms|``. So

    |dL/dw_j error| <= (1/N) sum_i |x_ij| (e_i / 4 + 4 eps) + (m + k + 1) eps (1/N) sum_i |x_ij r_i|
    |L error|       <= (1/N) sum_i (e_i + 4 eps (l_i + 1)) + (m + k + 1) eps (1/N) sum_i l_i

(``+ 1``: the final rounding to the model's dtype).
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import lr_variants as lv
from lr_variants import _backends, _threads
from lr_variants.tuned import numpy_fast, torch_manual_fast

N, D, BLOCK = 5000, 8, 1000  # BLOCK elements: 125 rows, 40 blocks


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_backends, "BIAS_COLUMN_MAX_BYTES", 0)
    monkeypatch.setattr(numpy_fast, "READ_BLOCK_ELEMENTS", BLOCK)
    monkeypatch.setattr(torch_manual_fast, "READ_BLOCK_ELEMENTS", BLOCK)


def _data(dtype: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D)).astype(dtype)
    y = (rng.random(N) < 0.5).astype(dtype)
    return X, y


def _reference(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float) -> dict[str, Any]:
    """Loss and gradients in extended precision, with what the bounds need."""
    XL, yL = X.astype(np.longdouble), y.astype(np.longdouble)
    z = XL @ w.astype(np.longdouble) + np.longdouble(b)
    losses = np.maximum(z, 0) - z * yL + np.log1p(np.exp(-np.abs(z)))
    r = 1 / (1 + np.exp(-z)) - yL
    n = len(y)
    return {
        "loss": float(losses.mean()),
        "gw": (XL.T @ r / n).astype(np.float64),
        "gb": float(r.mean()),
        "e": (np.abs(X.astype(np.float64) * w).sum(axis=1) + abs(b)),
        "l": losses.astype(np.float64),
        "r": r.astype(np.float64),
    }


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("variant", ["numpy", "torch_manual"])
def test_read_once_matches_the_reference_within_the_blocked_sum_bound(
    small_blocks: None, variant: str, dtype: str, threads: int
) -> None:
    """Also with two threads in force (the thread policy's for a large batch): both fast forms
    then read contiguous runs of blocks in parallel and sum them in a fixed order, a blocked
    sum within the same bound."""
    X, y = _data(dtype)
    model = lv.create(variant, D, dtype=dtype, impl="fast", seed=1)
    w0 = np.linspace(-1.5, 1.5, D)
    model.set_params(w0, 0.3)
    w, b = model.get_params()  # rounded to the model's dtype
    Xa = model.engine.arrays.convert(X)
    assert Xa.shape == (N, D)  # no bias column: the read-once pass applies
    with _threads.scope(min(threads, _threads.cpu_count()), 0):
        gw, gb = model.gradients(X, y)
        loss = model.loss(X, y)

    ref = _reference(X, y, w, b)
    eps = float(np.finfo(dtype).eps) / 2
    m = BLOCK // D
    k = -(-N // m)
    e = (D + 2) * eps * ref["e"]
    A = np.abs(X.astype(np.float64))
    bound_w = (A.T @ (e / 4 + 4 * eps) + (m + k + 1) * eps * (A.T @ np.abs(ref["r"]))) / N
    bound_b = (np.sum(e / 4 + 4 * eps) + (m + k + 1) * eps * np.abs(ref["r"]).sum()) / N
    bound_l = (np.sum(e + 4 * eps * (ref["l"] + 1)) + (m + k + 1) * eps * ref["l"].sum()) / N
    assert np.all(np.abs(gw - ref["gw"]) <= bound_w), np.abs(gw - ref["gw"]) / bound_w
    assert abs(gb - ref["gb"]) <= bound_b
    assert abs(loss - ref["loss"]) <= bound_l
    # and the textbook variant (whole-batch sums) lands within the same distance of the
    # reference (plus its own N-term sums), so the two forms agree with each other
    text = lv.create(variant, D, dtype=dtype)
    text.set_params(w0, 0.3)
    tw, tb = text.gradients(X, y)
    assert np.all(np.abs(tw - gw) <= 2 * bound_w + N * eps * (A.T @ np.abs(ref["r"])) / N)
    assert abs(tb - gb) <= 2 * bound_b + eps * np.abs(ref["r"]).sum()


@pytest.mark.parametrize("n", [0, 1, 124, 125, 249, 250, 5000, 5001])
@pytest.mark.parametrize("threads", [1, 2, 3, 64])
def test_block_runs_cover_the_rows_in_whole_blocks(n: int, threads: int) -> None:
    runs = _threads.block_runs(n, 125, threads)
    assert runs[0].start == 0 and runs[-1].stop == n
    assert all(a.stop == b.start for a, b in itertools.pairwise(runs))  # contiguous, in order
    assert 1 <= len(runs) <= max(1, min(threads, n // 125))
    assert all((r.stop - r.start) % 125 == 0 and r.stop > r.start for r in runs[:-1])


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("variant", ["numpy", "torch_manual"])
def test_a_loss_past_float64s_range_is_inf_whatever_the_threads(
    small_blocks: None, variant: str, threads: int
) -> None:
    """Each run's sum of the loss terms (about 1e308 here) is finite and their sum is not: the
    loss is inf, as one run's sum would be, so training stops as diverged (not an
    ``OverflowError`` from summing the runs)."""
    model = lv.create(variant, D, dtype="float64", impl="fast")
    model.set_params(np.full(D, 5e303), 0.0)  # z = 4e304 on every row of ones
    X, y = np.ones((N, D)), np.zeros(N)
    with _threads.scope(min(threads, _threads.cpu_count()), 0):
        assert model.loss(X, y) == np.inf


@pytest.mark.parametrize("variant", ["numpy", "torch_manual"])
def test_a_parallel_read_uses_every_thread_and_restores_torch(
    small_blocks: None, monkeypatch: pytest.MonkeyPatch, variant: str
) -> None:
    """Two threads in force: the pass is split into two runs, and torch's threads (which a
    worker sets to 1 for its own calls) are what they were after it."""
    import torch

    if _threads.cpu_count() < 2:
        pytest.skip("needs 2 CPUs")
    seen: list[int] = []
    real = _threads.map_runs

    def counting(fn: Any, runs: list[slice], **options: Any) -> Any:
        seen.append(len(runs))
        return real(fn, runs, **options)

    monkeypatch.setattr(numpy_fast, "map_runs", counting)
    monkeypatch.setattr(torch_manual_fast, "map_runs", counting)
    X, y = _data("float32")
    model = lv.create(variant, D, dtype="float32", impl="fast", seed=1)
    before = torch.get_num_threads()
    with _threads.scope(2, 0):
        model.gradients(X, y)
        assert torch.get_num_threads() == 2
    assert seen == [2] and torch.get_num_threads() == before


@pytest.mark.parametrize("variant", ["numpy", "torch_manual"])
def test_read_once_training_follows_the_textbook_trajectory(
    small_blocks: None, variant: str
) -> None:
    X, y = _data("float64")
    fast = lv.create(variant, D, dtype="float64", impl="fast", seed=3, momentum=0.5)
    text = lv.create(variant, D, dtype="float64", seed=3, momentum=0.5)
    hf = lv.train(fast, X, y, epochs=5, batch_size=None)
    ht = lv.train(text, X, y, epochs=5, batch_size=None)
    # float64, 5 steps: each step's gradient within ~(m + k) eps of the other's
    np.testing.assert_allclose(hf.epoch_loss, ht.epoch_loss, rtol=1e-12)
    np.testing.assert_allclose(fast.get_params()[0], text.get_params()[0], rtol=0, atol=1e-12)


def test_float32_c_contiguous_x_is_never_copied(small_blocks: None) -> None:
    X, _ = _data("float32")
    for variant, impl in (("numpy", "textbook"), ("numpy", "fast")):
        arrays = lv.create(variant, D, dtype="float32", impl=impl).engine.arrays
        assert np.shares_memory(arrays.convert(X), X)
    arrays = lv.create("torch_manual", D, dtype="float32", impl="fast").engine.arrays
    assert arrays.convert(X).data_ptr() == X.ctypes.data


@pytest.mark.parametrize(
    ("row", "col", "value"),
    [(N - 1, D - 1, np.nan), (N // 2 + 3, 2, np.inf), (9000 // D, 0, -np.inf)],
    ids=["last-block", "mid-block", "block-start"],
)
def test_bad_values_anywhere_are_found_with_their_index(row: int, col: int, value: float) -> None:
    for dtype in ("float32", "float64"):
        X, y = _data(dtype)
        X[row, col] = value
        model = lv.create("numpy", D, dtype=dtype, impl="fast")
        before = model.get_params()
        expected = f"got {value!r} at index ({row}, {col}), which is not finite"
        with pytest.raises(ValueError, match=re.escape(expected)):
            lv.train(model, X, y, epochs=1, batch_size=None)
        np.testing.assert_array_equal(model.get_params()[0], before[0])


def test_bad_label_in_the_last_block_is_found() -> None:
    X, y = _data("float32")
    y[-1] = 0.5
    with pytest.raises(ValueError, match=r"y must hold only 0 and 1; got 0.5 at index 4999"):
        lv.train(lv.create("numpy", D), X, y, epochs=1)


def test_overflow_only_in_float32() -> None:
    X, y = _data("float64")
    X[N - 7, 3] = 1e39
    with pytest.raises(ValueError, match=r"got 1e\+39 at index \(4993, 3\), which overflows"):
        lv.train(lv.create("numpy", D, dtype="float32", impl="fast"), X, y, epochs=1)
    model = lv.create("numpy", D, dtype="float64", lr=1e-45)
    lv.train(model, X, y, epochs=1, batch_size=None)  # finite in float64: accepted


def _write_pair(tmp_path: Path, X: np.ndarray, y: np.ndarray) -> str:
    xm = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=X.dtype, shape=X.shape)
    xm[:] = X
    xm.flush()
    np.save(tmp_path / "y.npy", y)
    return f"{tmp_path / 'X.npy'},{tmp_path / 'y.npy'}"


@pytest.mark.parametrize(
    ("variant", "impl"), [("numpy", "fast"), ("torch_manual", "fast"), ("numpy", "textbook")]
)
def test_memory_mapped_training_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variant: str, impl: str
) -> None:
    monkeypatch.setattr(numpy_fast, "READ_BLOCK_ELEMENTS", BLOCK)
    monkeypatch.setattr(torch_manual_fast, "READ_BLOCK_ELEMENTS", BLOCK)
    monkeypatch.setattr(_backends, "GATHER_BYTES", 4096)  # a shuffled epoch: many blocks
    X, y = _data("float32")
    Xm, ym = lv.load_data(_write_pair(tmp_path, X, y))
    assert _backends.is_mapped(Xm) and Xm.dtype == np.float32
    for batch_size in (None, 100):
        mapped = lv.create(variant, D, dtype="float32", impl=impl, seed=5)
        memory = lv.create(variant, D, dtype="float32", impl=impl, seed=5)
        hm = lv.train(mapped, Xm, ym, epochs=2, batch_size=batch_size)
        hi = lv.train(memory, X, y, epochs=2, batch_size=batch_size)
        # the same batches in the same order; float32 rounding of another summation order
        # (no bias column, blocked sums) over at most 100 steps
        np.testing.assert_allclose(hm.batch_loss, hi.batch_loss, rtol=1e-5)
        np.testing.assert_allclose(mapped.get_params()[0], memory.get_params()[0], atol=1e-5)


def test_shuffled_epoch_over_a_memory_map_is_gathered_in_bounded_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_backends, "GATHER_BYTES", 4096)
    X, y = _data("float32")
    Xm, _ = lv.load_data(_write_pair(tmp_path, X, y))
    arrays = _backends.NumpyArrays("float32")
    order = np.random.default_rng(0).permutation(N)
    slices = [slice(i, min(i + 32, N)) for i in range(0, N, 32)]
    epoch = arrays.rows(arrays.convert(Xm), order)
    assert isinstance(epoch, _backends.Gathered)
    batches = list(arrays.batches(epoch, slices))
    assert len(batches) == len(slices)
    for s, batch in zip(slices, batches, strict=True):
        np.testing.assert_array_equal(batch, X[order[s]])
        assert batch.base is not None and batch.base.nbytes <= 4096  # a view of a bounded block


def test_a_bad_npy_pair_is_refused(tmp_path: Path) -> None:
    X, y = _data("float32")
    pair = _write_pair(tmp_path, X, y)
    (tmp_path / "bad.npy").write_bytes(b"not an array")
    with pytest.raises(ValueError, match=r"bad\.npy. is not a \.npy array"):
        lv.load_data(f"{tmp_path / 'X.npy'},{tmp_path / 'bad.npy'}")
    np.save(tmp_path / "obj.npy", np.array([1, None], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="holds Python objects"):
        lv.load_data(f"{tmp_path / 'X.npy'},{tmp_path / 'obj.npy'}")
    with (tmp_path / "X.npy").open("ab") as f:
        f.write(b"\0" * 4)
    with pytest.raises(ValueError, match="bytes after its header"):
        lv.load_data(pair)
    np.save(tmp_path / "X2.npy", X)
    np.save(tmp_path / "y3.npy", np.full(N, 3.0))
    with pytest.raises(ValueError, match=r"y must hold only 0 and 1; got 3\.0 at index 0"):
        lv.load_data(f"{tmp_path / 'X2.npy'},{tmp_path / 'y3.npy'}")


def test_predict_proba_and_accuracy_make_no_float64_copy_of_x() -> None:
    """float32 X for a float32 model: prediction allocates a few per-row vectors (about half
    of X here, with 10 columns), never a copy of X; a float64 copy alone would be twice X."""
    import tracemalloc

    rng = np.random.default_rng(0)
    X = rng.standard_normal((200_000, 10)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    model = lv.create("numpy", 10, dtype="float32")
    tracemalloc.start()
    model.predict_proba(X)
    lv.accuracy(model, X, y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < X.nbytes
