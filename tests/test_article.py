"""lr_variants.article against the article's own mechanism: seed, nn.Linear, DataLoader."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lr_variants.article import article_init, article_orders

REPO = Path(__file__).resolve().parents[1]


def _article_run(
    n_samples: int, epochs: int, seed: int, n_features: int, batch_size: int = 32
) -> tuple[np.ndarray, float, list[np.ndarray]]:
    """The article's script, with an index column to record the rows each epoch yields.

    It trains as the article does (so any draw made by training would show up as a mismatch)
    inside fork_rng, so the other tests see torch's global generator untouched.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        linear = nn.Linear(n_features, 1)
        w0, b0 = linear.weight.detach()[0].double().numpy().copy(), float(linear.bias.item())
        X = torch.from_numpy(np.random.RandomState(seed).randn(n_samples, n_features)).float()
        y = (torch.arange(n_samples) % 2).float().view(-1, 1)
        loader = DataLoader(
            TensorDataset(X, y, torch.arange(n_samples)), batch_size=batch_size, shuffle=True
        )
        criterion = nn.BCELoss()
        optimizer = torch.optim.SGD(linear.parameters(), lr=0.1)
        orders = []
        for _ in range(epochs):
            seen = []
            for batch_X, batch_y, batch_i in loader:
                loss = criterion(torch.sigmoid(linear(batch_X)), batch_y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                seen.append(batch_i.numpy())
            orders.append(np.concatenate(seen))
    return w0, b0, orders


@pytest.mark.parametrize(
    ("n_samples", "seed", "n_features", "batch_size"),
    [(1000, 42, 2, 32), (1000, 0, 1, 32), (37, 7, 7, 32), (37, 123456789, 2, 5), (1, 3, 1, 32)],
)
def test_matches_the_articles_dataloader_and_linear(
    n_samples: int, seed: int, n_features: int, batch_size: int
) -> None:
    epochs = 5
    w_ref, b_ref, orders_ref = _article_run(n_samples, epochs, seed, n_features, batch_size)

    w, b = article_init(n_features, seed)
    assert w.dtype == np.float64 and w.shape == (n_features,)
    assert type(b) is float
    assert np.array_equal(w, w_ref) and b == b_ref

    orders = list(article_orders(n_samples, epochs, seed=seed, n_features=n_features))
    assert len(orders) == epochs
    for got, want in zip(orders, orders_ref, strict=True):
        assert got.dtype == np.int64
        assert np.array_equal(got, want)
        assert np.array_equal(np.sort(got), np.arange(n_samples))


def test_defaults_are_the_articles_seed_and_zero_epochs_yield_nothing() -> None:
    assert np.array_equal(article_init(2)[0], article_init(2, 42)[0])
    assert list(article_orders(10, 0, n_features=2)) == []
    first = next(article_orders(10, 1, n_features=2))
    assert np.array_equal(first, next(article_orders(10, 3, seed=42, n_features=2)))


def test_global_rng_is_untouched() -> None:
    before = torch.get_rng_state()
    article_init(3, seed=5)
    list(article_orders(100, 4, seed=5, n_features=3))
    assert torch.equal(torch.get_rng_state(), before)


BAD: list[tuple[Any, dict[str, Any], type[Exception], str]] = [
    (article_init, {"n_features": 0}, ValueError, "n_features must be >= 1"),
    (article_init, {"n_features": 2.0}, TypeError, "n_features must be an integer"),
    (article_init, {"n_features": True}, TypeError, "n_features must be an integer"),
    (article_init, {"n_features": 2, "seed": -1}, ValueError, "seed must be >= 0"),
    (article_init, {"n_features": 2, "seed": "42"}, TypeError, "seed must be an integer"),
    (article_init, {"n_features": 2, "seed": 2**64}, ValueError, r"seed must be < 2\*\*64"),
    (article_orders, {"n_samples": 0, "epochs": 1, "n_features": 2}, ValueError, "n_samples"),
    (article_orders, {"n_samples": 5, "epochs": -1, "n_features": 2}, ValueError, "epochs"),
    (article_orders, {"n_samples": 5, "epochs": 1.5, "n_features": 2}, TypeError, "epochs"),
    (article_orders, {"n_samples": 5, "epochs": 1, "n_features": 0}, ValueError, "n_features"),
    (
        article_orders,
        {"n_samples": 5, "epochs": 1, "n_features": 2, "seed": -3},
        ValueError,
        "seed",
    ),
]


@pytest.mark.parametrize(("func", "kwargs", "exc", "match"), BAD)
def test_bad_arguments_raise_at_the_call(
    func: Any, kwargs: dict[str, Any], exc: type[Exception], match: str
) -> None:
    with pytest.raises(exc, match=match):
        func(**kwargs)  # no next(): article_orders must check before it is iterated


def test_import_does_not_load_torch() -> None:
    code = "import sys, lr_variants.article; assert 'torch' not in sys.modules, 'torch loaded'"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
