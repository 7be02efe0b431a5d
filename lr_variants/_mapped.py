"""Memory-mapped data whose file may change under a run: ``check_mapped``.

A memory map (``np.load(..., mmap_mode="r")``, or ``lv.load_data("X.npy,y.npy")``) reads its
file's pages as the program touches them. If another program truncates the file, touching a page
past the new end makes the kernel send ``SIGBUS``, which ends the process at once, without a
word and beyond the reach of any Python handler (the faulting read cannot be resumed). So
every pass over mapped data first asks the file's size, one ``fstat`` per pass: the data
checks (``lr_variants._validate``) before each block of rows, the training loop's backends
(``lr_variants._backends``) before each epoch and each gathered block. A file cut short
between two such checks is one ``MappedFileChanged``; one cut short while a block is
being read still ends the process with ``SIGBUS`` (``docs/reliability.md``).
"""

from __future__ import annotations

import mmap
import os
from typing import Any

import numpy as np


class MappedFileChanged(OSError):
    """A memory-mapped file lost bytes its map covers (another program truncated it): reading
    on would end the process with ``SIGBUS``."""


def check_mapped(a: Any) -> None:
    """Raise ``MappedFileChanged`` if ``a`` is (a view of) a memory map whose file has
    shrunk below the mapped range since it was mapped; otherwise do nothing (one ``fstat``, on
    the descriptor the map holds: a file renamed or replaced meanwhile is still the one read)."""
    while type(a) is np.ndarray:  # the common case, an array in memory: a few attribute reads
        a = a.base
    if not isinstance(a, np.memmap):
        if not isinstance(a, np.ndarray):
            return
        while isinstance(a, np.ndarray) and not isinstance(a, np.memmap):  # other subclasses
            a = a.base
        if not isinstance(a, np.memmap):
            return
    view: Any = a
    mm = getattr(view, "_mmap", None)  # numpy's own attribute: the mmap.mmap of the file
    if not isinstance(mm, mmap.mmap):
        return
    start = view.offset - view.offset % mmap.ALLOCATIONGRANULARITY
    try:
        size = mm.size()
    except (OSError, ValueError):  # a closed map: numpy refuses to read it by itself
        return
    if size < start + len(mm):
        name = repr(os.fspath(view.filename)) if view.filename is not None else "(unnamed)"
        raise MappedFileChanged(
            f"data file {name} shrank to {size} bytes while memory-mapped (its data need "
            f"{start + len(mm)}): another program truncated or rewrote it during the run; "
            "stopped before reading past its end"
        )
