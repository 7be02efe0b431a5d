"""`lr-variants train` prints what it recorded: every tenth epoch's last-batch loss, read from the
training history, for every variant, whole-epoch ones (numba) included.

Two comparisons, each free of one machine's rounding noise:

- float64, every variant against numpy: the float64 trajectories of two variants differ by
  rounding only, within 1e-12 after these 960 steps (tests/test_distributed.py derives that
  bound; measured below 1e-15), so each printed value (rounded to 4 decimals, an error of at
  most 0.5e-4) is within 0.5e-4 + 1e-12 of numpy's exact float64 loss. A printed ``nan``, the
  epoch's mean or another batch's loss would be off by far more.
- float32 (the default) and ``--article``: each variant's lines are exactly those formatted
  from its own ``History`` of the same run in this process (every variant is deterministic),
  since across variants float32 noise (~1e-7 of the loss) can flip a 4th decimal.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import lr_variants as lv
from lr_variants.cli import main
from lr_variants.compare import article_options

EPOCHS = 30
RUNS = [(v, i) for v in lv.VARIANTS for i in lv.impls(v)]
LINE = re.compile(r"^Epoch \[(\d+)/(\d+)\], Loss: (\S+)$")


def _printed(capsys: Any, argv: list[str]) -> tuple[list[tuple[int, float]], list[str]]:
    assert main(["train", *argv, "--epochs", str(EPOCHS), "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    epochs = [LINE.match(line) for line in lines[:-1]]
    assert all(epochs), lines
    assert lines[-1].startswith("Accuracy: "), lines
    return [(int(m[1]), float(m[3])) for m in epochs if m], lines


def _history(variant: str, impl: str, **create: Any) -> lv.History:
    X, y = lv.two_blobs()
    article = create.pop("article", False)
    if article:
        create = {**create, **article_options(variant)}
    model = lv.create(variant, 2, impl=impl, seed=42, **create)
    order = "article" if article else "shuffle"
    return lv.train(model, X, y, epochs=EPOCHS, batch_size=32, seed=42, order=order)


@pytest.fixture(scope="module")
def numpy64() -> np.ndarray:
    """numpy's float64 last-batch losses of every epoch."""
    return _history("numpy", "textbook", dtype="float64").batch_loss[:, -1]


@pytest.mark.parametrize("variant, impl", RUNS)
def test_float64_lines_match_numpys_losses(variant: str, impl: str, numpy64, capsys) -> None:
    printed, _ = _printed(capsys, ["--variant", variant, "--impl", impl, "--dtype", "float64"])
    assert [e for e, _ in printed] == [10, 20, 30]
    for epoch, value in printed:
        assert abs(value - numpy64[epoch - 1]) <= 0.5e-4 + 1e-12, (epoch, value)


@pytest.mark.parametrize("article", [False, True], ids=["float32", "article"])
@pytest.mark.parametrize("variant, impl", RUNS)
def test_lines_are_the_recorded_losses(variant: str, impl: str, article: bool, capsys) -> None:
    argv = ["--variant", variant, "--impl", impl, *(["--article"] if article else [])]
    _, lines = _printed(capsys, argv)
    history = _history(variant, impl, article=article)
    expected = [
        f"Epoch [{e}/{EPOCHS}], Loss: {history.batch_loss[e - 1, -1]:.4f}"
        for e in range(10, EPOCHS + 1, 10)
    ]
    assert lines[:-1] == expected
    assert np.isfinite(history.batch_loss).all()


def test_batch_callback_sees_each_epochs_record_read_only() -> None:
    """train(batch_callback=fn) hands fn each epoch's row of History.batch_loss as it is
    recorded, read-only; a callback that is not callable is refused before any training."""
    X, y = lv.two_blobs()
    seen: list[tuple[int, np.ndarray]] = []

    def keep(epoch: int, losses: np.ndarray) -> None:
        with pytest.raises(ValueError, match="read-only"):
            losses[0] = 0.0
        seen.append((epoch, losses.copy()))

    model = lv.create("numba", 2)
    history = lv.train(model, X, y, epochs=3, batch_callback=keep)
    assert [e for e, _ in seen] == [1, 2, 3]
    np.testing.assert_array_equal(np.array([row for _, row in seen]), history.batch_loss)
    before = model.get_params()[0]
    with pytest.raises(TypeError, match=r"^batch_callback must be callable or None; got 3$"):
        lv.train(model, X, y, epochs=1, batch_callback=3)
    np.testing.assert_array_equal(model.get_params()[0], before)
