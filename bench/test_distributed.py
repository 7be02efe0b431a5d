"""Data-parallel training (``lr_variants.distributed``) on the CPU: world size 1 and 2, gloo.

Each ``test_data_parallel`` benchmark is one launch of the worker processes
(``distributed.launch``), so its time includes starting them; the figure to read is
``extra_info["loop_s"]`` (rank 0's ``History.seconds``, the training loop alone) and
``step_us`` (per step), beside ``single_loop_s``: the same training in this process without
``distributed``. The per-step ``all_reduce`` of the gradient (``D + 1`` float64 values) is
timed on its own in ``test_all_reduce``. NCCL rows need a CUDA GPU and are skipped without
one. After timing, every distributed run is checked against the single-process parameters
(float64: within 1e-12).

``test_rank_memory``: full-batch float32 training on a memory-mapped X (the ``full``
workload's data, written to a ``.npy`` pair), each rank in a fresh process
(``resident.train_mapped``) that opens the files itself, with ``np.load(..., mmap_mode="r")``,
with ``lv.load_data(..., scan=False)`` (headers only), or with ``lv.load_data`` (which also
checks every value), and trains. Recorded per rank: its peak
resident memory growth from before opening the files to the end of ``lv.train`` (``VmHWM``
reset first: the mapped file's pages the rank reads, which come from the page cache and are
shared with any other process that reads them, plus its allocations), its shard's bytes (the
rows of X it trains on) and their ratio; and, as the reference, the same for one process
without ``distributed`` (its shard: all of X). The ranks' parameters are checked against that
process's afterwards (float32, summed in another order: within 1e-4, as the ``full`` rows).

``test_documented_command``: the data-parallel ``lr-variants compare --world-size 2`` commands
that ``docs/distributed.md`` quotes (read from its ``output-of`` markers), each run once as a
program and timed from start to exit; with small sizes only those that pass ``--epochs`` (the
short runs). They need a source checkout (the page is not installed with the suite).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import resident
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


# the variants of test_rank_memory: NumPy on X's own float32 rows, textbook and tuned
MAPPED_VARIANTS = (("numpy", "textbook"), ("numpy", "fast"))
# each (data, variant, impl)'s parameters after training in one process, the ranks' reference
_SINGLE: dict[tuple[str, str, str], np.ndarray] = {}


@pytest.fixture(scope="module")
def mapped_pair(sizes: dict[str, wl.Workload], tmp_path_factory: pytest.TempPathFactory) -> str:
    """The ``full`` workload's X and y as ``.npy`` files: ``"X.npy,y.npy"`` for ``lv.load_data``."""
    X, y = wl.data(sizes["full"])
    return wl.npy_pair(X, y, tmp_path_factory.mktemp("mapped"))


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("world", [pytest.param(None, id="single"), 1, 2])
@pytest.mark.parametrize("variant,impl", MAPPED_VARIANTS)
@pytest.mark.parametrize("opener", resident.OPENERS)
def test_rank_memory(
    benchmark: Any,
    sizes: dict[str, wl.Workload],
    mapped_pair: str,
    opener: str,
    variant: str,
    impl: str,
    world: int | None,
) -> None:
    """Each rank's peak resident growth on a memory-mapped X, against its shard's bytes."""
    if opener == "lv.load_data" and (world != 2 or impl != "fast"):
        pytest.skip("load_data's whole-file check is shown once: 2 ranks of numpy fast")
    w = sizes["full"]
    create = {"impl": impl, "dtype": "float32", "lr": w.lr, "seed": 42}
    fit = {"epochs": w.epochs, "batch_size": None}
    out: list[list[dict[str, Any]]] = []
    distributed, ranks = world is not None, world or 1

    def run() -> None:
        job = (mapped_pair, opener, variant, create, fit, distributed)
        out.append(d.launch(resident.train_mapped, *job, world_size=ranks, timeout=600))

    benchmark.group = "distributed"
    benchmark.pedantic(run, rounds=1)
    got = out[-1]
    shard = [(r["rows"][1] - r["rows"][0]) * r["row_bytes"] for r in got]
    growth = [r["growth"] for r in got]
    benchmark.extra_info.update(
        {
            **w.info(),
            "case": "rank_memory",
            "source": "mapped",
            "opener": opener,
            "variant": variant,
            "impl": impl,
            "dtype": "float32",
            "world": world,
            "x_bytes": w.n * w.d * 4,
            "rank_rows": [list(r["rows"]) for r in got],
            "rank_shard_bytes": shard,
            "rank_peak_rss_growth_bytes": growth,
            "rank_growth_over_shard": [
                g / s if s else None for g, s in zip(growth, shard, strict=True)
            ],
            "loop_s": got[0]["loop_s"],
        }
    )
    assert sum(shard) == w.n * w.d * 4  # the shards cover X, once
    key = (mapped_pair, variant, impl)
    if not distributed:
        _SINGLE[key] = got[0]["theta"]
    elif key not in _SINGLE:  # this row run alone (-k): the reference, untimed
        job = (mapped_pair, "np.load", variant, create, fit, False)
        _SINGLE[key] = d.launch(resident.train_mapped, *job, world_size=1, timeout=600)[0]["theta"]
    # every rank ends with the parameters of one process (float32: within 1e-4, as the full
    # workload's float32 rows are checked; the ranks sum the gradient in another order)
    for r in got:
        assert float(np.max(np.abs(r["theta"] - _SINGLE[key]))) <= 1e-4
    assert all(np.array_equal(r["theta"], got[0]["theta"]) for r in got)


DOC = Path(__file__).resolve().parents[1] / "docs" / "distributed.md"
_COMMAND = re.compile(r"^<!-- output-of: (lr-variants compare --world-size 2 .+?) -->\s*$", re.M)


def documented_commands() -> list[str]:
    """The data-parallel ``compare`` commands ``docs/distributed.md`` quotes (none without the
    page: an installed suite)."""
    return _COMMAND.findall(DOC.read_text()) if DOC.is_file() else []


@pytest.mark.parametrize("command", documented_commands() or [None])
def test_documented_command(
    benchmark: Any, request: pytest.FixtureRequest, command: str | None
) -> None:
    """One documented ``lr-variants compare --world-size 2`` command, start to exit."""
    if command is None:
        pytest.skip(f"the commands are read from {DOC.name} in a source checkout")
    if wl.quick(request.config) and "--epochs" not in command:
        pytest.skip("small sizes: only the documented commands that shorten the run")
    script = Path(sys.executable).with_name("lr-variants")  # the console script users run
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "lr_variants"]
    argv += shlex.split(command)[1:]
    procs: list[subprocess.CompletedProcess[str]] = []
    walls: list[float] = []

    def run() -> None:
        start = time.perf_counter()
        procs.append(subprocess.run(argv, capture_output=True, text=True))
        walls.append(time.perf_counter() - start)

    benchmark.group = "distributed"
    benchmark.pedantic(run, rounds=1)
    proc = procs[-1]
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = proc.stdout.splitlines()[1:]
    assert rows and all(" yes " in line for line in rows), proc.stdout  # ranks ended equal
    benchmark.extra_info.update(
        {"case": "docs_command", "command": command, "wall_s": min(walls),
         "cores": wl.CORES}
    )  # fmt: skip
