"""How many CPU threads a training run uses: one rule, applied by every entry point.

A step on a small batch (the article's 32 x 2) is microseconds of arithmetic: a second thread
only adds the cost of waking it, and when several processes share the cores (data-parallel
ranks, other programs) threads that wait for each other make a step slower still. A step
on a large batch (a million values or more) is milliseconds of memory-bound arithmetic that
the cores share well. So, per process (``decide``):

- ``threads`` passed to the call (``train(..., threads=N)``, ``--threads N``) wins; an enclosing
  call's explicit request (``scope``) holds for the calls inside it;
- else the environment variable ``LR_VARIANTS_THREADS`` (an integer from 1 to the CPUs this
  process may use), checked when read;
- else the policy: 1 thread when each rank's share of a batch holds fewer than
  ``LARGE_BATCH_VALUES`` values; otherwise the usable CPUs divided among the ranks on this
  machine (at least 1), so that threads per rank x ranks never exceeds the cores.

``scope`` applies the number for the duration of a call and restores what was there after
it, also on an exception: torch's intra-op threads (``torch.set_num_threads``, only if torch is
already imported: a NumPy-only run never imports it) and, where ``threadpoolctl`` is installed
(it comes with scikit-learn), the BLAS threads NumPy uses; without ``threadpoolctl`` NumPy's BLAS
keeps its own setting (``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` before start-up).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

ENV_VAR = "LR_VARIANTS_THREADS"
T = TypeVar("T")

# values (rows x features) in one rank's share of a batch from which a step uses several
# threads: below it, a step's arithmetic is shorter than waking and joining a thread pool
LARGE_BATCH_VALUES = 1_000_000

# the threads of the innermost scope (what a variant may spread its own work over)
_in_force: contextvars.ContextVar[int] = contextvars.ContextVar("lr_variants_in_force", default=1)
# an explicit request in force (from an enclosing scope), inherited by the calls inside it
_requested: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "lr_variants_threads", default=None
)


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # macOS, Windows
        return os.cpu_count() or 1


def check_threads(threads: Any, name: str = "threads") -> int | None:
    """``threads`` as an int from 1 to ``cpu_count``, or ``None``; else TypeError or
    ValueError naming ``name``."""
    if threads is None:
        return None
    cpus = cpu_count()
    if isinstance(threads, bool) or not isinstance(threads, int):
        raise TypeError(f"{name} must be an int from 1 to {cpus} or None; got {threads!r}")
    if not 1 <= threads <= cpus:
        raise ValueError(
            f"{name} must be from 1 to {cpus} (the CPUs this process may use); got {threads}"
        )
    return int(threads)


def env_threads() -> int | None:
    """``LR_VARIANTS_THREADS`` as a thread count, ``None`` when unset or empty; a value that is
    not an integer from 1 to ``cpu_count`` is one ``ValueError``."""
    text = os.environ.get(ENV_VAR, "").strip()
    if not text:
        return None
    cpus = cpu_count()
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= cpus:
        raise ValueError(
            f"environment variable {ENV_VAR} must be an integer from 1 to {cpus} (the CPUs "
            f"this process may use); got {text!r}"
        )
    return value


def local_ranks() -> int:
    """The data-parallel processes sharing this machine's cores: torchrun's
    ``LOCAL_WORLD_SIZE``, else the initialised default process group's world size (one machine),
    else 1."""
    text = os.environ.get("LOCAL_WORLD_SIZE", "")
    if text.isdigit() and int(text) > 0:
        return int(text)
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return int(dist.get_world_size())
    return 1


@dataclass(frozen=True)
class Decision:
    """The threads a run uses and why: ``source`` is ``"argument"``, ``"environment"`` or
    ``"policy"``."""

    threads: int
    source: str


def decide(
    batch_values: int,
    *,
    ranks: int = 1,
    threads: int | None = None,
    cpus: int | None = None,
) -> Decision:
    """The threads per process for steps on batches of ``batch_values`` values (rows x
    features, the whole batch before it is split among ``ranks`` processes on this machine):
    ``threads`` if given (or an enclosing ``scope``'s explicit request), else
    ``LR_VARIANTS_THREADS``, else 1 below ``LARGE_BATCH_VALUES`` values per rank and
    ``max(1, cpus // ranks)`` from it."""
    requested = check_threads(threads)
    if requested is None:
        requested = _requested.get()
    if requested is not None:
        return Decision(requested, "argument")
    from_env = env_threads()
    if from_env is not None:
        return Decision(from_env, "environment")
    ranks = max(1, int(ranks))
    cpus = cpu_count() if cpus is None else cpus
    if -(-int(batch_values) // ranks) < LARGE_BATCH_VALUES:
        return Decision(1, "policy")
    return Decision(max(1, cpus // ranks), "policy")


class _Blas:
    """NumPy's BLAS threads through ``threadpoolctl``, inspected once (the inspection walks the
    loaded libraries: milliseconds), or nothing where it is not installed."""

    controller: Any = None
    loaded = False

    @classmethod
    def get(cls) -> Any:
        if not cls.loaded:
            cls.loaded = True
            try:
                from threadpoolctl import ThreadpoolController

                cls.controller = ThreadpoolController().select(user_api="blas")
            except Exception:  # not installed, or a platform it cannot inspect
                cls.controller = None
        return cls.controller


def _blas_threads() -> list[tuple[Any, int]]:
    blas = _Blas.get()
    if blas is None:
        return []
    return [(lib, lib.num_threads) for lib in blas.lib_controllers]


@contextlib.contextmanager
def scope(
    threads: int | None, batch_values: int, *, ranks: int = 1, torch_too: bool = False
) -> Iterator[Decision]:
    """For the duration: torch's intra-op threads and NumPy's BLAS threads set as
    ``decide`` says, restored afterwards (also on an exception). An explicit ``threads``
    holds for the calls inside. ``torch_too`` imports torch if it is not imported yet (a
    process-wide setting for commands that will use it); otherwise torch is set only if
    imported. Yields the ``Decision``."""
    decision = decide(batch_values, ranks=ranks, threads=threads)
    token = _requested.set(decision.threads) if decision.source == "argument" else None
    in_force = _in_force.set(decision.threads)
    torch: Any = sys.modules.get("torch")
    if torch is None and torch_too:
        import torch
    before = None if torch is None else torch.get_num_threads()
    if before is not None and before != decision.threads:
        torch.set_num_threads(decision.threads)
    try:
        with blas_threads(decision.threads):
            yield decision
    finally:
        if before is not None and torch.get_num_threads() != before:
            torch.set_num_threads(before)
        _in_force.reset(in_force)
        if token is not None:
            _requested.reset(token)


@contextlib.contextmanager
def blas_threads(threads: int) -> Iterator[None]:
    """NumPy's BLAS on ``threads`` threads for the duration, restored afterwards (where
    ``threadpoolctl`` is installed; otherwise nothing changes)."""
    blas = [(lib, n) for lib, n in _blas_threads() if n != threads]
    for lib, _ in blas:
        lib.set_num_threads(threads)
    try:
        yield
    finally:
        for lib, n in blas:
            lib.set_num_threads(n)


def single_threaded_blas() -> contextlib.AbstractContextManager[None]:
    """NumPy's BLAS on one thread for the duration: for loops of cache-sized BLAS calls,
    each too small to share among threads (woken and joined per call, they cost more than they
    save; many times more on a busy machine)."""
    return blas_threads(1)


def in_force() -> int:
    """The threads of the innermost ``scope`` around this call (1 outside any)."""
    return _in_force.get()


_POOLS: dict[int, Any] = {}


def pool(threads: int) -> Any:
    """A ``concurrent.futures.ThreadPoolExecutor`` of ``threads`` workers, made once per size
    (for variants that spread blocks of NumPy work, which releases the GIL, over threads)."""
    if threads not in _POOLS:
        from concurrent.futures import ThreadPoolExecutor

        _POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="lr_variants")
    return _POOLS[threads]


def block_runs(n_rows: int, block_rows: int, threads: int) -> list[slice]:
    """Contiguous runs of whole blocks of ``block_rows`` rows that cover ``n_rows`` rows, one per
    thread: at most ``threads`` runs, each of at least one block (a single run when ``threads``
    is 1 or the rows fill fewer than two blocks)."""
    block_rows = max(1, block_rows)
    parts = max(1, min(threads, n_rows // block_rows))
    blocks = max(1, -(-n_rows // block_rows))
    step = -(-blocks // parts) * block_rows  # whole blocks per run
    return [slice(lo, min(lo + step, n_rows)) for lo in range(0, max(n_rows, 1), step)]


def map_runs(fn: Callable[[slice], T], runs: list[slice], *, torch_calls: bool = False) -> list[T]:
    """``fn`` on each run, results in the runs' order: in this thread for a single run, else
    one run per worker of ``pool(len(runs))``; NumPy's BLAS on one thread for the duration
    either way (cache-sized calls: BLAS threads woken and joined per call would only wait).
    ``torch_calls``: ``fn`` calls torch, and each worker's calls run on one intra-op thread
    (the runs share the cores); torch's setting, process-wide for its BLAS, is restored after."""
    with single_threaded_blas():
        if len(runs) == 1:
            return [fn(runs[0])]
        if not torch_calls:
            return list(pool(len(runs)).map(fn, runs))
        torch: Any = sys.modules["torch"]
        threads = torch.get_num_threads()

        def one_thread(rows: slice) -> T:
            if torch.get_num_threads() != 1:
                torch.set_num_threads(1)
            return fn(rows)

        try:
            return list(pool(len(runs)).map(one_thread, runs))
        finally:
            torch.set_num_threads(threads)


def sum_runs(totals: list[float]) -> float:
    """The runs' float64 partial sums (of non-negative loss terms) added in their order,
    exactly and rounded once (``math.fsum``); a sum past float64's range is ``inf``, as the
    sum of one run would be (``fsum`` raises ``OverflowError`` instead)."""
    try:
        return math.fsum(totals)
    except OverflowError:
        return math.inf
