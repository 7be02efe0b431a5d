"""Data-parallel training on one machine without torchrun:
[`launch`][lr_variants.distributed.launch] and [`run`][lr_variants.distributed.run].

>>> import lr_variants as lv
>>> from lr_variants import distributed
>>> X, y = lv.two_blobs()
>>> c = distributed.run(X, y, variants=["numpy", "module"], world_size=2, dtype="float64",
...                     epochs=5)                                          # doctest: +SKIP
>>> max(r.max_abs_param_diff for r in c.results) < 1e-12                   # doctest: +SKIP
True

[`launch`][lr_variants.distributed.launch] starts ``world_size`` worker processes on localhost
(``torch.multiprocessing``'s ``spawn``), each with an initialised ``gloo`` default process group,
runs ``fn(*args)`` in each and returns every rank's result. It watches the workers: one that raises
or dies makes [`launch`][lr_variants.distributed.launch] stop the others within ``grace`` seconds
and raise one error naming that rank (the root cause, not the ranks that then lost contact with it):
the rank's own ``ValueError``/``TypeError``, or
[`DistributedError`][lr_variants.distributed.DistributedError]. [`run`][lr_variants.distributed.run]
trains variants once in this process and once data-parallel over ``world_size`` processes (one
launch for all of them), and reports rank 0's result beside the single-process run. Under
``torchrun``, call ``lv.train(..., distributed=True)`` directly (``docs/distributed.md``).

Launches are bounded and leave nothing behind: ``world_size`` is at most the number of CPUs
this process may use (``cpus``) unless ``force_world_size=True``, and never above
[`MAX_WORLD_SIZE`][lr_variants.distributed.MAX_WORLD_SIZE]; ``timeout`` and ``grace`` are at most
[`MAX_TIMEOUT`][lr_variants.distributed.MAX_TIMEOUT] seconds; all are checked before any process
starts or any training runs. Each worker dies with the process that launched it (Linux:
``prctl(PR_SET_PDEATHSIG, SIGKILL)``; elsewhere a thread watching its parent), so a launcher killed
by ``SIGKILL`` leaves no worker behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np

from lr_variants._data_parallel import PeerLostError, end_rank
from lr_variants._validate import F64, check_int, check_real
from lr_variants.compare import label
from lr_variants.registry import create, from_gradient
from lr_variants.registry import impls as offered_impls
from lr_variants.specs import register_as, resolve_all, spec_of
from lr_variants.training import train

DEFAULT_TIMEOUT = 60.0  # seconds a collective waits for a silent rank before failing
GRACE = 5.0  # seconds the other workers get to stop by themselves after one fails
#: The longest ``timeout`` (and ``grace``), in seconds (11.6 days): torch's sockets wait in
#: milliseconds counted in 32 bits, and past about 24 days a wait overflows and fails at once.
MAX_TIMEOUT = 1e6
#: The most worker processes one launch starts, even with ``force_world_size=True``.
MAX_WORLD_SIZE = 1024
# how often a worker without PR_SET_PDEATHSIG looks for its parent (seconds)
_PARENT_POLL = 0.5


class DistributedError(ChildProcessError):
    """A worker process failed (died, or raised something other than a bad-input error)."""


def cpus() -> int:
    """The number of CPUs this process may run on (its affinity mask where the system has one,
    else ``os.cpu_count()``): the most worker processes a launch starts unforced."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def check_world_size(
    world_size: Any,
    force: Any = False,
    *,
    name: str = "world_size",
    force_name: str = "force_world_size=True",
) -> int:
    """``world_size`` checked before anything starts: an integer from 1 to ``cpus`` (one
    process per CPU; more only contend for them), or to
    [`MAX_WORLD_SIZE`][lr_variants.distributed.MAX_WORLD_SIZE] with ``force``. ``name`` and
    ``force_name`` are how messages call the argument and the way to force it."""
    world = check_int(world_size, name, 1)
    if not isinstance(force, bool):
        raise TypeError(f"force_world_size must be a bool; got {force!r}")
    if world > MAX_WORLD_SIZE:
        raise ValueError(
            f"{name} must be at most {MAX_WORLD_SIZE} (the most processes one launch starts on "
            f"one machine); got {world}"
        )
    if world > cpus() and not force:
        raise ValueError(
            f"{name} must be at most {cpus()} (the CPUs this process may use: one worker "
            f"process per CPU); got {world}; pass {force_name} to start more"
        )
    return world


def check_timeout(value: Any, name: str = "timeout") -> float:
    """A number of seconds ``> 0`` and at most
    [`MAX_TIMEOUT`][lr_variants.distributed.MAX_TIMEOUT]."""
    seconds = check_real(value, name, minimum=0.0, strict=True)
    if seconds > MAX_TIMEOUT:
        raise ValueError(
            f"{name} must be at most {MAX_TIMEOUT:g} seconds (11.6 days; longer waits overflow "
            f"torch's socket timeouts); got {seconds!r}"
        )
    return seconds


def _die_with_parent(parent: int) -> None:
    """End this worker as soon as ``parent`` (its launcher) dies, however it dies.

    Linux: the kernel sends ``SIGKILL`` when the parent exits (``PR_SET_PDEATHSIG``, which
    kills a stopped worker too); the parent may have died before that was set, so it is then
    looked for once. Elsewhere: a daemon thread polls the parent process id, which changes when
    the parent dies (the worker is re-parented)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            ok = libc.prctl(1, int(signal.SIGKILL), 0, 0, 0) == 0  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            ok = False
        if ok:
            if os.getppid() != parent:
                os._exit(1)
            return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_POLL)
        os._exit(1)

    threading.Thread(target=watch, name="lr_variants-parent-watch", daemon=True).start()


def _worker(
    rank: int,
    world: int,
    port: int,
    timeout: float,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    report: Any,
    parent: int,
) -> None:
    """One rank: join the group through the launcher's store, run ``fn``, report the outcome
    through ``report`` (this rank's end of a pipe to the launcher)."""
    _die_with_parent(parent)
    import torch.distributed as dist

    try:
        try:
            store = dist.TCPStore(  # type: ignore[attr-defined]
                "127.0.0.1", port, world + 1, is_master=False, timeout=timedelta(seconds=timeout)
            )
            dist.init_process_group(
                "gloo",
                store=store,
                rank=rank,
                world_size=world,
                timeout=timedelta(seconds=timeout),
            )
        except RuntimeError as exc:  # torch's DistError, DistStoreError... all RuntimeErrors
            raise PeerLostError(
                f"rank {rank}: the process group did not form within {timeout:g} s (another "
                f"rank did not join: it was stopped, killed or is still starting): "
                f"{_first_line(exc)}"
            ) from None
        try:
            value = fn(*args)
        finally:
            dist.destroy_process_group()
        report.send(("ok", value))  # pickled here: an unpicklable result is reported below
        status = 0
    except BaseException as exc:  # reported to the launcher, which names this rank
        report.send((type(exc).__name__, str(exc) or type(exc).__name__))
        status = 1
    end_rank(status)  # reported: end without Python's finalization (see there why)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _stopped(pid: int | None) -> bool:
    """Whether process ``pid`` is stopped (``SIGSTOP``, a debugger); False where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] in (b"T", b"t")


@contextlib.contextmanager
def _quiet_torch_logs() -> Iterator[None]:
    """Within: ``TORCH_CPP_LOG_LEVEL=FATAL`` unless the user set it. Processes started here
    then print none of torch's C++ log lines (a rank that times out waiting for a stopped one
    logs socket warnings, and errors with a C++ stack trace, before raising); the launcher's one
    error says what happened."""
    key = "TORCH_CPP_LOG_LEVEL"
    if key in os.environ:
        yield
        return
    os.environ[key] = "FATAL"
    try:
        yield
    finally:
        os.environ.pop(key, None)


def _death(rank: int, code: int) -> str:
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else "?"
        return f"rank {rank} was killed by signal {-code} ({name})"
    return f"rank {rank} exited with status {code} before reporting"


def launch(
    fn: Callable[..., Any],
    *args: Any,
    world_size: int = 2,
    timeout: float = DEFAULT_TIMEOUT,
    grace: float = GRACE,
    force_world_size: bool = False,
) -> list[Any]:
    """``fn(*args)`` in ``world_size`` processes on localhost with an initialised ``gloo``
    default process group (``timeout``: seconds a collective waits); returns each rank's
    return value, by rank. ``fn``, ``args`` and results must pickle (``fn`` importable).

    ``world_size`` is at most ``cpus`` unless ``force_world_size`` (and never above
    [`MAX_WORLD_SIZE`][lr_variants.distributed.MAX_WORLD_SIZE]); ``timeout`` is at most
    [`MAX_TIMEOUT`][lr_variants.distributed.MAX_TIMEOUT] seconds. The workers die with this process
    (``SIGKILL`` to it included) and log torch's C++ warnings only with ``TORCH_CPP_LOG_LEVEL`` set
    (default here: fatal errors only).

    A rank that raises or dies: the other workers get ``grace`` seconds to stop, are then
    terminated, and one error names the first rank that failed by itself: its own
    ``ValueError``/``TypeError`` (``"rank 1: ..."``), or
    [`DistributedError`][lr_variants.distributed.DistributedError] (also for a rank found stopped,
    e.g. by ``SIGSTOP``, once another has given up waiting for it).
    """
    world = check_world_size(world_size, force_world_size)
    timeout = check_timeout(timeout)
    grace = check_real(grace, "grace", minimum=0.0)
    if grace > MAX_TIMEOUT:
        raise ValueError(f"grace must be at most {MAX_TIMEOUT:g} seconds; got {grace!r}")
    if not callable(fn):
        raise TypeError(f"fn must be callable; got {type(fn).__name__}")
    import torch.distributed as dist
    import torch.multiprocessing as mp

    # the launcher hosts the rendezvous store on a port the OS picks: no port can be taken
    # between choosing it and binding it
    store = dist.TCPStore(  # type: ignore[attr-defined]
        "127.0.0.1", 0, world + 1, is_master=True, wait_for_workers=False
    )
    ctx = mp.get_context("spawn")
    # one pipe per worker, not a Queue: no semaphores for a resource tracker to mourn if this
    # process is killed, and a worker that dies unreported shows as its pipe's end (EOF)
    pipes = [ctx.Pipe(duplex=False) for _ in range(world)]
    parent = os.getpid()
    procs = [
        ctx.Process(
            target=_worker,
            args=(r, world, store.port, timeout, fn, args, pipes[r][1], parent),
            daemon=True,
        )
        for r in range(world)
    ]
    values: dict[int, Any] = {}
    failures: list[tuple[int, str, str]] = []  # (rank, exception type or "died", message)
    try:
        with _quiet_torch_logs():  # a worker's environment is this process's when it starts
            for p in procs:
                p.start()
        for _, writer in pipes:
            writer.close()  # the workers hold the writing ends: their exit is our EOF
        _collect(procs, [reader for reader, _ in pipes], values, failures, grace)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                if p.pid is not None and _stopped(p.pid):  # a stopped process acts on no
                    with contextlib.suppress(OSError):  # signal but SIGKILL until continued
                        os.kill(p.pid, signal.SIGCONT)
        for p in procs:
            if p.pid is None:
                continue  # never started
            p.join(grace)
            if p.is_alive():
                p.kill()
                p.join()
        for reader, writer in pipes:
            reader.close()
            writer.close()
    if failures:
        # the root cause: a rank that failed by itself, not one that lost contact with it
        first = next((f for f in failures if f[1] != PeerLostError.__name__), failures[0])
        rank, kind, message = first
        text = message if message.startswith(f"rank {rank}") else f"rank {rank}: {message}"
        if kind in ("ValueError", "TypeError"):
            raise (ValueError if kind == "ValueError" else TypeError)(text)
        raise DistributedError(text if kind == "died" else f"{text} ({kind})")
    if len(values) < world:
        missing = sorted(set(range(world)) - set(values))
        raise DistributedError(f"rank {missing[0]} never reported a result")
    return [values[r] for r in range(world)]


def _collect(
    procs: list[Any],
    readers: list[Any],
    values: dict[int, Any],
    failures: list[tuple[int, str, str]],
    grace: float,
) -> None:
    """Read every rank's report into ``values`` (by rank) or ``failures``; after the first
    failure the other ranks get ``grace`` seconds to report before the launch gives up."""
    from multiprocessing.connection import wait

    pending: dict[Any, int] = dict(zip(readers, range(len(readers)), strict=True))
    stop_at: float | None = None
    while pending and (stop_at is None or time.monotonic() < stop_at):
        left = 0.5 if stop_at is None else max(0.0, stop_at - time.monotonic())
        ready: list[Any] = wait(list(pending), timeout=left)
        for reader in ready:
            rank = pending.pop(reader)
            try:
                status, value = reader.recv()
            except (EOFError, OSError):  # its end closed without a report: it died
                procs[rank].join(1.0)  # its exit status, which follows at once
                code = procs[rank].exitcode
                failures.append(
                    (
                        rank,
                        "died",
                        _death(rank, code)
                        if code is not None
                        else f"rank {rank} closed its pipe to the launcher without reporting",
                    )
                )
            else:
                if status == "ok":
                    values[rank] = value
                    continue
                # a rank stopped (SIGSTOP, a debugger) is why the others gave up: name it
                for other, q in enumerate(procs):
                    if _stopped(q.pid) and not any(f[0] == other for f in failures):
                        pending = {r: k for r, k in pending.items() if k != other}
                        failures.append(
                            (
                                other,
                                "died",
                                f"rank {other} was stopped (SIGSTOP or a debugger) "
                                "and stopped answering the other ranks",
                            )
                        )
                failures.append((rank, str(status), str(value)))
        if failures and stop_at is None:
            stop_at = time.monotonic() + grace


@dataclass(frozen=True)
class Job:
    """One training run: [`lr_variants.create`][lr_variants.registry.create] keywords,
    [`lr_variants.train`][lr_variants.training.train] keywords, and the data. ``per_step``: train
    one batch per ``train`` call (the batches of
    [`lr_variants.batches`][lr_variants.training.batches]) and keep the parameters after every step.
    ``gradient``: a loss-and-gradient function registered first as ``variant``
    ([`lr_variants.from_gradient`][lr_variants.registry.from_gradient]; a worker process starts with
    only the built-in variants). ``spec``: the ``package.module:attribute`` a plug-in ``variant``
    was resolved from, registered again under the same name in a worker
    (``lr_variants.specs.register_as``)."""

    variant: str
    create: dict[str, Any]
    train: dict[str, Any]
    X: F64
    y: F64
    sample_weight: F64 | None = None
    per_step: bool = False
    gradient: Callable[..., Any] | None = None
    spec: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What one run gave: final ``theta = (w, b)``, the ``History``'s batch losses, the loop's
    ``seconds``, and with ``per_step`` every step's ``theta`` (one row per step); ``threads``:
    the CPU threads the training used (``History.threads``)."""

    theta: F64
    batch_loss: F64
    seconds: float
    thetas: F64 | None = None
    threads: int = 1


def train_job(job: Job, distributed: bool) -> Outcome:
    """Run ``job`` in this process (data-parallel with ``distributed``)."""
    from lr_variants.training import batches

    if job.gradient is not None:
        from_gradient(job.gradient, job.variant)
    if job.spec is not None and spec_of(job.variant) != job.spec:  # a fresh worker process
        register_as(job.variant, job.spec)
    model = create(job.variant, job.X.shape[1], **job.create)
    if not job.per_step:
        h = train(
            model,
            job.X,
            job.y,
            sample_weight=job.sample_weight,
            distributed=distributed,
            **job.train,
        )
        w, b = model.get_params()
        return Outcome(np.append(w, b), h.batch_loss, h.seconds, threads=h.threads)
    kw = {k: job.train[k] for k in ("epochs", "batch_size", "seed") if k in job.train}
    thetas, losses = [], []
    for rows in batches(len(job.y), **kw):
        s = None if job.sample_weight is None else job.sample_weight[rows]
        h = train(
            model,
            job.X[rows],
            job.y[rows],
            epochs=1,
            batch_size=None,
            sample_weight=s,
            distributed=distributed,
        )
        w, b = model.get_params()
        thetas.append(np.append(w, b))
        losses.append(h.batch_loss[0, 0])
    return Outcome(thetas[-1], np.array(losses), 0.0, np.array(thetas))


def train_jobs(jobs: Sequence[Job]) -> list[Outcome]:
    """Every job data-parallel on the default process group (what
    [`run`][lr_variants.distributed.run]'s workers do)."""
    return [train_job(job, True) for job in jobs]


@dataclass(frozen=True)
class Row:
    """One variant trained in one process and across ``world_size`` ranks: both final losses
    (the last epoch's mean batch loss), the largest parameter difference, whether every rank
    ended with bitwise the same parameters, both loops' seconds, and the CPU threads each
    process used (a rank's: the cores shared among the ranks, lr_variants._threads)."""

    variant: str
    impl: str
    single_loss: float
    distributed_loss: float
    max_abs_param_diff: float
    ranks_equal: bool
    single_seconds: float
    distributed_seconds: float
    single_threads: int = 1
    distributed_threads: int = 1

    @property
    def label(self) -> str:
        return label(self.variant, self.impl)


@dataclass(frozen=True)
class DistributedComparison:
    """What [`run`][lr_variants.distributed.run] returns: its ``settings`` and one ``Row`` per
    variant run."""

    settings: dict[str, Any]
    results: list[Row] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        rows = [{**r.__dict__, "label": r.label} for r in self.results]
        return {"settings": self.settings, "results": rows}

    def to_text(self) -> str:
        world = self.settings["world_size"]
        head = (
            f"{'variant':<20} {'loss (1 process)':>17} {f'loss ({world} ranks)':>16} "
            f"{'max |dtheta|':>12} {'ranks equal':>11} {'s (1)':>7} {f's ({world})':>7}"
        )
        lines = [head]
        for r in self.results:
            lines.append(
                f"{r.label:<20} {r.single_loss:>17.10f} {r.distributed_loss:>16.10f} "
                f"{r.max_abs_param_diff:>12.3g} {'yes' if r.ranks_equal else 'NO':>11} "
                f"{r.single_seconds:>7.3f} {r.distributed_seconds:>7.3f}"
            )
        return "\n".join(lines)


def run(
    X: Any,
    y: Any,
    *,
    variants: Sequence[str] = ("numpy", "autograd", "module", "torch_manual", "scratch"),
    impls: Sequence[str] = ("textbook",),
    world_size: int = 2,
    sample_weight: Any = None,
    epochs: int = 100,
    batch_size: int | None = 32,
    seed: int = 42,
    timeout: float = DEFAULT_TIMEOUT,
    force_world_size: bool = False,
    **create_options: Any,
) -> DistributedComparison:
    """Train each of ``variants`` (in each of ``impls`` it offers) on ``(X, y)`` in this process
    and data-parallel over ``world_size`` processes on localhost
    ([`launch`][lr_variants.distributed.launch], ``gloo``); ``create_options`` go to
    [`lr_variants.create`][lr_variants.registry.create] (``lr``, ``dtype``, ``momentum``...;
    ``seed`` picks the initial parameters and the batches). ``world_size``, ``timeout`` and every
    model's options are checked before any training (as [`launch`][lr_variants.distributed.launch]
    checks them). ``variants`` may be plug-ins (``package.module:attribute``, ``label=...``,
    installed names): each worker resolves them as this process does."""
    world = check_world_size(world_size, force_world_size)
    timeout = check_timeout(timeout)
    X64 = np.asarray(X, dtype=np.float64)
    y64 = np.asarray(y, dtype=np.float64)
    s64 = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    fit = {"epochs": epochs, "batch_size": batch_size, "seed": seed}
    names = resolve_all(list(variants))
    jobs = [
        Job(
            name,
            {**create_options, "seed": seed, "impl": impl},
            fit,
            X64,
            y64,
            s64,
            spec=spec_of(name),
        )
        for name in names
        for impl in impls
        if impl in offered_impls(name)
    ]
    for job in jobs:  # every model's options checked before any of them trains
        create(job.variant, X64.shape[1] if X64.ndim == 2 else 1, **job.create)
    singles = [train_job(job, False) for job in jobs]  # bad arguments fail here, before a launch
    per_rank = launch(
        train_jobs, jobs, world_size=world, timeout=timeout, force_world_size=force_world_size
    )
    rows = []
    for k, job in enumerate(jobs):
        one, ranks = singles[k], [outcomes[k] for outcomes in per_rank]
        sizes = _sizes(len(y64), batch_size)
        rows.append(
            Row(
                variant=job.variant,
                impl=job.create["impl"],
                single_loss=float(one.batch_loss[-1] @ sizes / len(y64)) if epochs else np.nan,
                distributed_loss=float(ranks[0].batch_loss[-1] @ sizes / len(y64))
                if epochs
                else np.nan,
                max_abs_param_diff=float(np.max(np.abs(ranks[0].theta - one.theta))),
                ranks_equal=all(np.array_equal(o.theta, ranks[0].theta) for o in ranks),
                single_seconds=one.seconds,
                distributed_seconds=ranks[0].seconds,
                single_threads=one.threads,
                distributed_threads=max(o.threads for o in ranks),
            )
        )
    settings = {"world_size": world, **fit, **create_options, "n_samples": len(y64)}
    return DistributedComparison(settings, rows)


def _sizes(n: int, batch_size: int | None) -> np.ndarray:
    size = n if batch_size is None else min(batch_size, n)
    return np.array([min(size, n - i) for i in range(0, n, size)])
