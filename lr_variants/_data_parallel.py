"""Data-parallel training: each global batch split into contiguous row ranges, one per rank.

[`lr_variants.train`][lr_variants.training.train] with ``distributed=True`` runs its usual loop on
every rank of an initialised ``torch.distributed`` default group, through the engine
``data_parallel`` returns instead of the model's own. With global batch ``B`` (the rows
[`batch_plan`][lr_variants.training.batch_plan] gives one process), per-row weights ``s_i`` (1
without sample weights) and ``S = sum_{i in B} s_i``, rank ``r`` of ``R`` holds the contiguous rows
``B_r`` (``shard_bounds``: sizes differ by at most one, nothing padded or dropped, possibly none)
and the weights ``u_i = s_i / S``, normalized by the GLOBAL total, so its part of the loss and
gradient is a sum::

    L_r = sum_{i in B_r} u_i l_i,    g_r = sum_{i in B_r} u_i (p_i - y_i) (x_i, 1)
    sum_r L_r = L,                   sum_r g_r = g       (all_reduce, SUM)

the single process's weighted mean; a rank with no rows (or zero weight) adds zeros. Every rank
then applies the same update to the same all-reduced ``g`` and so holds bitwise the same
parameters.

How a variant trains is what it declares (``Capabilities.data_parallel``), never its class:

- ``"ddp"`` (the module variant, [`lr_variants.protocol.ModuleVariant`][]): the real
  ``torch.nn.parallel.DistributedDataParallel`` around its ``nn.Module``, stepping its own
  ``torch.optim.SGD``: DDP averages gradients over ranks (``sum_r grad / R``), so each rank
  back-propagates ``R L_r``.
- ``"gradients"`` (every other variant, the default): through the protocol alone
  (``GradientAllReduce``): its ``gradients`` on the shard, one ``all_reduce`` of
  ``(g_w, g_b)``, then [`lr_variants._sgd.SGD`][] (``torch.optim.SGD``'s rule, the
  variant's own) on a copy of the parameters in the model's dtype, written back with
  ``set_params`` (and the momentum buffers with ``optimizer.set_state``). A whole-epoch
  variant (numba) trains this way too, one step per batch: its epoch kernel would see every
  row. A variant that declares ``linear_in_u`` gets the shard's weights as they are (they sum
  to less than 1); any other gets them renormalized to sum 1 (the protocol's promise) and its
  results scaled back by the shard's share.

Each epoch's step losses are all-reduced once, at the end of the epoch (``floats``). The
engines offer what the training loop drives, ``arrays`` and ``step``, and nothing else: the
model's own queries (``get_params``, ``loss``, ...) stay with the model.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import sys
from collections.abc import Iterator
from typing import Any, cast

import numpy as np

from lr_variants._backends import NumpyArrays
from lr_variants._model import Model
from lr_variants._sgd import SGD
from lr_variants._validate import F64, check_rows, row_blocks
from lr_variants.protocol import ModuleVariant

LAUNCH_HINT = (
    "launch the processes with torchrun (torchrun --nproc-per-node=2 -m lr_variants train "
    "--distributed ...), or call torch.distributed.init_process_group first, or use "
    "lr_variants.distributed.launch/run on one machine"
)


def shard_bounds(n: int, world: int) -> list[int]:
    """``world + 1`` bounds cutting ``n`` rows into contiguous ranges, rank ``r`` holding
    ``[bounds[r], bounds[r + 1])``: the first ``n % world`` ranks one row more (as
    ``np.array_split``), no row padded, repeated or dropped."""
    q, extra = divmod(n, world)
    return [r * q + min(r, extra) for r in range(world + 1)]


def end_rank(status: int) -> None:
    """End this process with ``status`` once a rank's work is over: both streams flushed, then
    ``os._exit``, without Python's finalization. torch's ``DistributedDataParallel`` keeps the
    gloo group and its worker threads alive after ``destroy_process_group``, and such a thread
    may still be releasing the last collective's work, which holds Python objects, when Python
    finalizes: asked for the interpreter then, the thread is stopped inside a C++ destructor and
    the process aborts ("terminate called without an active exception", seen in about one run
    in eight on a busy 2-core machine)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed, or a broken pipe
            stream.flush()
    os._exit(status)


class PeerLostError(ConnectionError):
    """A collective operation failed: another rank raised, was killed or timed out."""


class Communicator:
    """The default process group as this module uses it: rank, world size and a float64 SUM
    ``all_reduce`` whose failure is one clear ``PeerLostError`` naming this rank."""

    def __init__(self) -> None:
        import torch
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            raise ValueError(
                f"distributed=True needs an initialised torch.distributed default process group;"
                f" got none: {LAUNCH_HINT}"
            )
        self.dist, self.torch = dist, torch
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        nccl = dist.get_backend() == "nccl"  # NCCL reduces device tensors only
        self.device = torch.device("cuda", torch.cuda.current_device()) if nccl else None

    @contextlib.contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """Turn a failed collective (torch raises ``RuntimeError``/``DistError``) into
        ``PeerLostError``."""
        try:
            yield
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PeerLostError(
                f"rank {self.rank}: {what} failed: another rank stopped (it raised, was killed, "
                f"or exceeded the process group's timeout): {first}"
            ) from None

    def all_reduce(self, values: F64) -> F64:
        """The element-wise sum of ``values`` (float64) over every rank, the same on each."""
        t = self.torch.from_numpy(values)
        if self.device is not None:
            t = t.to(self.device)
        with self.guard("all_reduce"):
            self.dist.all_reduce(t)
        out: F64 = t.cpu().numpy() if self.device is not None else t.numpy()
        return out

    def agree(self, facts: dict[str, Any]) -> None:
        """Refuse to start unless every rank holds the same ``facts`` (checked by rank 0's)."""
        gathered: list[Any] = [None] * self.world
        with self.guard("all_gather_object of the data's checksums"):
            self.dist.all_gather_object(gathered, facts)
        for rank, theirs in enumerate(gathered):
            for key, value in theirs.items():
                if value != gathered[0][key]:
                    raise ValueError(
                        f"every rank must train on the same {key}; rank {rank} has {value!r}, "
                        f"rank 0 has {gathered[0][key]!r}"
                    )


def fingerprint(a: Any, rows: np.ndarray | None = None) -> str:
    """Shape and a BLAKE2b checksum of an array's bytes (``None`` stays ``None``), hashed a
    block of rows at a time (no copy of the array); with ``rows``, of those rows only."""
    if a is None:
        return "none"
    digest = hashlib.blake2b(digest_size=8)
    if rows is not None:
        digest.update(np.ascontiguousarray(a[rows]).tobytes())
    elif a.ndim == 0:
        digest.update(np.ascontiguousarray(a).tobytes())
    else:
        for block in row_blocks(len(a), a[0].size if len(a) else 1):
            digest.update(np.ascontiguousarray(a[block]).tobytes())
    return f"{a.shape}:{a.dtype}:{digest.hexdigest()}"


# rows at each end of a memory map that every rank hashes to agree on the data without
# reading it whole (two runs of rows: a page fault maps the pages around it, up to megabytes
# with large folios, so rows spread over the file would load much of it)
SAMPLE_ROWS = 64


def rank_ranges(n: int, rank: int, world: int, plan: tuple[Any, ...]) -> list[tuple[int, int]]:
    """The rows ``[lo, hi)`` rank ``rank`` reads in training on ``plan`` = ``(epochs,
    batch_size, seed, shuffle, order)``: its piece of every batch when the rows keep their
    stored order (no shuffle, or one batch); all of them when each epoch reorders the rows
    (its pieces of shuffled batches lie anywhere)."""
    _, size, _, shuffle, order = plan
    starts = range(0, n, size)
    if order != "shuffle" or (shuffle and len(starts) > 1):
        return [(0, n)]
    ranges: list[tuple[int, int]] = []
    for start in starts:
        bounds = shard_bounds(min(size, n - start), world)
        lo, hi = start + bounds[rank], start + bounds[rank + 1]
        if hi > lo:
            if ranges and ranges[-1][1] == lo:  # merge touching ranges
                lo = ranges.pop()[0]
            ranges.append((lo, hi))
    return ranges


class ShardedArrays:
    """The variant's backend with each batch cut to this rank's rows.

    ``batches`` cuts every batch into ``world`` contiguous pieces (``shard_bounds``; the
    pieces cover the array, as the protocol asks of the variant's own ``batches``) and keeps
    this rank's; ``floats`` all-reduces an epoch's step losses (``None``: an empty shard's 0).
    """

    def __init__(self, inner: Any, comm: Communicator) -> None:
        self.inner, self.comm = inner, comm
        self.device = inner.device

    def convert(self, a: F64) -> Any:
        return self.inner.convert(a)

    def to_numpy(self, a: Any) -> F64:
        return self.inner.to_numpy(a)  # type: ignore[no-any-return]

    def copy(self, a: Any) -> Any:
        return self.inner.copy(a)

    def rows(self, a: Any, order: np.ndarray) -> Any:
        return self.inner.rows(a, order)

    def batches(self, a: Any, slices: list[slice]) -> list[Any]:
        pieces = []
        for s in slices:
            bounds = shard_bounds(s.stop - s.start, self.comm.world)
            pieces += [slice(s.start + lo, s.start + hi) for lo, hi in itertools.pairwise(bounds)]
        return list(self.inner.batches(a, pieces))[self.comm.rank :: self.comm.world]

    def floats(self, values: list[Any]) -> F64:
        local = np.zeros(len(values))
        held = [i for i, v in enumerate(values) if v is not None]
        if held:
            local[held] = self.inner.floats([values[i] for i in held])
        return self.comm.all_reduce(local)


class GradientAllReduce:
    """Any variant through the protocol: shard gradients, one ``all_reduce``, the variant's
    SGD rule ([`lr_variants._sgd.SGD`][] with the model's options) on a copy of ``(w, b)`` in
    the model's dtype, written back with ``set_params``."""

    def __init__(self, model: Model, comm: Communicator) -> None:
        inner = model.engine
        self.inner, self.comm = inner, comm
        self.arrays = ShardedArrays(inner.arrays, comm)
        self.params = NumpyArrays(model.dtype)
        w, b = inner.get_params()
        self.w, self.b = self.params.convert(w), self.params.convert(np.asarray(b))
        self.optimizer = SGD(model.sgd, self.params)
        self.optimizer.set_state(inner.optimizer.get_state())
        self.momentum = bool(model.sgd.momentum)
        self.linear = model.capabilities.linear_in_u  # as declared
        self.grads = np.zeros(model.n_features + 1)

    def step(self, X: Any, y: Any, u: Any) -> Any:
        """One step on this rank's rows of the batch (``u``: weights over the global batch)."""
        loss, g = None, self.grads
        g[:] = 0.0
        if len(y):
            share = 1.0
            if not self.linear:  # the protocol promises u sums to 1: renormalize, scale back
                u64 = self.inner.arrays.to_numpy(u)
                share = float(u64.sum())
                u = self.inner.arrays.convert(u64 / share) if share > 0 else None
            if u is not None:
                loss = self.inner.loss(X, y, u)
                g[:-1], g[-1] = self.inner.gradients(X, y, u)
                if share != 1.0:
                    g *= share
                    loss = share * self.inner.arrays.floats([loss])[0]
                    loss = self.inner.arrays.convert(np.asarray(loss))
        total = self.comm.all_reduce(g).astype(self.params.dtype)
        self.optimizer.step([self.w, self.b], [total[:-1], total[-1:].reshape(())])
        self.inner.set_params(self.w.astype(np.float64), float(self.b))
        if self.momentum:  # the model's own optimizer holds the buffers the next step needs
            self.inner.optimizer.set_state(self.optimizer.get_state())
        return loss


class DDPModule:
    """The module variant under ``torch.nn.parallel.DistributedDataParallel``, stepped by its own
    ``torch.optim.SGD``. DDP averages the ranks' gradients, so each rank back-propagates
    ``R L_r`` (its share of the global weighted mean, times the world size)."""

    def __init__(self, model: Model, comm: Communicator) -> None:
        from torch.nn.parallel import DistributedDataParallel

        inner = cast(ModuleVariant, model.engine)  # as declared: data_parallel="ddp"
        self.inner, self.comm = inner, comm
        self.arrays = ShardedArrays(inner.arrays, comm)
        device = inner.arrays.device
        ids = [device] if device.type == "cuda" else None
        with comm.guard("DistributedDataParallel's parameter broadcast"):
            self.ddp = DistributedDataParallel(inner.net, device_ids=ids)

    def step(self, X: Any, y: Any, u: Any) -> Any:
        inner = self.inner
        L = inner.loss_from_logits(self.ddp(X), y, u)  # L_r: a sum over this rank's rows
        inner.sgd.zero_grad()
        with self.comm.guard("DistributedDataParallel's gradient all_reduce"):
            (L * self.comm.world).backward()  # DDP divides the sum over ranks by the world size
        inner.sgd.step()
        return L.detach()


def data_parallel(
    model: Model, X: F64, y: F64, s: F64 | None, plan: tuple[Any, ...], scanned: bool = True
) -> tuple[Any, F64]:
    """``(engine, s)``: the engine that trains ``model`` data-parallel on the default process
    group, and the sample weights to normalize per global batch (ones when ``s`` is ``None``:
    every shard then weighs its rows ``1 / (global batch size)``). First every rank must show
    the same data (shape and checksum), settings ``plan`` and initial state.

    ``scanned=False`` (memory-mapped data, whose values the caller left unread): each rank
    checks the values of only the rows it reads (``rank_ranges``), every rank raising the
    first rank's error if one fails, and the ranks agree on the data by its shape and the
    checksum of its first and last ``SAMPLE_ROWS`` rows, so that no rank reads the whole
    file."""
    comm = Communicator()
    sample = None
    if not scanned:
        error = ""
        try:
            check_rows(X, y, rank_ranges(len(y), comm.rank, comm.world, plan), model.dtype)
        except (ValueError, TypeError) as exc:
            error = str(exc)
        errors: list[Any] = [None] * comm.world
        with comm.guard("all_gather_object of the data checks"):
            comm.dist.all_gather_object(errors, error)
        first = next((e for e in errors if e), "")
        if first:
            raise ValueError(first)
        n = len(y)
        sample = np.unique(np.r_[0 : min(SAMPLE_ROWS, n), max(0, n - SAMPLE_ROWS) : n])
    w, b = model.get_params()
    state = model.get_state()
    comm.agree(
        {
            "X": fingerprint(X, sample),
            "y": fingerprint(y, sample),
            "sample_weight": fingerprint(s),
            "epochs, batch_size, seed, shuffle, order": tuple(plan),
            "variant": f"{model.name}/{model.impl}/{model.dtype}/{model.options}",
            "sgd options": str(model.sgd),
            "initial parameters": fingerprint(np.append(w, b)),
            "optimizer state": {k: fingerprint(v) for k, v in sorted(state.items())},
        }
    )
    weights = np.ones(len(y)) if s is None else s
    if model.capabilities.data_parallel == "ddp":
        return DDPModule(model, comm), weights
    return GradientAllReduce(model, comm), weights
