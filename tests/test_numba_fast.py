"""The numba variant's fast form: its one-pass step for large batches, and the vectorizable
``exp`` and ``log1p`` it uses in float32.

The pass is forced on small data by lowering its thresholds (a batch is "large" from
``LARGE_BATCH_VALUES`` values; a tile holds ``TILE_BYTES``), so that 5,000 rows make 40
tiles. Its tolerance against an extended-precision (``np.longdouble``) reference is the
blocked sum's of ``tests/test_scale.py`` (the numpy and torch_manual fast forms' read-once
pass), with ``m`` rows per tile and ``k`` tiles: each logit ``z_i`` is within
``e_i = (d + 2) eps (sum_j |x_ij w_j| + |b|)`` in any order of summation; the residual moves
by at most ``e_i / 4`` plus ``4 eps`` for its own evaluation (float64, within ``1e-9`` in
float32, then rounded once); a tile's sum in the model's dtype adds ``m eps sum|terms|``, the
float64 sum over tiles ``k eps sum|terms|``::

    |dL/dw_j error| <= (1/N) sum_i |x_ij| (e_i / 4 + 4 eps) + (m + k + 1) eps (1/N) sum_i |x_ij r_i|
    |L error|       <= (1/N) sum_i (e_i + 4 eps (l_i + 1)) + (m + k + 1) eps (1/N) sum_i l_i
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import lr_variants as lv
from lr_variants import _threads

numba = pytest.importorskip("numba")

from lr_variants.tuned import numba_fast  # noqa: E402  (needs numba)

N, D = 5000, 8
TILE_BYTES = 125 * D * 8  # 125 rows in float64, 250 in float32


@pytest.fixture
def small_tiles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(numba_fast, "LARGE_BATCH_VALUES", 1000)
    monkeypatch.setattr(numba_fast, "TILE_BYTES", TILE_BYTES)


def _data(dtype: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D)).astype(dtype)
    y = (rng.random(N) < 0.5).astype(dtype)
    return X, y


def _reference(
    X: np.ndarray, y: np.ndarray, u: np.ndarray, w: np.ndarray, b: float
) -> dict[str, Any]:
    """Loss and gradients in extended precision (row weights ``u``, summing to 1)."""
    XL, yL, uL = X.astype(np.longdouble), y.astype(np.longdouble), u.astype(np.longdouble)
    z = XL @ w.astype(np.longdouble) + np.longdouble(b)
    losses = uL * (np.maximum(z, 0) - z * yL + np.log1p(np.exp(-np.abs(z))))
    r = uL * (1 / (1 + np.exp(-z)) - yL)
    return {
        "loss": float(losses.sum()),
        "gw": (XL.T @ r).astype(np.float64),
        "gb": float(r.sum()),
        "e": (np.abs(X.astype(np.float64) * w).sum(axis=1) + abs(b)) * u,
        "l": losses.astype(np.float64),
        "r": r.astype(np.float64),
        "u": u,
    }


@pytest.mark.parametrize("order", ["stored", "shuffled"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_pass_matches_the_reference_within_the_blocked_sum_bound(
    small_tiles: None, dtype: str, threads: int, weighted: bool, order: str
) -> None:
    """Rows as stored are read where they lie, others gathered a tile at a time; one thread
    or contiguous runs in parallel: the same blocked sum, within the same bound."""
    X, y = _data(dtype)
    rng = np.random.default_rng(7)
    rows = np.arange(N) if order == "stored" else rng.permutation(N)
    u = rng.random(N) if weighted else np.ones(N)
    u /= u.sum()
    model = lv.create("numba", D, dtype=dtype, impl="fast", seed=1)
    model.set_params(np.linspace(-1.5, 1.5, D), 0.3)
    w, b = model.get_params()  # rounded to the model's dtype
    engine = model.engine
    uu = u[rows].astype(dtype) if weighted else None
    with _threads.scope(min(threads, _threads.cpu_count()), 0):
        loss, g = engine.read_once(X, y, uu, rows)

    ref = _reference(X[rows], y[rows], u[rows], w, b)
    eps = float(np.finfo(dtype).eps) / 2
    m = numba_fast.tile_rows(D, dtype)
    k = -(-N // m) + 1  # the tiles, and the runs' sum
    e = (D + 2) * eps * ref["e"]
    A = np.abs(X[rows].astype(np.float64))
    both = (A.T @ (e / 4 + 4 * eps * ref["u"]), (m + k + 1) * eps * (A.T @ np.abs(ref["r"])))
    bound_w = both[0] + both[1]
    bound_b = np.sum(e / 4 + 4 * eps * ref["u"]) + (m + k + 1) * eps * np.abs(ref["r"]).sum()
    bound_l = np.sum(e + 4 * eps * (ref["l"] + ref["u"])) + (m + k + 1) * eps * ref["l"].sum()
    assert np.all(np.abs(g[:-1] - ref["gw"]) <= bound_w), np.abs(g[:-1] - ref["gw"]) / bound_w
    assert abs(g[-1] - ref["gb"]) <= bound_b
    assert abs(loss - ref["loss"]) <= bound_l


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_fast_form_trains_as_the_textbook_kernels(small_tiles: None, dtype: str) -> None:
    """Full batch and shuffled large batches with momentum and weights: the same run as the
    textbook kernels, to a tolerance set by the model's dtype (float64: the blocked sums'
    rounding, some 1e-15 of terms of order 1; float32: 2e-5 over 8 epochs of steps whose
    gradients differ by some 1e-6)."""
    X, y = _data(dtype, seed=3)
    s = np.random.default_rng(4).random(N) + 0.5
    tol = 1e-12 if dtype == "float64" else 2e-5
    for batch in (None, 2000):
        kw: dict[str, Any] = {"epochs": 8, "batch_size": batch, "seed": 5, "sample_weight": s}
        runs = []
        for impl in ("textbook", "fast"):
            model = lv.create("numba", D, dtype=dtype, impl=impl, seed=3, momentum=0.5)
            runs.append((lv.train(model, X, y, **kw), model))
        (ht, mt), (hf, mf) = runs
        np.testing.assert_allclose(hf.batch_loss, ht.batch_loss, rtol=tol, atol=tol)
        np.testing.assert_allclose(mf.get_params()[0], mt.get_params()[0], rtol=0, atol=tol)
        np.testing.assert_allclose(mf.get_params()[1], mt.get_params()[1], rtol=0, atol=tol)
        state_t, state_f = mt.get_state(), mf.get_state()
        np.testing.assert_allclose(state_f["momentum_w"], state_t["momentum_w"], atol=tol)


@pytest.mark.parametrize("threads", [1, 2])
def test_overflowed_parameters_stop_training(small_tiles: None, threads: int) -> None:
    """Logits past float32's range make the loss non-finite in the pass, as in the textbook
    kernels, and training stops as diverged."""
    model = lv.create("numba", D, dtype="float32", impl="fast")
    model.set_params(np.full(D, 1e38), 0.0)
    X, y = np.ones((N, D), dtype=np.float32), np.ones(N, dtype=np.float32)
    with _threads.scope(min(threads, _threads.cpu_count()), 0):
        assert not np.isfinite(model.loss(X, y))
        with pytest.raises(FloatingPointError, match="training diverged"):
            lv.train(model, X, y, epochs=2, batch_size=None)


def test_large_values_do_not_overflow_where_the_textbook_kernels_do_not(
    small_tiles: None,
) -> None:
    """Each row's share is scaled by ``1/N`` before a tile sums it, as the textbook kernels
    scale each row: features near ``1e37`` in float32 (a tile's unscaled sum would pass
    float32's largest value, ``3.4e38``) give the same finite gradient as the textbook."""
    X, y = _data("float32")
    X = X * np.float32(1e37)
    fast = lv.create("numba", D, dtype="float32", impl="fast", seed=1)
    text = lv.create("numba", D, dtype="float32", seed=1)
    (fw, fb), (tw, tb) = fast.gradients(X, y), text.gradients(X, y)
    assert np.isfinite(fw).all() and np.isfinite(fb)
    # the textbook's float32 sums of N terms, and the fast form's blocked sums, within
    # N eps32 of the sum of |terms| each (sum |r_i x_ij| / N <= max |x_ij|, about 4e37)
    scale = np.abs(X).max()
    np.testing.assert_allclose(fw, tw, rtol=0, atol=2 * N * 6e-8 * float(scale))
    assert abs(fb - tb) <= 2 * N * 6e-8  # sum |r_i| / N <= 1
    assert np.isfinite(fast.loss(X, y)) and np.isfinite(text.loss(X, y))


def test_the_pass_is_compiled_once_per_machine(tmp_path: Any) -> None:
    """numba's on-disk cache keeps the compiled pass: a second process loads it (a cache hit,
    no compilation) for the same number of features, and compiles anew for another."""
    import subprocess
    import sys

    probe = (
        "import sys, numpy as np\n"
        "from lr_variants.tuned import numba_fast as nf\n"
        "d = int(sys.argv[1])\n"
        "one = nf._pass_for(d, nf.tile_rows(d, 'float32'), True)\n"
        "X, y, w = np.ones((300, d), np.float32), np.zeros(300, np.float32), np.ones(d, np.float32)\n"
        "one(X, y, np.empty(0, np.float32), 1 / 300, nf._STORED, w, np.float32(0), np.zeros(d + 1))\n"
        "print(sum(one.stats.cache_hits.values()), sum(one.stats.cache_misses.values()))\n"
    )
    env = {**__import__("os").environ, "NUMBA_CACHE_DIR": str(tmp_path)}

    def run(d: int) -> str:
        done = subprocess.run(
            [sys.executable, "-c", probe, str(d)], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.split()  # type: ignore[return-value]

    assert run(5) == ["0", "1"]  # compiled and saved
    assert run(5) == ["1", "0"]  # loaded
    assert run(6) == ["0", "1"]  # another number of features: its own code


def test_a_small_batch_runs_the_textbook_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Below the threshold the pass is never called: the article's batches of 32 run every
    epoch in one compiled call."""

    def refuse(*args: Any) -> Any:
        raise AssertionError("the one-pass path ran on a small batch")

    monkeypatch.setattr(numba_fast.FastNumbaLogisticRegression, "read_once", refuse)
    X, y = lv.two_blobs(100)
    model = lv.create("numba", 2, impl="fast", seed=1)
    text = lv.create("numba", 2, seed=1)
    hf, ht = lv.train(model, X, y, epochs=3), lv.train(text, X, y, epochs=3)
    np.testing.assert_array_equal(hf.batch_loss, ht.batch_loss)  # the same kernels


@numba.njit  # not cached: numba's cache would not see edits to numba_fast.py
def _exp_log1p(x: np.ndarray, e: np.ndarray, l1p: np.ndarray) -> None:
    for i in range(x.size):
        e[i] = numba_fast.exp_neg(x[i])
        if e[i] <= 1.0:
            l1p[i] = numba_fast.log1p_unit(e[i])


def _float32_grid() -> np.ndarray:
    """Every 61st float32 from 0 to 110 (about 18 million), as float64."""
    top = np.float32(110.0).view(np.int32)
    return np.arange(0, top, 61, dtype=np.int32).view(np.float32).astype(np.float64)


def test_exp_and_log1p_are_within_their_error_bound() -> None:
    """Relative to the C library's float64 ``exp`` and ``log1p`` (within an ulp of exact,
    ``1.1e-16``): within ``ERROR`` for every exponent float32 logits reach, and both ends."""
    x = -np.concatenate([_float32_grid(), np.random.default_rng(0).random(100_000) * 700])
    e, l1p = np.empty_like(x), np.empty_like(x)
    _exp_log1p(x, e, l1p)
    ref = np.exp(x)
    normal = ref > np.finfo(np.float64).tiny
    assert np.all(np.abs(e - ref)[normal] <= numba_fast.ERROR * ref[normal])
    assert np.all(np.abs(e - ref)[~normal] <= 2.0**-1074)  # subnormal: one unit of the last place
    ref = np.log1p(e)
    assert np.all(np.abs(l1p - ref) <= numba_fast.ERROR * ref)
    ends = np.array([0.0, -0.0, -745.0, -746.0, -np.inf, np.nan])
    e, l1p = np.empty_like(ends), np.full_like(ends, -1.0)
    _exp_log1p(ends, e, l1p)
    assert e[0] == e[1] == 1.0 and abs(l1p[0] - np.log(2.0)) <= numba_fast.ERROR * np.log(2.0)
    assert 0 <= e[2] <= 2.0**-1074 and 0 <= e[4] <= 2.0**-1074
    assert np.isnan(e[5])


def test_float32_terms_round_to_within_one_ulp_of_the_correctly_rounded_ones() -> None:
    """Each float32 logit's loss term and ``p - y`` (both labels), rounded to float32, are
    within one float32 ulp of the long-double value rounded to float32: the float64 result is
    within ``ERROR`` (a hundredth of a float32 ulp) of exact, so it rounds the same way except
    next to a tie, where it can land one ulp off."""
    z = _float32_grid()[::4].astype(np.float32)
    z = np.concatenate([z, -z])
    for label in (0.0, 1.0):
        y = np.full(z.size, label, dtype=np.float32)
        t, r = np.empty(z.size), np.empty(z.size, dtype=np.float32)
        numba_fast._terms(z, y, np.empty(0, dtype=np.float32), 1.0, t, r, True)
        tL = z.astype(np.longdouble) * (1 - 2 * label)  # softplus(t), sign(t) sigmoid(t)
        term = np.maximum(tL, 0) + np.log1p(np.exp(-np.abs(tL)))
        resid = (1 - 2 * label) / (1 + np.exp(-tL))
        for got, want in ((t.astype(np.float32), term), (r, resid)):
            want32 = want.astype(np.float32)
            ulps = np.abs(got.astype(np.float64) - want32) / np.spacing(np.abs(want32))
            assert np.all(ulps <= 1.0), float(np.max(ulps))
