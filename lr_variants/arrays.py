"""Backends (the protocol's ``arrays``) as building blocks for your own variants.

A variant's ``arrays`` converts validated data to its own arrays, reorders rows once per epoch,
cuts batches and reads results back ([`lr_variants.protocol.Arrays`][]). The built-in
variants use these two; a full variant of yours can too:

- ``NumpyArrays`` ``(dtype)``: host NumPy arrays of ``"float32"`` or ``"float64"``
  (``.dtype`` is the NumPy dtype, ``.device`` is ``"cpu"``); large and memory-mapped data are
  used without a copy.
- ``TorchArrays`` ``(dtype, device)``: torch tensors of that dtype on a device
  (``"cpu"``, ``"cuda"``, ``"cuda:1"``); ``assign(t, values)`` overwrites a parameter tensor in
  place outside autograd. Importing this module does not import torch; making one does.

Both have ``convert(a)`` (NumPy data to the backend's array), ``to_numpy(a)`` (a float64 copy),
``copy(a)``, ``rows(a, order)``, ``batches(a, slices)`` and ``floats(values)``; with
``bias_column=True`` a 2-D array becomes ``[X, 1]`` (for code that keeps ``theta = (w, b)``).
"""

from __future__ import annotations

from lr_variants._backends import NumpyArrays, TorchArrays
from lr_variants.protocol import Arrays

__all__ = ["Arrays", "NumpyArrays", "TorchArrays"]
