"""Resident memory of this process (Linux ``/proc/self``), and a data-parallel rank that measures
its own: what ``test_scale.py`` and ``test_distributed.py`` record.

``VmHWM`` is the peak resident set since the process started or since :func:`reset_peak` (writing
``5`` to ``/proc/self/clear_refs`` sets it to the current resident set). It counts every page
mapped in: anonymous memory (NumPy's and torch's allocations) and a memory-mapped file's pages,
which reading the map brings in from the page cache (from the disk first, if they are not
cached), whether or not another process has them too.
"""

from __future__ import annotations

from typing import Any


def _status_bytes(field: str) -> int:
    """A ``/proc/self/status`` field, in bytes (0 where it is missing)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    return 0


def rss_anon() -> int:
    """Resident anonymous memory of this process, in bytes (``RssAnon``)."""
    return _status_bytes("RssAnon")


def peak_rss_since_reset() -> int:
    """``VmHWM``, the peak resident memory since :func:`reset_peak` (file pages included)."""
    return _status_bytes("VmHWM")


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current resident size


# np.load and load_data(scan=False) read nothing before train; load_data checks every value
OPENERS = ("np.load", "lv.load_data(scan=False)", "lv.load_data")


def train_mapped(
    pair: str,
    opener: str,
    variant: str,
    create: dict[str, Any],
    fit: dict[str, Any],
    distributed: bool,
) -> dict[str, Any]:
    """One rank (or, without ``distributed``, one process) opening the memory-mapped ``pair``
    (``"X.npy,y.npy"``) with ``opener`` (``np.load(..., mmap_mode="r")``; ``lv.load_data``
    with ``scan=False``, which checks the headers only; or ``lv.load_data``, which also reads
    and checks every value) and training ``variant`` on it: its peak resident memory
    growth from before opening to the end of ``lv.train`` (bytes), the rows it trains on
    (``[lo, hi)``: its shard, or all of X), the final ``theta = (w, b)`` and the loop's
    seconds. The files are opened here (a map sent to a worker would arrive as a copy); run
    through ``lr_variants.distributed.launch``, one fresh process per rank."""
    import numpy as np

    import lr_variants as lv
    from lr_variants._data_parallel import shard_bounds

    if opener not in OPENERS:
        raise ValueError(f"opener must be one of {OPENERS}; got {opener!r}")
    import torch.distributed as dist  # before the reset: imports are not the data's memory

    reset_peak()
    before = peak_rss_since_reset()
    if opener.startswith("lv.load_data"):
        X, y = lv.load_data(pair, scan=opener == "lv.load_data")
    else:
        X, y = (np.load(path, mmap_mode="r") for path in pair.split(","))
    model = lv.create(variant, X.shape[1], **create)
    history = lv.train(model, X, y, distributed=distributed, **fit)
    grown = peak_rss_since_reset() - before
    rows = (0, len(X))
    if distributed:
        bounds = shard_bounds(len(X), dist.get_world_size())
        rows = (bounds[dist.get_rank()], bounds[dist.get_rank() + 1])
    w, b = model.get_params()
    return {
        "growth": grown,
        "rows": rows,
        "row_bytes": X[0].nbytes,
        "theta": np.append(w, b),
        "loop_s": history.seconds,
    }
