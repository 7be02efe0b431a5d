"""Data-parallel training splits every batch across the ranks, for every variant: shown by what
each rank does, not by the final result alone (a rank that trained on all the data by itself
would end at the same parameters).

One launch of two worker processes (gloo on localhost) runs every built-in variant in each
implementation, and a from_gradient plug-in declared both ways (linear in u or not). In each
rank the test counts the ``all_reduce`` calls (DistributedDataParallel's own reductions go
through a comm hook that calls the same ``torch.distributed.all_reduce``) and records the rows
the variant is handed per step: the gradient function records them itself; a built-in is
spied on where the engine calls it (``gradients``, or ``loss_from_logits`` under DDP). The
data: 1,001 rows in batches of 100 over 2 epochs, so the last batch of each epoch holds one
row and rank 1 gets none of it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import lr_variants as lv
from lr_variants import distributed as d

pytest.importorskip("torch.distributed")

EPOCHS, BATCH, SEED, WORLD = 2, 100, 3, 2
PLUGINS = {"dp_rows_linear": True, "dp_rows": False}  # name -> declared linear_in_u
_SEEN: list[tuple[int, list[float]]] = []  # in a worker: what the gradient function was given


def _data() -> tuple[Any, Any]:
    X, y = lv.two_blobs(501)
    return X[:1001], y[:1001]


def recording_gradient(w: Any, b: Any, X: Any, y: Any, u: Any) -> tuple[Any, Any, Any]:
    """A plug-in's loss and gradient that records the rows it is given (their first
    feature, to tell which rows they are). ``u`` is used as given: the sums ``sum u l``."""
    _SEEN.append((len(y), X[:, 0].tolist()))
    u = np.full(len(y), 1.0 / len(y)) if u is None else u
    z = X @ w + b
    p = 1 / (1 + np.exp(-z))
    loss = u @ (np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
    return loss, X.T @ (u * (p - y)), u @ (p - y)


def _spy_all_reduce() -> tuple[dict[str, int], Any]:
    """Count ``torch.distributed.all_reduce`` calls in this process, DDP's included; returns
    the counter and a function that undoes the patches."""
    import torch.distributed as dist
    import torch.nn.parallel as parallel
    from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

    count = {"all_reduce": 0}
    real_all_reduce, real_ddp = dist.all_reduce, parallel.DistributedDataParallel

    def all_reduce(*args: Any, **kwargs: Any) -> Any:
        count["all_reduce"] += 1
        return real_all_reduce(*args, **kwargs)

    class CountedDDP(real_ddp):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.register_comm_hook(None, allreduce_hook)  # DDP's reduction, through all_reduce

    dist.all_reduce, parallel.DistributedDataParallel = all_reduce, CountedDDP

    def undo() -> None:
        dist.all_reduce, parallel.DistributedDataParallel = real_all_reduce, real_ddp

    return count, undo


def _spy(engine: Any, method: str, rows: list[int]) -> None:
    """Record ``len(y)`` of every call of ``engine.method(X, y, ...)``."""
    real = getattr(engine, method)

    def spied(X: Any, y: Any, *args: Any) -> Any:
        rows.append(len(y))
        return real(X, y, *args)

    setattr(engine, method, spied)


def spied_runs(jobs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """In each rank: every ``(variant, impl)`` trained with ``distributed=True``, with what it
    did counted."""
    import torch.distributed as dist

    X, y = _data()
    for name, linear in PLUGINS.items():
        lv.from_gradient(recording_gradient, name, linear_in_u=linear)
    out = []
    for variant, impl in jobs:
        model = lv.create(variant, 2, dtype="float64", impl=impl, momentum=0.5)
        rows: list[int] = []
        epoch_calls: list[int] = []
        caps = lv.capabilities(variant)
        engine = model.engine
        if variant not in PLUGINS:  # the plug-in records its rows itself
            _spy(engine, "loss_from_logits" if caps.data_parallel == "ddp" else "gradients", rows)
        if caps.whole_epoch:
            _spy(engine, "train_epoch", epoch_calls)
        if caps.in_place_epochs:
            _spy(engine, "train_epochs", epoch_calls)
        _SEEN.clear()
        count, undo = _spy_all_reduce()
        try:
            lv.train(model, X, y, epochs=EPOCHS, batch_size=BATCH, seed=SEED, distributed=True)
        finally:
            undo()
        w, b = model.get_params()
        out.append(
            {
                "rank": dist.get_rank(),
                "all_reduce": count["all_reduce"],
                "rows": rows,
                "epoch_calls": epoch_calls,
                "seen": list(_SEEN),
                "theta": np.append(w, b),
            }
        )
    return out


JOBS = [(v, i) for v in lv.VARIANTS for i in lv.impls(v)] + [(p, "textbook") for p in PLUGINS]


@pytest.fixture(scope="module")
def ranks() -> list[list[dict[str, Any]]]:
    """Per rank, one record per job of :data:`JOBS`."""
    return d.launch(spied_runs, JOBS, world_size=WORLD, timeout=120)


def _shards() -> list[list[Any]]:
    """Per step, the rows of each rank: each batch cut into two contiguous halves, the first
    one row longer when the batch is odd (``np.array_split``), independently of the library's
    own cutting."""
    X, _ = _data()
    steps = lv.batches(len(X), epochs=EPOCHS, batch_size=BATCH, seed=SEED)
    return [np.array_split(rows, WORLD) for rows in steps]


def test_every_variant_reduces_at_least_once_per_step_on_every_rank(ranks: Any) -> None:
    """Each rank makes one ``all_reduce`` per step (the gradients) and one per epoch (the
    epoch's losses): 2 x 11 + 2 = 24, numba and the module variant's DDP included."""
    steps = len(_shards())
    assert steps == EPOCHS * 11
    for k, (variant, impl) in enumerate(JOBS):
        for rank in range(WORLD):
            got = ranks[rank][k]["all_reduce"]
            assert got >= steps, (variant, impl, rank, got)
            assert got == steps + EPOCHS, (variant, impl, rank, got)


def test_every_variant_sees_only_its_ranks_rows_of_each_batch(ranks: Any) -> None:
    """The rows a variant is handed per step are this rank's half of the batch: 50 and 50,
    then 1 and none for the one-row batch; a whole-epoch variant's epoch kernel never runs."""
    shards = _shards()
    for k, (variant, impl) in enumerate(JOBS):
        if variant in PLUGINS:
            continue
        for rank in range(WORLD):
            record = ranks[rank][k]
            expected = [len(s[rank]) for s in shards]
            if lv.capabilities(variant).data_parallel == "gradients":
                expected = [n for n in expected if n]  # an empty shard asks nothing
            assert record["rows"] == expected, (variant, impl, rank)
            assert record["epoch_calls"] == [], (variant, impl, rank)


def test_a_gradient_function_is_handed_exactly_its_ranks_rows(ranks: Any) -> None:
    """The plug-in's own record: per step the engine asks it for the loss and then the
    gradient (two calls) on exactly this rank's rows, identified by their first feature."""
    X, _ = _data()
    shards = _shards()
    for k, (variant, _) in enumerate(JOBS):
        if variant not in PLUGINS:
            continue
        for rank in range(WORLD):
            seen = ranks[rank][k]["seen"]
            expected = [(len(s[rank]), X[s[rank], 0].tolist()) for s in shards if len(s[rank])]
            assert seen[0::2] == expected, (variant, rank)
            assert seen[1::2] == expected, (variant, rank)


def test_ranks_agree_and_match_one_process(ranks: Any) -> None:
    """Both ranks end bitwise equal, within 1e-12 of the same variant trained in one process
    (float64: only the grouping of each batch's sums differs; tests/test_distributed.py)."""
    X, y = _data()
    for name, linear in PLUGINS.items():
        lv.from_gradient(recording_gradient, name, linear_in_u=linear)
    for k, (variant, impl) in enumerate(JOBS):
        model = lv.create(variant, 2, dtype="float64", impl=impl, momentum=0.5)
        lv.train(model, X, y, epochs=EPOCHS, batch_size=BATCH, seed=SEED)
        one = np.append(*model.get_params())
        r0, r1 = ranks[0][k]["theta"], ranks[1][k]["theta"]
        assert np.array_equal(r0, r1), (variant, impl)
        assert float(np.max(np.abs(r0 - one))) <= 1e-12, (variant, impl)
