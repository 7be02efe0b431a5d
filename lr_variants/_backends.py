"""Where a variant's arrays live: NumPy in host memory, or torch tensors on a device.

A backend converts validated data (in their own dtype,
``lr_variants._validate.check_data_native``) to the variant's own arrays once per call,
copying only where the dtype, the layout or the device demands it; reorders rows once per
epoch; and turns a list of per-step losses back into floats (for torch: one device
synchronisation per list rather than one ``.item()`` per step).

Large data (``keeps_layout``: above ``BIAS_COLUMN_MAX_BYTES``, or memory-mapped) are
used as given: a float32 C-contiguous ``X`` for a float32 model, or a memory map of one, is not
copied at all; the tuned variants then read it once per full-batch step, in cache-sized blocks
of rows (``READ_BLOCK_ELEMENTS``), and a shuffled epoch gathers its batches a bounded block
at a time (``Gathered``) instead of copying all of ``X``. Before each pass over a memory
map (each epoch's batches, each gathered block) the file's size is checked
(``lr_variants._mapped.check_mapped``): a file truncated during the run is one
``OSError`` naming it, not a ``SIGBUS`` that ends the process.
"""

from __future__ import annotations

import mmap
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    import torch

from lr_variants._mapped import check_mapped
from lr_variants._validate import F64, check_choice

NUMPY_DTYPES = {"float32": np.float32, "float64": np.float64}

# a design matrix larger than this (in the model's dtype) is not copied to add a bias column
BIAS_COLUMN_MAX_BYTES = 64 << 20
# a read-once full-batch pass takes blocks of rows of about this many elements (4 MB of float32:
# a block stays in the shared L3 between its two products, and each block's ~15 calls are
# small beside its read; 1 MB blocks were slower at 1,000,000 x 100)
READ_BLOCK_ELEMENTS = 1 << 20
# a shuffled epoch over a memory map gathers its batches in blocks of at most this many bytes
GATHER_BYTES = 16 << 20


def is_mapped(a: Any) -> bool:
    """Whether ``a`` is (a view of) a memory-mapped file (``np.load(..., mmap_mode="r")``)."""
    while isinstance(a, np.ndarray):
        if isinstance(a, np.memmap):
            return True
        a = a.base
    return isinstance(a, mmap.mmap)


def keeps_layout(a: np.ndarray, dtype: Any) -> bool:
    """Whether a design matrix is used as given, without a bias column: when it is
    memory-mapped (a copy would load it) or larger than ``BIAS_COLUMN_MAX_BYTES`` in
    ``dtype`` (a copy would double the memory, and a full-batch step reads it once anyway)."""
    nbytes = a.shape[0] * (a.shape[1] + 1) * np.dtype(dtype).itemsize
    return nbytes > BIAS_COLUMN_MAX_BYTES or is_mapped(a)


class Gathered:
    """The rows ``a[order]`` of a memory-mapped ``a``, not gathered yet: ``gathered_batches``
    gathers them a bounded block at a time, as the batches are used."""

    def __init__(self, a: np.ndarray, order: np.ndarray) -> None:
        self.a, self.order = a, order


def whole(x: Any) -> Any:
    """``x`` itself, or a ``Gathered`` epoch gathered into one array (for a variant that
    takes a whole epoch in one call; one epoch's permuted copy, as without a memory map)."""
    if isinstance(x, Gathered):
        check_mapped(x.a)
        return np.take(x.a, x.order, axis=0)
    check_mapped(x)  # a variant about to read a whole epoch of a memory map
    return x


class LazyBatches(list):  # type: ignore[type-arg]
    """The batches of a ``Gathered`` epoch, each made when iteration reaches it (a list
    only by type: it holds nothing; ``len`` is the number of batches)."""

    def __init__(self, blocks: Callable[[], Iterator[Any]], count: int) -> None:
        super().__init__()
        self.blocks, self.n_batches = blocks, count

    def __iter__(self) -> Iterator[Any]:
        return self.blocks()

    def __len__(self) -> int:
        return self.n_batches


def gathered_batches(
    g: Gathered, slices: list[slice], make: Callable[[np.ndarray], Any]
) -> LazyBatches:
    """Batch ``k`` is ``a[order[slices[k]]]``: consecutive batches are gathered together, in
    blocks of at most ``GATHER_BYTES`` (or one batch), converted by ``make``, and sliced."""
    row_bytes = max(1, g.a[0].nbytes)

    def blocks() -> Iterator[Any]:
        i = 0
        while i < len(slices):
            j, start = i + 1, slices[i].start
            while j < len(slices) and (slices[j].stop - start) * row_bytes <= GATHER_BYTES:
                j += 1
            check_mapped(g.a)
            block = make(np.take(np.asarray(g.a), g.order[start : slices[j - 1].stop], axis=0))
            for s in slices[i:j]:
                yield block[s.start - start : s.stop - start]
            i = j

    return LazyBatches(blocks, len(slices))


def design_matrix(
    X: np.ndarray, dtype: Any, order: Literal["C", "F"] = "C", block: int = 1024
) -> np.ndarray:
    """``[X, 1]`` in ``dtype``: ``X @ theta`` is ``X w + b`` for ``theta = (w, b)``, and ``r @ X``
    holds ``X^T r`` and ``sum(r)``. ``order="F"`` (column-major) is copied in blocks of rows, so
    that each transposing copy stays in cache (faster than one whole-array copy)."""
    n, d = X.shape
    out = np.empty((n, d + 1), dtype=dtype, order=order)
    step = block if order == "F" else max(n, 1)
    for i in range(0, n, step):
        out[i : i + step, :d] = X[i : i + step]
    out[:, d] = 1.0
    return out


class NumpyArrays:
    """Host arrays of one floating dtype (the methods of [`lr_variants.protocol.Arrays`][]).

    With ``bias_column``, a 2-D array (a design matrix) becomes ``design_matrix`` ``[X, 1]``
    (row-major: reordering rows each epoch is faster than from a column-major copy), for
    engines that keep ``theta = (w, b)`` as one vector.
    """

    def __init__(self, dtype: str, *, bias_column: bool = False) -> None:
        self.dtype = NUMPY_DTYPES[dtype]
        self.device = "cpu"
        self.bias_column = bias_column

    def convert(self, a: np.ndarray) -> Any:
        """``a`` in the model's dtype, C-contiguous: the array itself when it already is (a
        memory map included), else one converting copy. With ``bias_column``, a design matrix
        becomes ``[X, 1]`` unless ``keeps_layout`` (large or memory-mapped)."""
        if self.bias_column and a.ndim == 2 and not keeps_layout(a, self.dtype):
            return design_matrix(a, self.dtype)
        return np.asarray(a, dtype=self.dtype, order="C")  # C-contiguous; a 0-d array stays 0-d

    def to_numpy(self, a: Any) -> F64:
        """An array's values as a new float64 NumPy array."""
        return np.array(a, dtype=np.float64)

    def copy(self, a: Any) -> Any:
        """A copy of ``a`` (e.g. the first momentum buffer)."""
        return np.copy(a)

    def rows(self, a: Any, order: np.ndarray) -> Any:
        if a.ndim == 2 and is_mapped(a):  # gathered batch by batch, never all at once
            return Gathered(a, order)
        check_mapped(a)
        return np.take(a, order, axis=0)  # faster than a[order]; a C-ordered copy

    def batches(self, a: Any, slices: list[slice]) -> list[Any]:
        if isinstance(a, Gathered):
            return gathered_batches(a, slices, lambda block: block)
        check_mapped(a)  # the epoch's steps read these views of it
        return [a[s] for s in slices]

    def floats(self, values: list[Any]) -> F64:
        return np.array(values, dtype=np.float64)


def check_torch_device(device: Any) -> str:
    """A torch device string for a device that exists here: ``"cpu"``, ``"cuda"``, ``"cuda:N"``."""
    import torch

    if not isinstance(device, str):
        raise TypeError(f"device must be a string such as 'cpu' or 'cuda:0'; got {device!r}")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(
            f"device must be a torch device string such as 'cpu' or 'cuda:1'; got {device!r}"
        ) from None
    check_choice(dev.type, "device type", ("cpu", "cuda"))
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device must be available here; got {device!r} but CUDA is not")
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise ValueError(f"device must be one of the {count} CUDA devices; got {device!r}")
    return str(dev)


class TorchArrays:
    """Tensors of one floating dtype on one device (the methods of
    [`lr_variants.protocol.Arrays`][]).

    With ``bias_column``, a 2-D array (a design matrix) becomes ``design_matrix`` ``[X, 1]``,
    column-major (strides ``(1, N)``), which torch's CPU matrix-vector products (MKL) read faster
    than a row-major one, ``X @ theta`` and ``X^T r`` alike; rows are then reordered keeping that
    layout.
    """

    def __init__(self, dtype: str, device: str, *, bias_column: bool = False) -> None:
        import torch

        self.torch = torch
        self.dtype: torch.dtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
        self.device: torch.device = torch.device(device)
        self.bias_column = bias_column
        self.numpy_dtype = NUMPY_DTYPES[dtype]
        # data pointer -> the memory map a tensor shares (convert); what rows() gathers lazily
        self.mapped: dict[int, np.ndarray] = {}

    def convert(self, a: np.ndarray) -> Any:
        if self.bias_column and a.ndim == 2 and not keeps_layout(a, self.numpy_dtype):
            # .to() keeps the column-major strides (preserve_format)
            matrix = design_matrix(a, self.numpy_dtype, order="F")
            return self.torch.from_numpy(matrix).to(self.device)
        # torch takes no negative strides (a[::-1]): make the array C-contiguous; and it warns on
        # a read-only array (a broadcast view, a memory map), whose tensor must not alias it:
        # copy that (a writable array in the right dtype is shared, not copied). A read-only
        # memory map on the CPU is the exception: copying it would load the file, and no
        # variant writes to its data (rows are reordered into new tensors), so it is shared
        mapped = is_mapped(a) and self.device.type == "cpu"
        a = np.asarray(a, dtype=self.numpy_dtype, order="C")
        if not (a.flags.writeable or mapped):
            a = a.copy()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "The given NumPy array is not writable")
            t = self.torch.from_numpy(a).to(self.device)
        if mapped and a.ndim == 2:
            self.mapped = {t.data_ptr(): a}  # its rows are gathered lazily (rows()); the latest
        return t

    def rows(self, a: Any, order: np.ndarray) -> Any:
        mapped = self.mapped.get(a.data_ptr()) if a.dim() == 2 else None
        if mapped is not None and mapped.shape == tuple(a.shape):
            return Gathered(mapped, order)  # gathered batch by batch, never all at once
        self.check_mapped(a)
        index = self.torch.from_numpy(order).to(self.device)
        if a.dim() == 2 and a.stride(0) == 1 and a.size(1) > 1:  # column-major: keep it so
            # one gather over all columns (index_select(1, ...) copies column by column:
            # slower); the expanded index is a view, not a copy
            return self.torch.gather(a.t(), 1, index.expand(a.size(1), -1)).t()
        return a.index_select(0, index)  # faster than a[index]

    def batches(self, a: Any, slices: list[slice]) -> Any:
        """The rows of each slice (consecutive, covering ``a``) as views, in one ``split``."""
        if isinstance(a, Gathered):
            return gathered_batches(a, slices, self.torch.from_numpy)
        self.check_mapped(a)  # the epoch's steps read these views of it
        return a.split([s.stop - s.start for s in slices])

    def check_mapped(self, t: Any) -> None:
        """``lr_variants._mapped.check_mapped`` for a tensor sharing a memory map
        (``convert``)."""
        if self.mapped:
            mapped = self.mapped.get(t.data_ptr())
            if mapped is not None:
                check_mapped(mapped)

    def floats(self, values: list[Any]) -> F64:
        if self.device.type == "cpu":  # no device to wait for: read each scalar (faster)
            return np.array([v.item() for v in values], dtype=np.float64)
        return self.to_numpy(self.torch.stack(values))

    def to_numpy(self, t: Any) -> F64:
        """A tensor's values as a float64 NumPy array (a copy, off the autograd graph)."""
        # .numpy() shares memory with a CPU float64 tensor: copy so callers never alias a parameter
        out: F64 = t.detach().to("cpu", self.torch.float64).numpy().copy()
        return out

    def copy(self, t: Any) -> Any:
        """A copy of ``t`` (e.g. the first momentum buffer)."""
        return t.clone()

    def assign(self, t: Any, values: F64 | float) -> None:
        """Overwrite a parameter tensor in place, outside autograd, keeping its shape."""
        # torch takes no negative strides (a reversed view): values are copied anyway
        values = np.ascontiguousarray(values)
        with self.torch.no_grad():
            t.copy_(self.torch.as_tensor(values, dtype=t.dtype).reshape(t.shape))
