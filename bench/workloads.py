"""The benchmark workloads, their data, thread pinning and machine facts (shared by bench/).

Three workloads (``docs/benchmarks.md`` shows the results):

- ``article``: the reference article's training: ``two_blobs()`` (1000 x 2), batch 32, 100 epochs,
  ``lr=0.1`` (3,200 steps), with the article's own loop (``article_loop.py``) as the baseline row;
- ``wide``: 100,000 x 100 synthetic data (seeded), batch 1,024, 2 epochs (196 steps);
- ``full``: 1,000,000 x 100 float32 (400 MB), full-batch gradient descent
  (``train(..., batch_size=None)``), 5 steps; measured against this machine's memory read
  bandwidth (``test_bandwidth.py``), in the same run.

With ``--benchmark-disable`` (benchmarks run once, as plain tests) or ``LR_BENCH_QUICK=1`` every
workload shrinks (:data:`QUICK`) so that ``pytest bench --benchmark-disable`` takes seconds.
"""

from __future__ import annotations

import ctypes
import os
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

CORES = os.cpu_count() or 1
# torch intra-op threads for every workload: 1 unless LR_BENCH_TORCH_THREADS says otherwise. On
# this 2-core machine, shared with other work, a second torch thread makes torch slower at every
# size: binary_cross_entropy_with_logits' backward takes ~1-8 ms instead of 40 us on 32 rows,
# and exp/sigmoid/logaddexp on 1,000,000 values 5-10x longer (docs/benchmarks.md, "Threads").
TORCH_THREADS = int(os.environ.get("LR_BENCH_TORCH_THREADS", "1"))


DTYPES_BOTH = ("float32", "float64")


@dataclass(frozen=True)
class Workload:
    """One training job: data shape, batching, length, and the threads it runs with."""

    name: str
    n: int  # rows
    d: int  # features
    batch_size: int | None  # None: full batch
    epochs: int
    lr: float
    threads: int  # torch intra-op threads (recorded); NumPy's BLAS keeps its own (all cores)
    rounds: int  # timed rounds when benchmarking
    dtypes: tuple[str, ...]
    what: str

    @property
    def steps(self) -> int:
        per_epoch = 1 if self.batch_size is None else -(-self.n // self.batch_size)
        return self.epochs * per_epoch

    def info(self) -> dict[str, Any]:
        return {
            "workload": self.name,
            "n": self.n,
            "d": self.d,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "steps": self.steps,
            "lr": self.lr,
            "what": self.what,
        }


FULL_SIZE = {
    "article": Workload(
        "article", 1000, 2, 32, 100, 0.1, TORCH_THREADS, 5, ("float32", "float64"),
        "two_blobs 1000x2, batch 32, 100 epochs, lr 0.1 (3,200 steps)",
    ),
    "wide": Workload(
        "wide", 100_000, 100, 1024, 2, 0.1, TORCH_THREADS, 3, ("float32", "float64"),
        "100,000x100 synthetic, batch 1,024, 2 epochs, lr 0.1 (196 steps)",
    ),
    "full": Workload(
        "full", 1_000_000, 100, None, 5, 0.1, TORCH_THREADS, 3, ("float32",),
        "1,000,000x100 float32 (400 MB), full batch, 5 gradient-descent steps",
    ),
}  # fmt: skip
QUICK = {
    "article": Workload(
        "article", 1000, 2, 32, 3, 0.1, TORCH_THREADS, 1, DTYPES_BOTH, "article, 3 epochs"
    ),
    "wide": Workload("wide", 3000, 100, 1024, 2, 0.1, TORCH_THREADS, 1, DTYPES_BOTH, "small"),
    "full": Workload("full", 20_000, 100, None, 2, 0.1, TORCH_THREADS, 1, ("float32",), "small"),
}
WORKLOADS = ("article", "wide", "full")

# a fast call's rounds: as many as fit in ROUND_BUDGET_S, up to MAX_ROUNDS (benchmark minima)
ROUND_BUDGET_S = 0.25
MAX_ROUNDS = 100


def rounds_for(run: Any, minimum: int) -> int:
    """Timed rounds for ``run``, timed once here (also a warm-up): at least ``minimum``, and
    for a call of a few milliseconds as many as fit in ``ROUND_BUDGET_S`` (at most
    ``MAX_ROUNDS``): the fastest of five rounds of a millisecond call is as noisy as the
    machine, the fastest of a hundred much less."""
    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    return max(minimum, min(MAX_ROUNDS, int(ROUND_BUDGET_S / max(seconds, 1e-9))))


def quick(config: Any) -> bool:
    """Small sizes: benchmarks disabled (``--benchmark-disable``) or ``LR_BENCH_QUICK=1``."""
    disabled = config.getoption("benchmark_disable", False) and not config.getoption(
        "benchmark_enable", False
    )
    return bool(disabled) or os.environ.get("LR_BENCH_QUICK") == "1"


_DATA: dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray]] = {}


def data(w: Workload) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` for ``w``, made once per process: the article's blobs, or float32 Gaussian
    features with labels from a logistic model (seed 0), 10% of them flipped so that the data
    are not separable."""
    key = (w.name, w.n, w.d)
    if key not in _DATA:
        if w.name == "article":
            import lr_variants as lv

            _DATA[key] = lv.two_blobs(w.n // 2)
        else:
            rng = np.random.default_rng(0)
            X = rng.standard_normal((w.n, w.d), dtype=np.float32)
            w_true = (rng.standard_normal(w.d) * (2.0 / np.sqrt(w.d))).astype(np.float32)
            y = (X @ w_true > 0).astype(np.float32)
            flip = rng.random(w.n) < 0.1
            y[flip] = 1.0 - y[flip]
            _DATA.clear()  # keep one large data set in memory at a time
            _DATA[key] = (X, y)
    return _DATA[key]


def npy_pair(X: np.ndarray, y: np.ndarray, folder: Any) -> str:
    """``X`` and ``y`` written to ``folder`` as ``X.npy`` (through a memory map, a block of
    pages at a time) and ``y.npy``: the ``"X.npy,y.npy"`` string ``lv.load_data`` opens."""
    xm = np.lib.format.open_memmap(folder / "X.npy", mode="w+", dtype=X.dtype, shape=X.shape)
    xm[:] = X
    xm.flush()
    del xm
    np.save(folder / "y.npy", y)
    return f"{folder / 'X.npy'},{folder / 'y.npy'}"


# ----------------------------------------------------------------------------- threads


def _openblas() -> Any:
    """NumPy's OpenBLAS (found among the loaded libraries), or None."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


_GETTERS = ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
            "openblas_get_num_threads")  # fmt: skip


def blas_threads() -> int | None:
    """The thread count of NumPy's OpenBLAS, or None if it cannot be read."""
    lib = _openblas()
    for name in _GETTERS if lib is not None else ():
        func = getattr(lib, name, None)
        if func is not None:
            return int(func())
    return None


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run with ``torch.set_num_threads(n)``, restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def thread_info() -> dict[str, Any]:
    import torch

    return {
        "torch_threads": torch.get_num_threads(),
        "blas_threads": blas_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
    }


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def plugin_variants() -> tuple[str, ...]:
    """The variants named in ``LR_BENCH_VARIANTS`` (comma-separated: registered names or
    ``package.module:attribute``, resolved as the CLI does), timed beside the built-ins."""
    from lr_variants.specs import resolve

    specs = [s.strip() for s in os.environ.get("LR_BENCH_VARIANTS", "").split(",") if s.strip()]
    return tuple(resolve(spec) for spec in specs)


def machine() -> dict[str, Any]:
    """What the results depend on: CPU, cores, memory, versions, threads, GPU."""
    import torch

    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = round(int(f.readline().split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu_model": cpu_model(),
        "cores": CORES,
        "memory_gib": mem,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_blas": "MKL" if torch.backends.mkl.is_available() else "other",
        "numpy_blas": "OpenBLAS" if _openblas() is not None else "unknown",
        "torch_default_threads": torch.get_num_threads(),
        "plugin_variants": list(plugin_variants()),
        "blas_threads": blas_threads(),
        "cuda": gpu,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
