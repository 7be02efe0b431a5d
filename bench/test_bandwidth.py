"""This machine's memory read bandwidth, measured in the same run as the ``full`` workload.

The ``full`` workload's X (1,000,000 x 100 float32, 400 MB; far larger than any cache) is read
once, with the BLAS NumPy uses and the threads the thread policy gives a batch this large
(``lr_variants._threads``: every core, as the ``full`` rows train with), two ways:

- ``sdot``: ``np.dot(x, x)`` on X as one 400 MB vector (each element is loaded once);
- ``gemv``: ``X @ v`` on a column-major copy of X, the access pattern of a full-batch step.

The faster of the two is the bandwidth ``docs/benchmarks.md`` compares training against:
a full-batch step must read X twice (``X @ theta``, then ``X^T r``), so its floor is
``2 * X.nbytes / bandwidth``.

``test_first_product`` times the step's first read alone, ``z = X w`` on X as the fast
variants get it (row-major, as given), once with NumPy's BLAS (``np.dot``) and once with
torch's (``X.mv``), with the same threads: what each library's read of X costs before any
per-row work, the part of a step that no change to the variants' own code can make shorter.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import workloads as wl

from lr_variants._threads import scope as thread_scope


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


@pytest.mark.parametrize("library", ["numpy", "torch"])
def test_first_product(benchmark: Any, sizes: dict[str, wl.Workload], library: str) -> None:
    work = sizes["full"]
    X, _ = wl.data(work)
    w = np.linspace(-1.0, 1.0, work.d, dtype=np.float32)
    expected = X[:3].astype(np.float64) @ w.astype(np.float64)
    if library == "numpy":

        def product() -> Any:
            return np.dot(X, w)

    else:
        import torch

        Xt, wt = torch.from_numpy(X), torch.from_numpy(w)  # shared with X: no copy

        def product() -> Any:
            return Xt.mv(wt).numpy()

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
