"""Data-parallel training on one machine without torchrun: :func:`launch` and :func:`run`.

>>> import lr_variants as lv
>>> from lr_variants import distributed
>>> X, y = lv.two_blobs()
>>> c = distributed.run(X, y, variants=["numpy", "module"], world_size=2, dtype="float64",
...                     epochs=5)                                          # doctest: +SKIP
>>> max(r.max_abs_param_diff for r in c.results) < 1e-12                   # doctest: +SKIP
True

:func:`launch` starts ``world_size`` worker processes on localhost (``torch.multiprocessing``'s
``spawn``), each with an initialised ``gloo`` default process group, runs ``fn(*args)`` in each
and returns every rank's result. It watches the workers: one that raises or dies makes
:func:`launch` stop the others within ``grace`` seconds and raise one error naming that rank
(the root cause, not the ranks that then lost contact with it): the rank's own
``ValueError``/``TypeError``, or :class:`DistributedError`. :func:`run` trains variants once in
this process and once data-parallel over ``world_size`` processes (one launch for all of
them), and reports rank 0's result beside the single-process run. Under ``torchrun``, call
``lv.train(..., distributed=True)`` directly (``docs/distributed.md``).
"""

from __future__ import annotations

import queue
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np

from lr_variants._data_parallel import PeerLostError
from lr_variants._validate import F64, check_int, check_real
from lr_variants.compare import label
from lr_variants.registry import create, from_gradient
from lr_variants.registry import impls as offered_impls
from lr_variants.training import train

DEFAULT_TIMEOUT = 60.0  # seconds a collective waits for a silent rank before failing
GRACE = 5.0  # seconds the other workers get to stop by themselves after one fails


class DistributedError(ChildProcessError):
    """A worker process failed (died, or raised something other than a bad-input error)."""


def _worker(
    rank: int,
    world: int,
    port: int,
    timeout: float,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    results: Any,
) -> None:
    """One rank: join the group through the launcher's store, run ``fn``, report the outcome."""
    import torch.distributed as dist

    try:
        store = dist.TCPStore(  # type: ignore[attr-defined]
            "127.0.0.1", port, world + 1, is_master=False
        )
        dist.init_process_group(
            "gloo", store=store, rank=rank, world_size=world, timeout=timedelta(seconds=timeout)
        )
        try:
            value = fn(*args)
        finally:
            dist.destroy_process_group()
        results.put((rank, "ok", value))
    except BaseException as exc:  # reported to the launcher, which names this rank
        results.put((rank, type(exc).__name__, str(exc) or type(exc).__name__))
        raise SystemExit(1) from None


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
) -> list[Any]:
    """``fn(*args)`` in ``world_size`` processes on localhost with an initialised ``gloo``
    default process group (``timeout``: seconds a collective waits); returns each rank's
    return value, by rank. ``fn``, ``args`` and results must pickle (``fn`` importable).

    A rank that raises or dies: the other workers get ``grace`` seconds to stop, are then
    terminated, and one error names the first rank that failed by itself: its own
    ``ValueError``/``TypeError`` (``"rank 1: ..."``), or :class:`DistributedError`.
    """
    import torch.distributed as dist
    import torch.multiprocessing as mp

    world = check_int(world_size, "world_size", 1)
    timeout = check_real(timeout, "timeout", minimum=0.0, strict=True)
    grace = check_real(grace, "grace", minimum=0.0)
    if not callable(fn):
        raise TypeError(f"fn must be callable; got {type(fn).__name__}")
    # the launcher hosts the rendezvous store on a port the OS picks: no port can be taken
    # between choosing it and binding it
    store = dist.TCPStore(  # type: ignore[attr-defined]
        "127.0.0.1", 0, world + 1, is_master=True, wait_for_workers=False
    )
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=_worker, args=(r, world, store.port, timeout, fn, args, results), daemon=True
        )
        for r in range(world)
    ]
    for p in procs:
        p.start()
    values: dict[int, Any] = {}
    failures: list[tuple[int, str, str]] = []  # (rank, exception type or "died", message)
    stop_at = None
    try:
        while len(values) + len(failures) < world:
            if stop_at is not None and time.monotonic() > stop_at:
                break
            try:
                rank, status, value = results.get(timeout=0.05)
            except queue.Empty:
                for rank, p in enumerate(procs):
                    seen = rank in values or any(f[0] == rank for f in failures)
                    if p.exitcode is not None and not seen and results.empty():
                        time.sleep(0.05)  # a report may still be in the pipe
                        if results.empty():
                            failures.append((rank, "died", _death(rank, p.exitcode)))
                if failures and stop_at is None:
                    stop_at = time.monotonic() + grace
                continue
            if status == "ok":
                values[rank] = value
            else:
                failures.append((rank, status, value))
                stop_at = stop_at or time.monotonic() + grace
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(grace)
            if p.is_alive():
                p.kill()
                p.join()
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


@dataclass(frozen=True)
class Job:
    """One training run: :func:`lr_variants.create` keywords, :func:`lr_variants.train`
    keywords, and the data. ``per_step``: train one batch per ``train`` call (the batches of
    :func:`lr_variants.batches`) and keep the parameters after every step. ``gradient``: a
    loss-and-gradient function registered first as ``variant`` (:func:`lr_variants.from_gradient`;
    a worker process starts with only the built-in variants)."""

    variant: str
    create: dict[str, Any]
    train: dict[str, Any]
    X: F64
    y: F64
    sample_weight: F64 | None = None
    per_step: bool = False
    gradient: Callable[..., Any] | None = None


@dataclass(frozen=True)
class Outcome:
    """What one run gave: final ``theta = (w, b)``, the ``History``'s batch losses, the loop's
    ``seconds``, and with ``per_step`` every step's ``theta`` (one row per step)."""

    theta: F64
    batch_loss: F64
    seconds: float
    thetas: F64 | None = None


def train_job(job: Job, distributed: bool) -> Outcome:
    """Run ``job`` in this process (data-parallel with ``distributed``)."""
    from lr_variants.training import batches

    if job.gradient is not None:
        from_gradient(job.gradient, job.variant)
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
        return Outcome(np.append(w, b), h.batch_loss, h.seconds)
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
    """Every job data-parallel on the default process group (what :func:`run`'s workers do)."""
    return [train_job(job, True) for job in jobs]


@dataclass(frozen=True)
class Row:
    """One variant trained in one process and across ``world_size`` ranks: both final losses
    (the last epoch's mean batch loss), the largest parameter difference, whether every rank
    ended with bitwise the same parameters, and both loops' seconds."""

    variant: str
    impl: str
    single_loss: float
    distributed_loss: float
    max_abs_param_diff: float
    ranks_equal: bool
    single_seconds: float
    distributed_seconds: float

    @property
    def label(self) -> str:
        return label(self.variant, self.impl)


@dataclass(frozen=True)
class DistributedComparison:
    """What :func:`run` returns: its ``settings`` and one :class:`Row` per variant run."""

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
    **create_options: Any,
) -> DistributedComparison:
    """Train each of ``variants`` (in each of ``impls`` it offers) on ``(X, y)`` in this process
    and data-parallel over ``world_size`` processes on localhost (:func:`launch`, ``gloo``);
    ``create_options`` go to :func:`lr_variants.create` (``lr``, ``dtype``, ``momentum``...;
    ``seed`` picks the initial parameters and the batches)."""
    world = check_int(world_size, "world_size", 1)
    X64 = np.asarray(X, dtype=np.float64)
    y64 = np.asarray(y, dtype=np.float64)
    s64 = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    fit = {"epochs": epochs, "batch_size": batch_size, "seed": seed}
    jobs = [
        Job(name, {**create_options, "seed": seed, "impl": impl}, fit, X64, y64, s64)
        for name in variants
        for impl in impls
        if impl in offered_impls(name)
    ]
    singles = [train_job(job, False) for job in jobs]  # bad arguments fail here, before a launch
    per_rank = launch(train_jobs, jobs, world_size=world, timeout=timeout)
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
            )
        )
    settings = {"world_size": world, **fit, **create_options, "n_samples": len(y64)}
    return DistributedComparison(settings, rows)


def _sizes(n: int, batch_size: int | None) -> np.ndarray:
    size = n if batch_size is None else min(batch_size, n)
    return np.array([min(size, n - i) for i in range(0, n, size)])
