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

``run_article_script`` runs the article's script itself (its ``DataLoader``, ``nn.Module``,
``nn.BCELoss`` and ``torch.optim.SGD``), the reference that ``lr-variants compare --article``
and ``tests/test_article_run.py`` hold every variant against (``docs/article.md``). Its pieces
are public so that other tools (the benchmarks' baseline) run the same code: the tensors
(``article_tensors``), the model (``article_model``), the set-up and the loop's step
(``article_training``, ``ArticleTraining``), the training without prints
(``article_train``) and the evaluation (``article_accuracy``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
    """What ``run_article_script`` observed.

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


def article_tensors(X: npt.ArrayLike, y: npt.ArrayLike) -> tuple[torch.Tensor, torch.Tensor]:
    """The article's tensors: ``X`` as float32 and ``y`` as a float32 column ``(N, 1)``."""
    import torch

    return (
        torch.tensor(X, dtype=torch.float32),
        torch.tensor(y, dtype=torch.float32).view(-1, 1),
    )


@functools.cache
def _article_module() -> type[torch.nn.Module]:
    import torch
    from torch import nn

    class LogisticRegression(nn.Module):
        """The article's model: ``sigmoid(linear(x))`` with ``linear = nn.Linear(input_dim, 1)``."""

        def __init__(self, input_dim: int) -> None:
            super().__init__()
            self.linear = nn.Linear(input_dim, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(self.linear(x))

    return LogisticRegression


def article_model(n_features: int) -> torch.nn.Module:
    """A new instance of the article's ``nn.Module``, ``LogisticRegression(n_features)``: an
    ``nn.Linear(n_features, 1)`` (initialized from torch's global generator, as the article
    does) whose ``forward`` returns ``sigmoid(linear(x))``, a float32 ``(N, 1)`` column."""
    return _article_module()(check_int(n_features, "n_features", 1))


@dataclass
class ArticleTraining:
    """The objects of the article's training loop, and its step split where a clock can go.

    ``dataloader`` is ``DataLoader(TensorDataset(X, y), batch_size, shuffle=True)``, ``model``
    the ``article_model``, ``criterion`` ``nn.BCELoss()`` and ``optimizer``
    ``optim.SGD(model.parameters(), lr=lr)``; ``article_training`` makes them as the
    article does. ``step`` is the body of the article's loop, ``epoch`` one pass over
    the ``DataLoader``; ``loss`` and ``backward`` are its first parts alone (for
    timing them).
    """

    dataloader: Any
    model: torch.nn.Module
    criterion: torch.nn.Module
    optimizer: torch.optim.Optimizer

    def loss(self, batch_X: torch.Tensor, batch_y: torch.Tensor) -> torch.Tensor:
        """Forward: ``criterion(model(batch_X), batch_y)``; nothing is changed."""
        outputs = self.model(batch_X)
        loss: torch.Tensor = self.criterion(outputs, batch_y)
        return loss

    def backward(self, batch_X: torch.Tensor, batch_y: torch.Tensor) -> torch.Tensor:
        """Forward, ``optimizer.zero_grad()`` and ``loss.backward()``: the step without the
        update (the gradients are left in each parameter's ``.grad``). Returns the loss."""
        loss = self.loss(batch_X, batch_y)
        self.optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves it untyped
        return loss

    def step(self, batch_X: torch.Tensor, batch_y: torch.Tensor) -> torch.Tensor:
        """One step of the article's loop: forward, ``zero_grad()``, ``backward()``,
        ``optimizer.step()``. Returns the batch's loss (before the update)."""
        loss = self.backward(batch_X, batch_y)
        self.optimizer.step()
        return loss

    def epoch(self) -> torch.Tensor | None:
        """One pass over the ``DataLoader``, a ``step`` per batch; returns the last batch's
        loss (``None`` for an empty ``DataLoader``)."""
        loss = None
        for batch_X, batch_y in self.dataloader:
            loss = self.step(batch_X, batch_y)
        return loss


def article_training(
    X: torch.Tensor, y: torch.Tensor, *, batch_size: int = 32, lr: float = 0.1, seed: int = 42
) -> ArticleTraining:
    """The article's set-up on its tensors (``article_tensors``): ``torch.manual_seed(seed)``
    (torch's global generator, as the article does), the shuffling ``DataLoader``, the model,
    ``nn.BCELoss()`` and ``optim.SGD(lr=lr)``, in the article's order."""
    batch_size = check_int(batch_size, "batch_size", 1)
    lr = check_real(lr, "lr", minimum=0.0, strict=True)
    _generator(seed)  # validates seed

    import torch
    from torch import nn, optim
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(seed)
    dataloader = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True)
    model = article_model(X.shape[1])
    criterion = nn.BCELoss()
    optimizer = optim.SGD(model.parameters(), lr=lr)
    return ArticleTraining(dataloader, model, criterion, optimizer)


def article_train(
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int = 100,
    batch_size: int = 32,
    lr: float = 0.1,
    seed: int = 42,
) -> torch.nn.Module:
    """The article's training, from ``torch.manual_seed(seed)`` to the last step, without its
    prints: ``article_training``, then ``epochs`` ``ArticleTraining.epoch``. Returns
    the trained model."""
    epochs = check_int(epochs, "epochs", 0)
    run = article_training(X, y, batch_size=batch_size, lr=lr, seed=seed)
    for _ in range(epochs):
        run.epoch()
    return run.model


def article_accuracy(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """The article's evaluation: the share of rows where ``model(X) > 0.5`` equals ``y``."""
    import torch

    with torch.no_grad():
        outputs = model(X)
        predicted = (outputs > 0.5).float()
        return float((predicted == y).float().mean().item())


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
    column (``article_tensors``); ``torch.manual_seed(seed)``; ``DataLoader(TensorDataset(X,
    y), batch_size=batch_size, shuffle=True)``; an ``nn.Module`` holding ``nn.Linear(2, 1)``
    whose ``forward`` is ``sigmoid(linear(x))`` (``article_model``); ``nn.BCELoss()``;
    ``optim.SGD(model.parameters(), lr=lr)`` (``article_training``); ``epochs`` epochs of
    ``zero_grad`` / ``backward`` / ``step`` (``ArticleTraining.epoch``), printing the last
    batch's loss every 10th epoch; then the accuracy of ``outputs > 0.5`` on all of ``X``
    (``article_accuracy``).

    It runs inside ``torch.random.fork_rng``, so torch's global generator is the same after
    the call as before. ``echo=True`` also prints the lines as the script does.
    """
    epochs = check_int(epochs, "epochs", 0)
    batch_size = check_int(batch_size, "batch_size", 1)
    lr = check_real(lr, "lr", minimum=0.0, strict=True)
    _generator(seed)  # validates seed before any work

    import torch

    X_np, y_np = two_blobs(500, 42)
    lines: list[str] = []
    printed: list[float] = []

    def emit(line: str) -> None:
        lines.append(line)
        if echo:
            print(line)

    with torch.random.fork_rng(devices=[]):
        X, y = article_tensors(X_np, y_np)
        run = article_training(X, y, batch_size=batch_size, lr=lr, seed=seed)
        for epoch in range(epochs):
            loss = run.epoch()
            if (epoch + 1) % 10 == 0 and loss is not None:
                printed.append(loss.item())
                emit(f"Epoch [{epoch + 1}/{epochs}], Loss: {loss.item():.4f}")
        accuracy = article_accuracy(run.model, X, y)
        emit(f"Accuracy: {accuracy:.4f}")
    params = dict(run.model.named_parameters())
    return ArticleRun(
        epochs=list(range(10, epochs + 1, 10)),
        losses=np.array(printed, dtype=np.float64),
        w=params["linear.weight"].detach()[0].double().numpy().copy(),
        b=float(params["linear.bias"].detach()[0]),
        accuracy=accuracy,
        lines=lines,
    )
