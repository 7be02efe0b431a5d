"""Where a variant's arrays live: NumPy in host memory, or torch tensors on a device.

A backend converts validated float64 data to the variant's own arrays once per call, reorders
rows once per epoch, and turns a list of per-step losses back into floats (for torch: one device
synchronisation per list rather than one ``.item()`` per step).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

from lr_variants._validate import F64, check_choice

NUMPY_DTYPES = {"float32": np.float32, "float64": np.float64}


class NumpyArrays:
    """Host arrays of one floating dtype."""

    def __init__(self, dtype: str) -> None:
        self.dtype = NUMPY_DTYPES[dtype]
        self.device = "cpu"

    def convert(self, a: F64) -> Any:
        return np.ascontiguousarray(a, dtype=self.dtype)

    def rows(self, a: Any, order: np.ndarray) -> Any:
        return a[order]

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
    """Tensors of one floating dtype on one device."""

    def __init__(self, dtype: str, device: str) -> None:
        import torch

        self.torch = torch
        self.dtype: torch.dtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
        self.device: torch.device = torch.device(device)

    def convert(self, a: F64) -> Any:
        return self.torch.as_tensor(a, dtype=self.dtype).to(self.device).contiguous()

    def rows(self, a: Any, order: np.ndarray) -> Any:
        return a[self.torch.as_tensor(order).to(self.device)]

    def floats(self, values: list[Any]) -> F64:
        return self.to_numpy(self.torch.stack(values))

    def to_numpy(self, t: Any) -> F64:
        """A tensor's values as a float64 NumPy array (a copy, off the autograd graph)."""
        # .numpy() shares memory with a CPU float64 tensor: copy so callers never alias a parameter
        out: F64 = t.detach().to("cpu", self.torch.float64).numpy().copy()
        return out

    def assign(self, t: Any, values: F64 | float) -> None:
        """Overwrite a parameter tensor in place, outside autograd, keeping its shape."""
        with self.torch.no_grad():
            t.copy_(self.torch.as_tensor(values, dtype=t.dtype).reshape(t.shape))
