"""The ``scale`` workload: full-batch training on 1,000,000 x 100 float32 (400 MB), in memory and
memory-mapped, for numpy and torch_manual (textbook and fast).

Each row times the whole call a user makes (``lv.create`` + ``lv.train``, validation and
conversion included) and records the training loop alone (``History.seconds``), the peak extra
memory of the call (NumPy allocations by ``tracemalloc``; torch's by the peak resident memory,
``VmHWM`` reset before the call, which also counts a memory map's pages read from the page cache,
and by the growth of the resident anonymous memory, ``RssAnon``), and one read of X
(``np.dot`` of X with itself as one vector, the ``sdot`` of ``test_bandwidth.py``) measured in
the same test, so that a step's time is compared with a read of X taken minutes, not hours,
apart. ``LR_BENCH_SCALE_ROWS=N`` sets the rows; with ``--benchmark-disable``
the workload shrinks to 20,000 rows. The memory-mapped rows write X and y as ``.npy`` files
(``np.lib.format.open_memmap``) in a temporary directory and train on ``lv.load_data``'s maps.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from typing import Any

import numpy as np
import pytest
import workloads as wl
from resident import peak_rss_since_reset, reset_peak, rss_anon

import lr_variants as lv

EPOCHS, LR, SEED = 5, 0.1, 42


def read_once_seconds(X: np.ndarray, rounds: int = 5) -> float:
    """The fastest of ``rounds`` reads of X (one ``np.dot`` over all of it)."""
    x = np.asarray(X).reshape(-1)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        np.dot(x, x)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.fixture(scope="module")
def scale(request: pytest.FixtureRequest) -> wl.Workload:
    rows = os.environ.get("LR_BENCH_SCALE_ROWS")
    n = int(rows) if rows else (20_000 if wl.quick(request.config) else 1_000_000)
    return wl.Workload("full", n, 100, None, EPOCHS, LR, wl.TORCH_THREADS, 3, ("float32",), "")


@pytest.fixture(scope="module")
def pair(scale: wl.Workload, tmp_path_factory: pytest.TempPathFactory) -> str:
    X, y = wl.data(scale)
    return wl.npy_pair(X, y, tmp_path_factory.mktemp("scale"))


@pytest.mark.parametrize("source", ["memory", "mapped"])
@pytest.mark.parametrize("impl", ["fast", "textbook"])
@pytest.mark.parametrize("variant", ["numpy", "torch_manual"])
def test_scale(
    benchmark: Any, scale: wl.Workload, pair: str, variant: str, impl: str, source: str
) -> None:
    X, y = wl.data(scale) if source == "memory" else lv.load_data(pair)
    loops: list[float] = []
    peaks: list[int] = []
    rss: list[int] = []
    hwm: list[int] = []
    warm = lv.create(variant, scale.d, impl=impl)
    lv.train(warm, np.asarray(X[:64]), np.asarray(y[:64]), epochs=1)  # imports, untimed

    def run() -> Any:
        base = rss_anon()
        reset_peak()
        start_rss = peak_rss_since_reset()
        tracemalloc.start()
        model = lv.create(variant, scale.d, lr=LR, seed=SEED, impl=impl)
        history = lv.train(model, X, y, epochs=EPOCHS, batch_size=None)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        rss.append(rss_anon() - base)
        hwm.append(peak_rss_since_reset() - start_rss)
        loops.append(history.seconds)
        used.append(history.threads)
        return model

    used: list[int] = []  # the threads train() used (the thread policy's, for large batches)
    benchmark.group = "scale"
    with wl.torch_threads(scale.threads):
        model = benchmark.pedantic(run, rounds=scale.rounds, warmup_rounds=0, iterations=1)
    read = read_once_seconds(X)
    w, b = model.get_params()
    assert np.isfinite(w).all() and np.isfinite(b)
    x_bytes = scale.n * scale.d * 4
    benchmark.extra_info.update(
        {
            **scale.info(),
            "workload": "scale",
            "variant": variant,
            "impl": impl,
            "source": source,
            "dtype": "float32",
            "device": "cpu",
            "x_bytes": x_bytes,
            "loop_s": loops,
            "tracemalloc_peak_bytes": min(peaks),
            "rss_anon_growth_bytes": min(rss),
            "peak_rss_growth_bytes": min(hwm),
            "read_x_s": read,
            "step_over_read": min(loops) / EPOCHS / read,
            **wl.thread_info(),
            "threads_used": used[-1],
        }
    )
