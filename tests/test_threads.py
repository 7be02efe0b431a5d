"""The one thread policy (lr_variants._threads): its decisions, their scope, the overrides."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import lr_variants as lv
from lr_variants import _threads
from lr_variants._threads import ENV_VAR, LARGE_BATCH_VALUES, decide

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


# (values per batch, ranks, cpus) -> threads per process
POLICY = [
    (32 * 2, 1, 8, 1),  # the article's batches: one thread
    (LARGE_BATCH_VALUES - 1, 1, 8, 1),
    (LARGE_BATCH_VALUES, 1, 8, 8),  # a large batch: every core
    (100 * LARGE_BATCH_VALUES, 4, 8, 2),  # cores shared among the ranks
    (100 * LARGE_BATCH_VALUES, 3, 8, 2),  # rounded down: 3 x 2 <= 8
    (100 * LARGE_BATCH_VALUES, 16, 8, 1),  # more ranks than cores: still one each
    (2 * LARGE_BATCH_VALUES - 2, 2, 8, 1),  # each rank's share is under the threshold
    (2 * LARGE_BATCH_VALUES, 2, 8, 4),
]


@pytest.mark.parametrize(("values", "ranks", "cpus", "expected"), POLICY)
def test_policy(values: int, ranks: int, cpus: int, expected: int) -> None:
    assert decide(values, ranks=ranks, cpus=cpus) == _threads.Decision(expected, "policy")


@pytest.mark.parametrize("cpus", [1, 2, 3, 8, 64])
@pytest.mark.parametrize("ranks", [1, 2, 3, 5, 8, 64])
def test_ranks_never_oversubscribe_the_cores(cpus: int, ranks: int) -> None:
    """Whatever the batch, threads per rank x ranks <= cores (one thread each at least)."""
    for values in (1, LARGE_BATCH_VALUES, 10**9):
        threads = decide(values, ranks=ranks, cpus=cpus).threads
        assert threads >= 1
        assert threads * ranks <= max(cpus, ranks)


def test_argument_beats_environment_beats_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    assert decide(10**9, threads=1).source == "argument"
    monkeypatch.setenv(ENV_VAR, "1")
    assert decide(10**9) == _threads.Decision(1, "environment")
    assert decide(10, threads=1) == _threads.Decision(1, "argument")


@pytest.mark.parametrize("text", ["0", "-1", "two", "1.5", "999999"])
def test_a_bad_environment_value_is_one_line_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv(ENV_VAR, text)
    X, y = lv.two_blobs(20)
    model = lv.create("numpy", 2, dtype="float64")
    before = model.get_params()
    with pytest.raises(ValueError, match=rf"^environment variable {ENV_VAR} must be an integer "
                       rf"from 1 to \d+ .*; got '{text}'$") as info:  # fmt: skip
        lv.train(model, X, y, epochs=2)
    assert "\n" not in str(info.value)
    np.testing.assert_array_equal(model.get_params()[0], before[0])


@pytest.mark.parametrize(
    ("threads", "error", "match"),
    [
        (0, ValueError, r"threads must be from 1 to \d+ .*; got 0"),
        (10**6, ValueError, r"threads must be from 1 to \d+ .*; got 1000000"),
        ("2", TypeError, r"threads must be an int from 1 to \d+ or None; got '2'"),
        (True, TypeError, r"threads must be an int .*; got True"),
        (2.0, TypeError, r"threads must be an int .*; got 2.0"),
    ],
)
def test_bad_threads_argument(threads: Any, error: type, match: str) -> None:
    X, y = lv.two_blobs(20)
    with pytest.raises(error, match=match):
        lv.train(lv.create("numpy", 2), X, y, epochs=1, threads=threads)


def _blas() -> list[int]:
    controller = _threads._Blas.get()
    return [] if controller is None else [lib.num_threads for lib in controller.lib_controllers]


def test_train_pins_one_thread_for_small_batches_and_restores_after() -> None:
    """Inside train (seen from a callback) one thread for torch and the BLAS; after it, the
    caller's settings, and History records the number used."""
    X, y = lv.two_blobs(50)
    before_torch, before_blas = torch.get_num_threads(), _blas()
    seen: list[tuple[int, list[int]]] = []
    history = lv.train(
        lv.create("autograd", 2),
        X,
        y,
        epochs=2,
        callback=lambda e, loss: seen.append((torch.get_num_threads(), _blas())),
    )
    assert history.threads == 1
    assert all(t == 1 and all(b == 1 for b in blas) for t, blas in seen)
    assert (torch.get_num_threads(), _blas()) == (before_torch, before_blas)


def test_settings_are_restored_when_training_raises() -> None:
    X, y = lv.two_blobs(50)
    torch.set_num_threads(_threads.cpu_count())
    before_torch, before_blas = torch.get_num_threads(), _blas()

    def fail(epoch: int, loss: float) -> None:
        assert torch.get_num_threads() == 1
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        lv.train(lv.create("autograd", 2), X, y, epochs=3, callback=fail)
    assert (torch.get_num_threads(), _blas()) == (before_torch, before_blas)


def test_the_environment_variable_sets_every_run(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = lv.two_blobs(50)
    monkeypatch.setenv(ENV_VAR, str(_threads.cpu_count()))
    seen: list[int] = []
    history = lv.train(
        lv.create("autograd", 2), X, y, epochs=1, callback=lambda e, l: seen.append(
            torch.get_num_threads())
    )  # fmt: skip
    assert history.threads == seen[0] == _threads.cpu_count()


def test_an_explicit_request_holds_for_the_calls_inside() -> None:
    """compare(threads=N), --threads N: every train() inside uses N, not its own policy."""
    X, y = lv.two_blobs(50)
    n = _threads.cpu_count()
    with _threads.scope(n, 0):
        history = lv.train(lv.create("numpy", 2), X, y, epochs=1)
    assert history.threads == n
    assert lv.train(lv.create("numpy", 2), X, y, epochs=1).threads == 1


def test_compare_and_the_estimator_record_the_threads() -> None:
    X, y = lv.two_blobs(50)
    result = lv.compare(X, y, variants=["numpy", "autograd"], impls=["textbook"], epochs=2)
    assert result.settings["threads"] == 1
    estimator = pytest.importorskip("lr_variants.estimator")
    fitted = estimator.SGDLogisticRegression(epochs=2, threads=1).fit(X, y)
    assert fitted.threads_ == 1
