"""The reference article's training loop, as the article writes it: the baseline row.

``torch.manual_seed(42)``, a ``DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)``,
an ``nn.Module`` holding ``nn.Linear(2, 1)`` whose ``forward`` returns ``sigmoid(linear(x))``,
``nn.BCELoss()`` and ``optim.SGD(lr=0.1)``; per batch ``zero_grad``, ``backward``, ``step``.
The article also prints the loss every 10 epochs (a ``.item()`` per print); that is left out.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset


class LogisticRegression(nn.Module):
    def __init__(self, input_dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(input_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.linear(x))


def tensors(X: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The article's tensors: float32 ``X`` and ``y`` as a column."""
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32).view(-1, 1)


def train(
    X: torch.Tensor, y: torch.Tensor, *, epochs: int = 100, batch_size: int = 32, lr: float = 0.1
) -> nn.Module:
    """The article's script from ``torch.manual_seed(42)`` to the end of training."""
    torch.manual_seed(42)
    dataloader = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True)
    model = LogisticRegression(X.shape[1])
    criterion = nn.BCELoss()
    optimizer = optim.SGD(model.parameters(), lr=lr)
    for _epoch in range(epochs):
        for batch_X, batch_y in dataloader:
            outputs = model(batch_X)
            loss = criterion(outputs, batch_y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model


def train_phases(
    X: torch.Tensor, y: torch.Tensor, *, epochs: int = 100, batch_size: int = 32, lr: float = 0.1
) -> tuple[nn.Module, dict[str, float]]:
    """:func:`train` with a clock between the phases: batching (the DataLoader), forward
    (model and loss), backward, update (``zero_grad`` and ``step``)."""
    torch.manual_seed(42)
    dataloader = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True)
    model = LogisticRegression(X.shape[1])
    criterion = nn.BCELoss()
    optimizer = optim.SGD(model.parameters(), lr=lr)
    clock = time.perf_counter
    spent = dict.fromkeys(("batching", "forward", "backward", "update"), 0.0)
    for _epoch in range(epochs):
        batches = iter(dataloader)
        while True:
            t0 = clock()
            try:
                batch_X, batch_y = next(batches)
            except StopIteration:
                spent["batching"] += clock() - t0
                break
            t1 = clock()
            loss = criterion(model(batch_X), batch_y)
            t2 = clock()
            optimizer.zero_grad()
            loss.backward()
            t3 = clock()
            optimizer.step()
            t4 = clock()
            spent["batching"] += t1 - t0
            spent["forward"] += t2 - t1
            spent["backward"] += t3 - t2
            spent["update"] += t4 - t3
    return model, spent


def initial_model(n_features: int) -> nn.Module:
    """The article's model before training (what ``torch.manual_seed(42)`` gives)."""
    torch.manual_seed(42)
    return LogisticRegression(n_features)


def loss(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float(nn.BCELoss()(model(X), y))


def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float(((model(X) > 0.5).float() == y).float().mean())
