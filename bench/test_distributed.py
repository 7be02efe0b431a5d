"""Data-parallel training (``lr_variants.distributed``) on the CPU: world size 1 and 2, gloo.

Each benchmark is one launch of the worker processes (``distributed.launch``), so its time
includes starting them; the figure to read is ``extra_info["loop_s"]`` (rank 0's
``History.seconds``, the training loop alone) and ``step_us`` (per step), beside
``single_loop_s``: the same training in this process without ``distributed``. The per-step
``all_reduce`` of the gradient (``D + 1`` float64 values) is timed on its own in
``test_all_reduce``. NCCL rows need a CUDA GPU and are skipped without one. After timing, every
distributed run is checked against the single-process parameters (float64: within 1e-12).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
import workloads as wl

from lr_variants import distributed as d

VARIANTS = (("numpy", "fast"), ("torch_manual", "fast"), ("module", "textbook"))
WORLDS = (1, 2)


def all_reduce_seconds(n_values: int, repeats: int) -> float:
    """Mean seconds of one SUM ``all_reduce`` of ``n_values`` float64 values (after a warm-up)."""
    import torch
    import torch.distributed as dist

    t = torch.zeros(n_values, dtype=torch.float64)
    for _ in range(50):
        dist.all_reduce(t)
    start = time.perf_counter()
    for _ in range(repeats):
        dist.all_reduce(t)
    return (time.perf_counter() - start) / repeats


@pytest.mark.parametrize("backend", ["gloo", "nccl"])
@pytest.mark.parametrize("world", WORLDS)
@pytest.mark.parametrize("variant,impl", VARIANTS)
@pytest.mark.parametrize("workload", ["article", "wide"])
def test_data_parallel(
    benchmark: Any,
    sizes: dict[str, wl.Workload],
    workload: str,
    variant: str,
    impl: str,
    world: int,
    backend: str,
) -> None:
    """``lv.train(..., distributed=True)`` on ``world`` ranks, float64, one thread each."""
    if backend == "nccl":
        pytest.skip("NCCL needs a CUDA GPU; torch.cuda.is_available() is False here")
    w = sizes[workload]
    X, y = wl.data(w)
    fit = {"epochs": w.epochs, "batch_size": w.batch_size, "seed": 42}
    job = d.Job(variant, {"impl": impl, "dtype": "float64", "lr": w.lr}, fit, X, y)
    single = d.train_job(job, False)
    ranks: list[Any] = []
    benchmark.group = "distributed"
    benchmark.extra_info.update({**w.info(), "variant": variant, "impl": impl, "world": world})
    benchmark.pedantic(
        lambda: ranks.append(d.launch(d.train_jobs, [job], world_size=world)), rounds=1
    )
    r0 = ranks[-1][0][0]
    benchmark.extra_info.update(
        loop_s=r0.seconds, step_us=1e6 * r0.seconds / w.steps, single_loop_s=single.seconds
    )
    assert float(np.max(np.abs(r0.theta - single.theta))) <= 1e-12


@pytest.mark.parametrize("backend", ["gloo", "nccl"])
@pytest.mark.parametrize("n_values", [3, 101])
def test_all_reduce(
    benchmark: Any, request: pytest.FixtureRequest, n_values: int, backend: str
) -> None:
    """One step's gradient all_reduce at world size 2 (``D + 1`` values: article 3, wide 101)."""
    if backend == "nccl":
        pytest.skip("NCCL needs a CUDA GPU; torch.cuda.is_available() is False here")
    repeats = 100 if wl.quick(request.config) else 2000
    out: list[Any] = []
    benchmark.group = "distributed"
    benchmark.pedantic(
        lambda: out.append(d.launch(all_reduce_seconds, n_values, repeats, world_size=2)),
        rounds=1,
    )
    benchmark.extra_info.update(n_values=n_values, all_reduce_us=1e6 * max(out[-1]), world=2)
    assert all(s > 0 for s in out[-1])
