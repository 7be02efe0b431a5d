"""The one training loop and the one batching function every variant shares."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from lr_variants._backends import is_mapped, whole
from lr_variants._model import Model
from lr_variants._shuffle import Permutations, stacked
from lr_variants._threads import check_threads, local_ranks
from lr_variants._threads import scope as thread_scope
from lr_variants._validate import (
    F64,
    check_choice,
    check_data_native,
    check_int,
    check_sample_weight,
    max_abs,
)
from lr_variants._weights import normalized
from lr_variants.protocol import EpochsVariant, EpochVariant

# The most steps (epochs x batches per epoch) one train() call takes: 10 million losses are
# 80 MB of history, and at the fastest variant's few microseconds a step, about a minute.
MAX_STEPS = 10_000_000


@dataclass(frozen=True)
class History:
    """What [`train`][lr_variants.training.train] observed.

    ``batch_loss[e, k]`` is the loss of batch ``k`` of epoch ``e`` before its update;
    ``epoch_loss[e]`` is their mean weighted by batch size (the mean per-sample loss seen in
    epoch ``e``); ``seconds`` is the wall time of the loop, data preparation excluded.
    """

    epoch_loss: F64
    batch_loss: F64
    batch_sizes: np.ndarray
    seconds: float
    threads: int = 1  # CPU threads the run used (lr_variants._threads: argument, env, policy)

    @property
    def n_steps(self) -> int:
        return int(self.batch_loss.size)


ORDERS: tuple[str, ...] = ("shuffle", "article")


def batch_plan(
    n_samples: int,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    shuffle: bool = True,
    order: str = "shuffle",
    n_features: int | None = None,
) -> tuple[list[slice], Iterator[np.ndarray | None]]:
    """The batches every variant trains on: ``(slices, orders)``.

    ``slices`` cut ``n_samples`` rows into consecutive batches of ``batch_size`` (the last one
    holds what is left). ``orders`` yields, per epoch, the row order, from the source ``order``
    names (one of ``ORDERS``):

    - ``"shuffle"`` (default): with ``shuffle``, a fresh permutation from one
      ``np.random.default_rng(seed)``, so the whole sequence depends only on
      ``(n_samples, epochs, batch_size, seed)``; without it (or when one batch holds every row,
      whose gradient does not depend on the order in exact arithmetic), ``None``: the rows as
      stored.
    - ``"article"``: the order the reference article's ``DataLoader(..., shuffle=True)`` yields
      after ``torch.manual_seed(seed)`` and ``nn.Linear(n_features, 1)``
      (``lr_variants.article.article_orders``; needs torch and ``n_features``). Applied in
      every epoch, even when one batch holds every row, as the DataLoader does (the order of a
      sum changes its rounding). It is a shuffled order, so ``shuffle=False`` with it raises
      ``ValueError``.

    Batch ``k`` of epoch ``e`` is ``order_e[slices[k]]``.
    """
    check_choice(order, "order", ORDERS)
    slices = [slice(i, min(i + batch_size, n_samples)) for i in range(0, n_samples, batch_size)]
    if order == "article":
        if not shuffle:
            raise ValueError(
                "shuffle must be True with order='article' (the article's DataLoader shuffles);"
                " got shuffle=False"
            )
        if n_features is None:
            raise ValueError("n_features must be given with order='article'; got None")
        from lr_variants.article import article_orders

        return slices, article_orders(n_samples, epochs, seed=seed, n_features=n_features)
    if shuffle and len(slices) > 1:
        return slices, Permutations(n_samples, epochs, seed)
    return slices, itertools.repeat(None, epochs)


def batches(n_samples: int, **plan: Any) -> Iterator[np.ndarray]:
    """The row indices of every training step, in order: what [`train`][lr_variants.training.train]
    feeds each variant (keyword arguments as [`batch_plan`][lr_variants.training.batch_plan]:
    ``epochs``, ``batch_size``, ``seed``, ...)."""
    slices, orders = batch_plan(n_samples, **plan)
    for perm in orders:
        rows = np.arange(n_samples) if perm is None else perm
        for s in slices:
            yield rows[s]


def train(
    model: Model,
    X: Any,
    y: Any,
    *,
    epochs: int = 100,
    batch_size: int | None = 32,
    seed: int = 42,
    shuffle: bool = True,
    order: str = "shuffle",
    sample_weight: Any = None,
    callback: Callable[[int, float], None] | None = None,
    distributed: bool = False,
    batch_callback: Callable[[int, F64], None] | None = None,
    threads: int | None = None,
) -> History:
    """Minibatch training: ``epochs`` passes over ``(X, y)`` in batches of ``batch_size`` rows
    (``None``: the whole data set, i.e. full-batch gradient descent), as
    [`batch_plan`][lr_variants.training.batch_plan] cuts them, one ``model`` optimizer step per
    batch. ``order`` picks the source of each epoch's row order
    ([`batch_plan`][lr_variants.training.batch_plan]): ``"shuffle"`` (default, a NumPy permutation
    from ``seed``) or ``"article"`` (the reference article's ``DataLoader(shuffle=True)`` order
    after ``torch.manual_seed(seed)``; with ``create(..., init="article")`` and the same ``seed``
    this reproduces the article's run, see ``docs/article.md``).

    Data are validated, converted to the model's dtype and moved to its device once; each epoch
    reorders the rows once and then takes contiguous slices, and each step's loss stays on the
    device until the epoch ends. Raises ``FloatingPointError`` if an epoch's loss is not finite
    (training diverged; lower ``lr`` or standardize ``X``), with the model left at that point.

    ``sample_weight`` (shape ``(N,)``, finite, ``>= 0``, positive sum; as in scikit-learn, an
    integer weight counts a row that many times) makes each batch loss the weighted mean
    ``sum(s l) / sum(s)`` over the batch; the weights are converted once and reordered with the
    rows. ``callback(epoch, loss)``, if given, is called after every epoch (``epoch`` counts from
    1) with that epoch's loss (``History.epoch_loss``), e.g. to draw a progress bar or record
    the parameters; its time is left out of ``History.seconds``. ``batch_callback(epoch,
    losses)``, if given, is called at the same moments with that epoch's batch losses as
    recorded (a read-only view of ``History.batch_loss[epoch - 1]``), e.g. to print the last
    batch's loss as the reference article's script does.

    A variant that declares ``in_place_epochs``
    ([`lr_variants.capabilities`][lr_variants.registry.capabilities]) trains many epochs per
    ``train_epochs`` call (one per call when a callback must see each epoch); one that declares
    ``whole_epoch`` trains each epoch in one ``train_epoch`` call; either instead of a ``step`` per
    batch, with the same batches.

    ``distributed=True`` trains data-parallel on the initialised ``torch.distributed`` default
    process group (every rank calls ``train`` with the same arguments and data): each batch is
    split into contiguous row ranges, one per rank, and the gradient all-reduced, so that every
    rank follows the single process's trajectory (``lr_variants._data_parallel``,
    ``docs/distributed.md``), every variant per step as its declared ``data_parallel`` says (a
    whole-epoch variant too); ``ValueError`` without a process group or if the ranks' data or
    settings differ.
    """
    epochs = check_int(epochs, "epochs", 0)
    seed = check_int(seed, "seed", 0)
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle must be a bool; got {shuffle!r}")
    check_choice(order, "order", ORDERS)
    if not isinstance(distributed, (bool, np.bool_)):
        raise TypeError(f"distributed must be a bool; got {distributed!r}")
    # validated in blocks in the data's own dtype (Xv is X itself where it is a NumPy array,
    # whatever its dtype: a memory map stays one); converted once below, only where needed.
    # Data-parallel on a memory map: each rank reads only its rows, values checked there
    per_rank = bool(distributed) and is_mapped(X)
    Xv, yv = check_data_native(X, y, model.n_features, dtype=model.dtype, scan=not per_rank)
    n = len(yv)
    size = n if batch_size is None else min(check_int(batch_size, "batch_size", 1), n)
    steps = epochs * -(-n // size)
    if steps > MAX_STEPS:
        raise ValueError(
            f"epochs x batches per epoch must be at most {MAX_STEPS:,} steps "
            f"(lr_variants.training.MAX_STEPS); got {epochs:,} x {-(-n // size):,} = {steps:,}"
        )
    for name, fn in (("callback", callback), ("batch_callback", batch_callback)):
        if fn is not None and not callable(fn):
            raise TypeError(f"{name} must be callable or None; got {fn!r}")
    s64 = None if sample_weight is None else check_sample_weight(sample_weight, n)

    threads = check_threads(threads)
    ranks = 1
    if distributed:  # the ranks on this machine share its cores
        ranks = local_ranks()
    with thread_scope(threads, size * model.n_features, ranks=ranks) as decision:
        return _train(
            model, Xv, yv, s64, (epochs, size, seed, shuffle, order), callback, batch_callback,
            distributed, decision.threads, not per_rank,
        )  # fmt: skip


# row indices of several epochs' orders handed to a whole-epoch variant in one call (8 MB)
ORDER_VALUES = 1 << 20


def _train(
    model: Model,
    Xv: Any,
    yv: Any,
    s64: F64 | None,
    plan: tuple[int, int, int, bool, str],
    callback: Callable[[int, float], None] | None,
    batch_callback: Callable[[int, F64], None] | None,
    distributed: bool,
    threads: int,
    scanned: bool = True,
) -> History:
    """[`train`][lr_variants.training.train]'s loop, on validated data, inside its thread scope."""
    epochs, size, seed, shuffle, order = plan
    n = len(yv)
    engine: Any = model.engine
    # as declared: many epochs per call, rows read in place (EpochsVariant); a whole epoch per
    # call on reordered rows (EpochVariant); or a step per batch
    in_place_epochs = model.capabilities.in_place_epochs
    whole_epoch = model.capabilities.whole_epoch and not in_place_epochs
    if distributed:  # each batch split across the ranks (lr_variants._data_parallel), per step
        from lr_variants._data_parallel import data_parallel

        engine, s64 = data_parallel(model, Xv, yv, s64, plan, scanned)
        in_place_epochs = whole_epoch = False
    arrays = engine.arrays
    Xa, ya = arrays.convert(Xv), arrays.convert(yv)
    slices, orders = batch_plan(
        n,
        epochs=epochs,
        batch_size=size,
        seed=seed,
        shuffle=shuffle,
        order=order,
        n_features=model.n_features,
    )
    sizes = np.array([s.stop - s.start for s in slices])
    batch_loss = np.empty((epochs, len(slices)))

    start = 0.0  # the loop's start, set below and moved on by the callbacks' time

    def finish_epoch(epoch: int) -> None:
        """Stop on a non-finite loss; then the callbacks, their time left out of the loop's."""
        nonlocal start
        finite = np.isfinite(batch_loss[epoch])
        if not finite.all():
            k = int(np.argmin(finite))
            raise FloatingPointError(
                f"training diverged: the loss became {batch_loss[epoch, k]} in epoch {epoch + 1}"
                f" (step {k + 1}) with lr={model.lr}; lower lr or standardize X (its largest"
                f" |value| is {max_abs(Xv):.3g})"
            )
        if callback is not None or batch_callback is not None:
            paused = time.perf_counter()
            if callback is not None:
                callback(epoch + 1, float(batch_loss[epoch] @ sizes / n))
            if batch_callback is not None:
                recorded = batch_loss[epoch].view()
                recorded.flags.writeable = False
                batch_callback(epoch + 1, recorded)
            start += time.perf_counter() - paused  # the callbacks' time is not training time

    start = time.perf_counter()
    if in_place_epochs:
        train_epochs = cast(EpochsVariant, engine).train_epochs
        # one epoch per call when callbacks must see each epoch; else as many as ORDER_VALUES
        per_call = 1 if callback or batch_callback else max(1, min(epochs, ORDER_VALUES // n))
        done = 0
        for chunk, u in _epoch_chunks(orders, n, per_call, s64, slices):
            ua = None if u is None else arrays.convert(u)
            # whole(): a memory-mapped file cut short since the last call is one error
            ran = train_epochs(whole(Xa), whole(ya), ua, slices, chunk)
            batch_loss[done : done + len(ran)] = ran
            if per_call > 1 and np.isfinite(ran).all():  # no callbacks, nothing to stop
                done += len(chunk)
                continue
            for epoch in range(done, done + len(ran)):
                finish_epoch(epoch)
            done += len(chunk)
    else:
        step, cut = engine.step, arrays.batches  # cut: each epoch's batches, as views
        train_epoch = cast(EpochVariant, engine).train_epoch if whole_epoch else None
        # each batch's weights normalized to sum 1, in float64: once, or per epoch if reordered
        ua = None if s64 is None else arrays.convert(normalized(s64, slices))
        for epoch, perm in enumerate(orders):
            Xe, ye = (Xa, ya) if perm is None else (arrays.rows(Xa, perm), arrays.rows(ya, perm))
            if s64 is not None and perm is not None:
                ua = arrays.convert(normalized(s64[perm], slices))
            if train_epoch is not None:
                batch_loss[epoch] = train_epoch(whole(Xe), whole(ye), ua, slices)
                finish_epoch(epoch)
                continue
            Xb, yb = cut(Xe, slices), cut(ye, slices)
            if ua is None:  # two arguments, not three: this loop is the hot path
                losses = [step(x, t) for x, t in zip(Xb, yb, strict=True)]
            else:
                losses = [step(*b) for b in zip(Xb, yb, cut(ua, slices), strict=True)]
            batch_loss[epoch] = arrays.floats(losses)
            finish_epoch(epoch)
    seconds = time.perf_counter() - start
    w, b = model.get_params()
    if not (np.isfinite(w).all() and np.isfinite(b)):
        raise FloatingPointError(
            f"training diverged: the parameters became non-finite in the last step with "
            f"lr={model.lr}; lower lr or standardize X"
        )
    epoch_loss = batch_loss @ sizes / n
    return History(epoch_loss, batch_loss, sizes, seconds, threads)


def _epoch_chunks(
    orders: Iterator[np.ndarray | None],
    n: int,
    per_call: int,
    s64: F64 | None,
    slices: list[slice],
) -> Iterator[tuple[np.ndarray, F64 | None]]:
    """``(orders, u)`` for up to ``per_call`` consecutive epochs at a time: their row orders
    as one ``(epochs, n)`` int64 array (``arange(n)`` where the rows stay as stored) and, with
    sample weights, each epoch's weights in its batch order, normalized per batch."""
    # the rows-as-stored order, made once for all the chunks (a plan of permutations has none)
    as_stored = None if isinstance(orders, Permutations) else np.arange(n, dtype=np.int64)
    while True:
        rows = stacked(orders, per_call, n, as_stored)
        if not len(rows):
            return
        u = None
        if s64 is not None:
            u = np.stack([normalized(s64[r], slices) for r in rows])
        yield rows, u


def accuracy(model: Model, X: Any, y: Any) -> float:
    """Fraction of rows where ``predict_proba > 0.5`` equals ``y``."""
    Xv, yv = check_data_native(X, y, model.n_features, dtype=model.dtype)
    return float(np.mean((model.predict_proba(Xv) > 0.5) == (yv == 1)))
