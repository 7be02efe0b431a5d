"""Per-phase timings: where a variant's training step spends its time, through its public methods.

:func:`train_phases` replays :func:`lr_variants.train` (same conversion, batch plan, row
reordering and batch views; plain SGD, no sample weights) and, on every batch, calls the
variant's own methods (:class:`lr_variants.protocol.Variant`) with a clock between them:

- ``batching``: the per-epoch row reordering and batch views (``arrays.rows``,
  ``arrays.batches``), as the training loop makes them;
- ``loss`` call: ``engine.loss(Xb, yb)``, the forward pass alone;
- ``gradients`` call: ``engine.gradients(Xb, yb)``, forward and backward (nothing changes);
- ``step`` call: ``engine.step(Xb, yb)``, the whole step, the only call that changes the model,
  so the replay follows :func:`lr_variants.train`'s trajectory;
- ``readback``: the per-epoch ``arrays.floats`` of the step losses.

The returned phases derive from these: ``forward`` = the loss call, ``backward`` = the gradients
call - the loss call, ``update`` = the step call - the gradients call. Biases of that
derivation: ``gradients`` also returns its result as float64 NumPy (a conversion ``step`` does
not make), which counts in ``backward`` and is taken out of ``update`` (so a variant's update
may read lower than it is, even near 0); and a variant whose ``step`` shares work between the
loss and the gradient (one pass for both) shows that saving in ``update``. The clocks cost
~0.1 us per call. ``test_phases.py`` checks that the replay ends at the parameters
``train()`` reaches.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

import lr_variants as lv

PHASES = ("batching", "forward", "backward", "update", "readback")


def train_phases(
    model: lv.Model, X: Any, y: Any, *, epochs: int, batch_size: int, seed: int = 42
) -> dict[str, float]:
    """Replay ``lv.train(model, X, y, epochs=..., batch_size=..., seed=...)`` with a clock
    around each public call; the seconds per phase (:data:`PHASES`), summed over the steps."""
    assert model.sgd.plain, "the replay covers plain SGD (the benchmarks' optimizer) only"
    engine = model.engine
    arrays = engine.arrays
    Xa, ya = model.prepare(X, y)
    slices, orders = lv.batch_plan(len(y), epochs=epochs, batch_size=batch_size, seed=seed)
    clock = time.perf_counter
    batching = forward = gradients = step = readback = 0.0
    for order in orders:
        t0 = clock()
        Xe, ye = (Xa, ya) if order is None else (arrays.rows(Xa, order), arrays.rows(ya, order))
        pairs = list(zip(arrays.batches(Xe, slices), arrays.batches(ye, slices), strict=True))
        batching += clock() - t0
        losses = []
        for Xb, yb in pairs:
            t0 = clock()
            engine.loss(Xb, yb)
            t1 = clock()
            engine.gradients(Xb, yb)
            t2 = clock()
            losses.append(engine.step(Xb, yb))
            t3 = clock()
            forward += t1 - t0
            gradients += t2 - t1
            step += t3 - t2
        t0 = clock()
        values = arrays.floats(losses)
        readback += clock() - t0
        assert np.isfinite(values).all(), "the replay diverged"
    return {
        "batching": batching,
        "forward": forward,
        "backward": gradients - forward,
        "update": step - gradients,
        "readback": readback,
    }
