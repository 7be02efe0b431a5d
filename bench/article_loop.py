"""The reference article's training loop, the baseline row, from ``lr_variants.article``.

The script is written once, in :mod:`lr_variants.article` (``torch.manual_seed(42)``, a
``DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)``, an ``nn.Module`` holding
``nn.Linear(2, 1)`` whose ``forward`` returns ``sigmoid(linear(x))``, ``nn.BCELoss()`` and
``optim.SGD(lr=0.1)``; per batch ``zero_grad``, ``backward``, ``step``); this module only times
it. The article also prints the loss every 10 epochs (a ``.item()`` per print); that is left
out of the timed loop.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from lr_variants.article import (
    article_accuracy,
    article_model,
    article_tensors,
    article_train,
    article_training,
)

tensors = article_tensors
train = article_train
accuracy = article_accuracy


def train_phases(
    X: torch.Tensor, y: torch.Tensor, *, epochs: int = 100, batch_size: int = 32, lr: float = 0.1
) -> tuple[torch.nn.Module, dict[str, float]]:
    """:func:`train` with the step timed in parts, as ``phases.py`` times the variants: per
    batch, the ``DataLoader``'s ``next()`` (batching), then on the same batch
    ``ArticleTraining.loss`` (forward), ``.backward`` (forward, ``zero_grad``, ``backward``)
    and ``.step`` (the whole step, which alone changes the model). Returns the model and the
    seconds of batching, forward, backward (= backward call - loss call) and update (= step
    call - backward call), summed over the steps."""
    run = article_training(X, y, batch_size=batch_size, lr=lr)
    clock = time.perf_counter
    batching = forward = backward = step = 0.0
    for _epoch in range(epochs):
        batches = iter(run.dataloader)
        while True:
            t0 = clock()
            try:
                batch_X, batch_y = next(batches)
            except StopIteration:
                batching += clock() - t0
                break
            t1 = clock()
            run.loss(batch_X, batch_y)
            t2 = clock()
            run.backward(batch_X, batch_y)
            t3 = clock()
            run.step(batch_X, batch_y)
            t4 = clock()
            batching += t1 - t0
            forward += t2 - t1
            backward += t3 - t2
            step += t4 - t3
    spent = {
        "batching": batching,
        "forward": forward,
        "backward": backward - forward,
        "update": step - backward,
        "readback": 0.0,  # the article reads no loss back inside its loop (it prints a few)
    }
    return run.model, spent


def initial_model(n_features: int) -> torch.nn.Module:
    """The article's model before training (what ``torch.manual_seed(42)`` gives)."""
    torch.manual_seed(42)
    return article_model(n_features)


def loss(model: Any, X: torch.Tensor, y: torch.Tensor) -> float:
    """The article's loss, ``nn.BCELoss()`` of ``model(X)``, on all of ``(X, y)``."""
    with torch.no_grad():
        return float(torch.nn.BCELoss()(model(X), y))
