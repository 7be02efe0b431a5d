"""This machine's memory read bandwidth, measured in the same run as the ``full`` workload.

The ``full`` workload's X (1,000,000 x 100 float32, 400 MB; far larger than any cache) is read
once, with the BLAS NumPy uses and the threads the thread policy gives a batch this large
(``lr_variants._threads``: every core, as the ``full`` rows train with), two ways:

- ``sdot``: ``np.dot(x, x)`` on X as one 400 MB vector (each element is loaded once);
- ``gemv``: ``X @ v`` on a column-major copy of X, the access pattern of a full-batch step.

The faster of the two is the bandwidth ``docs/benchmarks.md`` compares training against:
a full-batch step must read X twice (``X @ theta``, then ``X^T r``), so its floor is
``2 * X.nbytes / bandwidth``.

``test_first_product`` times a full-batch step's first product alone, ``z = X w`` read the way
the fast variants read X (row-major, as given, in cache-sized blocks, one run of blocks per
thread), once with NumPy's BLAS (``np.dot``) and once with torch's (``torch.mv``): what each
library's read of X costs before any per-row work, a floor for a step built that way.

``test_step_in_cache`` times the fast variants' whole full-batch pass (``read_once``: the
first product, each row's loss and residual, ``X^T r``; numba's one pass, a tile at a time) on
X's first rows, which stay in cache from one round to the next: the pass's arithmetic without the
read from memory. Scaled to X's rows, it says whether the arithmetic alone could bound a step
at more than one read of X. Beside it, the two products' GFLOP/s (``4 n d`` floating-point
operations a pass) and, as the cores' reachable peak, NumPy's BLAS on a 1024 x 1024 float32
matrix product on the same threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import workloads as wl

import lr_variants as lv
from lr_variants._backends import READ_BLOCK_ELEMENTS
from lr_variants._threads import block_runs, decide, in_force, map_runs
from lr_variants._threads import scope as thread_scope
from lr_variants._validate import row_blocks


@pytest.mark.parametrize("method", ["sdot", "gemv"])
def test_read_bandwidth(benchmark: Any, sizes: dict[str, wl.Workload], method: str) -> None:
    work = sizes["full"]
    X, _ = wl.data(work)
    if method == "sdot":
        x = X.reshape(-1)  # a view: no copy

        def read() -> Any:
            return np.dot(x, x)

        expected = float(np.dot(x[:1000].astype(np.float64), x[:1000]))
    else:
        XF = np.asfortranarray(X)
        v = np.ones(work.d, dtype=np.float32)

        def read() -> Any:
            return XF @ v

        expected = float(np.sum(X[:1000].astype(np.float64), axis=1)[0])
    benchmark.group = "full"
    with thread_scope(None, X.size) as decision:  # the threads train() uses on X
        out = benchmark.pedantic(read, rounds=10 * work.rounds, warmup_rounds=1, iterations=1)
    got = float(out) if method == "sdot" else float(out[0])
    assert np.isfinite(got)
    if method == "gemv":
        assert got == pytest.approx(expected, rel=1e-4, abs=1e-4)
    else:
        assert got > expected  # a sum of squares over all of X exceeds that of its first rows
    benchmark.extra_info.update(
        {
            "workload": "bandwidth",
            "method": method,
            "bytes_read": X.nbytes,
            "n": work.n,
            "d": work.d,
            **wl.thread_info(),
            "threads_used": decision.threads,
        }
    )


def _first_product(library: str, X: np.ndarray, w: np.ndarray) -> Callable[[], np.ndarray]:
    """``z = X w`` read as the fast variants' full-batch pass reads X: cache-sized blocks of
    rows, contiguous runs of blocks in parallel (one per thread in force), each library call on
    one thread (lr_variants._threads.block_runs / map_runs)."""
    n, d = X.shape
    block = max(1, READ_BLOCK_ELEMENTS // d)
    z = np.empty(n, dtype=X.dtype)
    if library == "numpy":

        def run(rows: slice) -> None:
            for b in row_blocks(rows.stop - rows.start, d, READ_BLOCK_ELEMENTS):
                part = slice(rows.start + b.start, rows.start + b.stop)
                np.dot(X[part], w, out=z[part])

    else:
        import torch

        Xt, wt, zt = torch.from_numpy(X), torch.from_numpy(w), torch.from_numpy(z)  # no copies

        def run(rows: slice) -> None:
            for b in row_blocks(rows.stop - rows.start, d, READ_BLOCK_ELEMENTS):
                part = slice(rows.start + b.start, rows.start + b.stop)
                torch.mv(Xt[part], wt, out=zt[part])

    def product() -> np.ndarray:
        map_runs(run, block_runs(n, block, in_force()), torch_calls=library == "torch")
        return z

    return product


@pytest.mark.parametrize("library", ["numpy", "torch"])
def test_first_product(benchmark: Any, sizes: dict[str, wl.Workload], library: str) -> None:
    work = sizes["full"]
    X, _ = wl.data(work)
    w = np.linspace(-1.0, 1.0, work.d, dtype=np.float32)
    expected = X[:3].astype(np.float64) @ w.astype(np.float64)
    product = _first_product(library, X, w)
    benchmark.group = "full"
    with thread_scope(None, X.size, torch_too=library == "torch") as decision:
        z = benchmark.pedantic(product, rounds=10 * work.rounds, warmup_rounds=1, iterations=1)
    # float32 dot products of d terms of size ~1: a few float32 ulps of the d-term sum
    np.testing.assert_allclose(z[:3], expected, rtol=1e-4, atol=1e-4 * work.d)
    benchmark.extra_info.update(
        {
            "workload": "product",
            "library": library,
            "bytes_read": X.nbytes,
            "n": work.n,
            "d": work.d,
            **wl.thread_info(),
            "threads_used": decision.threads,
        }
    )


def _gemm_gflops(rounds: int) -> float:
    """NumPy's BLAS on a 1024 x 1024 float32 matrix product, in GFLOP/s (``2 m^3`` operations;
    the fastest of ``rounds``), on the threads in force: what these cores reach at best."""
    a = np.linspace(-1.0, 1.0, 1024 * 1024, dtype=np.float32).reshape(1024, 1024)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        np.dot(a, a)
        best = min(best, time.perf_counter() - start)
    return 2 * 1024**3 / best / 1e9


def _min_seconds(fn: Callable[[], Any], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize("variant", ["numpy", "torch_manual", "numba"])
def test_step_in_cache(benchmark: Any, sizes: dict[str, wl.Workload], variant: str) -> None:
    work = sizes["full"]
    X, y = wl.data(work)
    # a pass's block (small sizes: a quarter of X); 4 blocks, 16 MB of X, stay in the
    # last-level cache between rounds
    block, blocks = min(READ_BLOCK_ELEMENTS // work.d, work.n // 4), 4
    if variant == "numba":
        pytest.importorskip("numba")
    model = lv.create(variant, work.d, impl="fast", dtype="float32", seed=3)
    engine = model.engine

    def pass_over(rows: int) -> Callable[[], Any]:
        Xa, ya = np.ascontiguousarray(X[:rows]), y[:rows].copy()  # as the pass reads X
        if variant == "torch_manual":
            import torch

            Xa, ya = torch.from_numpy(Xa), torch.from_numpy(ya)
        if variant == "numba":  # the rows as stored, read where they lie
            order = np.arange(rows)
            return lambda: engine.read_once(Xa, ya, None, order)
        return lambda: engine.read_once(Xa, ya, None)

    benchmark.group = "in-cache"  # not a training row of the full workload
    policy = decide(X.size).threads  # the threads train() gives a batch of all of X
    with thread_scope(1, X.size, torch_too=variant == "torch_manual"):  # one core's arithmetic
        run = pass_over(blocks * block)
        loss, g = benchmark.pedantic(run, rounds=20 * work.rounds, warmup_rounds=2, iterations=1)
        four = benchmark.stats.stats.min if not benchmark.disabled else _min_seconds(run, 3)
        one = _min_seconds(pass_over(block), rounds=20 * work.rounds)
        core_peak = _gemm_gflops(rounds=5)
    # the slope: a block's arithmetic, without the pass's fixed cost
    per_block = max(four - one, 0.0) / (blocks - 1)
    # against the float64 formulas: float32 products of d terms and float64 sums of the rows
    rows = blocks * block
    w, b = (np.asarray(p, dtype=np.float64) for p in model.get_params())
    t = X[:rows].astype(np.float64) @ w + b
    t = np.where(y[:rows] == 1, -t, t)
    r = 1.0 / (1.0 + np.exp(-t)) * np.where(y[:rows] == 1, -1.0, 1.0)
    assert float(loss) == pytest.approx(np.mean(np.logaddexp(0.0, t)), rel=1e-4)
    mean_g = np.asarray(g)[:-1] / (rows if variant == "numpy" else 1)  # numpy's is the sum
    np.testing.assert_allclose(mean_g, r @ X[:rows] / rows, rtol=1e-3, atol=1e-5)
    benchmark.extra_info.update(
        {
            "workload": "in_cache",
            "variant": variant,
            "impl": "fast",
            "block_rows": block,
            "n": work.n,
            "d": work.d,
            "x_bytes": X.nbytes,
            "block_s": per_block,
            # all of X's blocks shared perfectly among the policy's threads: a lower bound
            "full_s": per_block * (work.n / block) / policy,
            "policy_threads": policy,
            "core_gflops": 4 * block * work.d / per_block / 1e9 if per_block else None,
            "core_peak_gflops": core_peak,
            **wl.thread_info(),
        }
    )
