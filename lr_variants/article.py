"""The reference article's random draws, reproduced bit for bit without touching torch's RNG.

After ``torch.manual_seed(seed)`` the article's script draws from torch's global CPU generator
in this order (torch 2.13.0 source):

1. ``nn.Linear(n_features, 1)`` -> ``Linear.reset_parameters`` (``torch/nn/modules/linear.py``):
   ``init.kaiming_uniform_(weight, a=sqrt(5))`` fills the float32 ``(1, n_features)`` weight,
   then ``init.uniform_(bias, -1/sqrt(fan_in), 1/sqrt(fan_in))`` fills the bias.
2. Each epoch's ``for ... in dataloader`` (``shuffle=True``, ``num_workers=0``) makes two int64
   draws, each ``torch.empty((), dtype=torch.int64).random_()``:
   a. ``_BaseDataLoaderIter.__init__`` (``torch/utils/data/dataloader.py``) draws
      ``_base_seed``; it only seeds worker processes, so with no workers it is discarded;
   b. on the first ``next()``, ``RandomSampler.__iter__`` (``torch/utils/data/sampler.py``; a
      generator, hence after a.) draws ``seed`` and yields ``torch.randperm(n, generator=g)``
      with a fresh ``g = torch.Generator().manual_seed(seed)``. ``BatchSampler`` cuts that one
      permutation into consecutive chunks, so the batch size does not change the order.

Forward, loss, backward, SGD steps, printing and evaluation draw nothing. Here the same torch
calls run on a private ``torch.Generator`` seeded like the global one, so the output is
bit-exact and the global generator is left as it was. Torch is imported only inside the
functions, so importing this module does not load it.

:func:`run_article_script` runs the article's script itself (its ``DataLoader``, ``nn.Module``,
``nn.BCELoss`` and ``torch.optim.SGD``), the reference that ``lr-variants compare --article``
and ``tests/test_article_run.py`` hold every variant against (``docs/article.md``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from lr_variants._validate import F64, check_int, check_real
from lr_variants.data import two_blobs

if TYPE_CHECKING:
    import torch

I64 = npt.NDArray[np.int64]
_SEED_LIMIT = 2**64  # torch.manual_seed accepts seeds in [0, 2**64)


def _generator(seed: int) -> torch.Generator:
    """A private CPU generator in the state ``torch.manual_seed(seed)`` gives the global one."""
    import torch

    seed = check_int(seed, "seed", 0)
    if seed >= _SEED_LIMIT:
        raise ValueError(f"seed must be < 2**64; got {seed}")
    return torch.Generator().manual_seed(seed)


def _linear_init(gen: torch.Generator, n_features: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``nn.Linear(n_features, 1)``'s draws, through the same ``torch.nn.init`` calls.

    Calling torch's own functions (not re-deriving the bound) keeps the float64 bound
    arithmetic, and so every float32 sample, identical to ``reset_parameters``.
    """
    import torch
    from torch.nn import init

    weight = torch.empty(1, n_features, dtype=torch.float32)
    bias = torch.empty(1, dtype=torch.float32)
    init.kaiming_uniform_(weight, a=math.sqrt(5), generator=gen)
    bound = 1 / math.sqrt(n_features)  # fan_in of a (1, n_features) weight
    init.uniform_(bias, -bound, bound, generator=gen)
    return weight, bias


def article_init(n_features: int, seed: int = 42) -> tuple[F64, float]:
    """The weight ``(n_features,)`` and bias that ``nn.Linear(n_features, 1)`` draws right
    after ``torch.manual_seed(seed)``: float32 values returned exactly as float64."""
    n_features = check_int(n_features, "n_features", 1)
    weight, bias = _linear_init(_generator(seed), n_features)
    return weight[0].double().numpy(), float(bias.item())


def article_orders(
    n_samples: int, epochs: int, *, seed: int = 42, n_features: int
) -> Iterator[I64]:
    """Yield, for each of ``epochs`` epochs, the int64 row order (a permutation of
    ``range(n_samples)``) in which ``DataLoader(TensorDataset(X, y), batch_size=B,
    shuffle=True)`` yields rows, after ``torch.manual_seed(seed)`` and ``nn.Linear(n_features,
    1)``; any ``B``. Batches are consecutive chunks of ``B`` of each order, the last smaller.

    Arguments are checked at the call; the orders are drawn lazily as the iterator advances.
    Each call starts from ``seed`` again, so call again to replay.
    """
    n_samples = check_int(n_samples, "n_samples", 1)
    epochs = check_int(epochs, "epochs", 0)
    n_features = check_int(n_features, "n_features", 1)
    gen = _generator(seed)  # validates seed now, not at the first next()
    return _orders(gen, n_samples, epochs, n_features)


def _orders(gen: torch.Generator, n_samples: int, epochs: int, n_features: int) -> Iterator[I64]:
    import torch

    _linear_init(gen, n_features)  # only to advance gen past the model's draws
    for _ in range(epochs):
        torch.empty((), dtype=torch.int64).random_(generator=gen)  # the unused _base_seed
        sampler_seed = int(torch.empty((), dtype=torch.int64).random_(generator=gen).item())
        shuffle = torch.Generator().manual_seed(sampler_seed)
        yield torch.randperm(n_samples, generator=shuffle).numpy()


@dataclass(frozen=True)
class ArticleRun:
    """What :func:`run_article_script` observed.

    ``epochs``: the 1-based epochs whose loss the script prints (every 10th); ``losses``: those
    prints' values, ``loss.item()`` of the epoch's last batch (float32 values, exact in
    float64); ``w``, ``b``: the final ``nn.Linear`` weight and bias (float32 values, exact);
    ``accuracy``: the printed accuracy's value; ``lines``: the printed lines, in order.
    """

    epochs: list[int]
    losses: F64
    w: F64
    b: float
    accuracy: float
    lines: list[str]


def run_article_script(
    epochs: int = 100,
    seed: int = 42,
    *,
    lr: float = 0.1,
    batch_size: int = 32,
    echo: bool = False,
) -> ArticleRun:
    """Run the reference article's script and return what it prints and its final parameters.

    The script, as the article writes it (only the constants are arguments): the data
    ``two_blobs(500, 42)`` (``np.random.seed(42)`` + ``randn``) as float32 tensors, ``y`` as a
    column; ``torch.manual_seed(seed)``; ``DataLoader(TensorDataset(X, y),
    batch_size=batch_size, shuffle=True)``; an ``nn.Module`` holding ``nn.Linear(2, 1)`` whose
    ``forward`` is ``sigmoid(linear(x))``; ``nn.BCELoss()``; ``optim.SGD(model.parameters(),
    lr=lr)``; ``epochs`` epochs of ``zero_grad`` / ``backward`` / ``step``, printing the last
    batch's loss every 10th epoch; then the accuracy of ``outputs > 0.5`` on all of ``X``.

    It runs inside ``torch.random.fork_rng``, so torch's global generator is the same after
    the call as before. ``echo=True`` also prints the lines as the script does.
    """
    epochs = check_int(epochs, "epochs", 0)
    batch_size = check_int(batch_size, "batch_size", 1)
    lr = check_real(lr, "lr", minimum=0.0, strict=True)
    _generator(seed)  # validates seed before any work

    import torch
    from torch import nn, optim
    from torch.utils.data import DataLoader, TensorDataset

    class LogisticRegression(nn.Module):
        def __init__(self, input_dim: int) -> None:
            super().__init__()
            self.linear = nn.Linear(input_dim, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(self.linear(x))

    X_np, y_np = two_blobs(500, 42)
    lines: list[str] = []
    printed: list[float] = []

    def emit(line: str) -> None:
        lines.append(line)
        if echo:
            print(line)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        X = torch.tensor(X_np, dtype=torch.float32)
        y = torch.tensor(y_np, dtype=torch.float32).view(-1, 1)
        dataloader = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True)
        model = LogisticRegression(2)
        criterion = nn.BCELoss()
        optimizer = optim.SGD(model.parameters(), lr=lr)
        for epoch in range(epochs):
            for batch_X, batch_y in dataloader:
                outputs = model(batch_X)
                loss = criterion(outputs, batch_y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            if (epoch + 1) % 10 == 0:
                printed.append(loss.item())
                emit(f"Epoch [{epoch + 1}/{epochs}], Loss: {loss.item():.4f}")
        with torch.no_grad():
            outputs = model(X)
            predicted = (outputs > 0.5).float()
            accuracy = (predicted == y).float().mean()
            emit(f"Accuracy: {accuracy.item():.4f}")
    return ArticleRun(
        epochs=list(range(10, epochs + 1, 10)),
        losses=np.array(printed, dtype=np.float64),
        w=model.linear.weight.detach()[0].double().numpy().copy(),
        b=float(model.linear.bias.detach()[0]),
        accuracy=float(accuracy.item()),
        lines=lines,
    )
