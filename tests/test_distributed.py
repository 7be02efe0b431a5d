"""Data-parallel training (world size 2, gloo on localhost) follows the single-process trajectory.

Every run of the module's fixture goes through ONE launch of two worker processes
(``lr_variants.distributed.launch``): starting workers costs seconds, the checks inside milliseconds.

Tolerances. float64: the two runs differ only in how each batch's sums are grouped (two shard
sums added, instead of one sum), ~1e-16 relative per step; SGD on the logistic loss with
``lr <= 2 / L`` (``L = max(|x|^2 + 1) / 4``, the gradient's Lipschitz bound) does not expand a
difference between two trajectories, so after K steps they differ by at most K times the
per-step rounding: ~3,200 x 1e-16 x |theta| ~ 1e-12 (measured: below 1e-15). float32: the same
argument with the per-step bound of ``tests/bounds.py`` (``lr`` times the gradient's rounding,
``(B + D + 4) eps max|x|``, plus ``2 eps (|theta| + lr |g|)`` for the update), summed over the steps.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import lr_variants as lv
from lr_variants import distributed as d
from lr_variants.cli import main

# every test here launches worker processes (seconds each, minutes on a loaded machine)
pytestmark = pytest.mark.slow

pytest.importorskip("torch.distributed")

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]
IMPLS = [(v, i) for v in lv.VARIANTS for i in lv.impls(v)]


def numpy_gradient(w: Any, b: Any, X: Any, y: Any, s: Any) -> tuple[Any, Any, Any]:
    """A registered variant's loss and gradient, normalizing its weights as a user would
    (``sum(s l) / sum(s)``): the data-parallel path must not rely on u summing to 1 per shard."""
    z = X @ w + b
    p = 1 / (1 + np.exp(-z))
    s = np.full(len(y), 1.0) if s is None else s
    s = s / s.sum()
    loss = s @ (np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
    return loss, X.T @ (s * (p - y)), s @ (p - y)


def _jobs() -> dict[str, list[d.Job]]:
    X, y = lv.two_blobs()
    Xu, yu = lv.two_blobs(501)
    Xu, yu = Xu[:1001], yu[:1001]  # batches of 100: the last holds 1 row, rank 1 none of it
    s = np.random.default_rng(3).uniform(0, 2, len(yu))
    s[::7] = 0.0  # rows of weight zero, whole shards of it in places
    article = {"epochs": 100, "batch_size": 32, "seed": 42}
    uneven = {"epochs": 4, "batch_size": 100, "seed": 1}
    opts = {"dtype": "float64", "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}
    weighted = {"dtype": "float64", "momentum": 0.5, "dampening": 0.1, "decay_bias": True}
    registered = ("dp_gradient", numpy_gradient)

    def each(create: dict[str, Any], fit: dict[str, Any], X: Any, y: Any, **kw: Any) -> list[Any]:
        jobs = [d.Job(v, {**create, "impl": i}, fit, X, y, **kw) for v, i in IMPLS]
        return [*jobs, d.Job(registered[0], create, fit, X, y, gradient=registered[1], **kw)]

    return {
        "article": [d.Job(v, {"dtype": "float64", "seed": 42}, article, X, y) for v in lv.VARIANTS],
        "float32": [d.Job(v, {"seed": 42}, {**article, "epochs": 20}, X, y) for v in lv.VARIANTS],
        "uneven": each(opts, uneven, Xu, yu),
        "weighted": each(weighted, uneven, Xu, yu, sample_weight=s),
        "maximize": each({"dtype": "float64", "maximize": True, "lr": 0.01}, uneven, Xu, yu),
        "per_step": each({"dtype": "float64", "momentum": 0.9}, uneven, Xu, yu, per_step=True),
    }


@pytest.fixture(scope="module")
def runs() -> dict[str, list[tuple[d.Job, d.Outcome, list[d.Outcome]]]]:
    """Each group's jobs: (job, single-process outcome, the two ranks' outcomes)."""
    groups = _jobs()
    flat = [job for jobs in groups.values() for job in jobs]
    per_rank = d.launch(d.train_jobs, flat, world_size=2, timeout=120)
    out, k = {}, 0
    for name, jobs in groups.items():
        out[name] = []
        for job in jobs:
            out[name].append((job, d.train_job(job, False), [r[k] for r in per_rank]))
            k += 1
    return out


def _diff(a: Any, b: Any) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


@pytest.mark.parametrize("group", ["article", "uneven", "weighted", "maximize"])
def test_float64_trajectory_is_the_single_process_one(runs: Any, group: str) -> None:
    """After every run (the article's 3,200 steps; an uneven last batch of one row, with
    momentum, Nesterov and weight decay; sample weights with zeros; maximize), every variant at
    world size 2 is within 1e-12 of the same variant in one process, and so is every batch loss;
    both ranks hold bitwise the same parameters."""
    for job, one, (r0, r1) in runs[group]:
        name = f"{group}: {job.variant} {job.create.get('impl', '')}"
        assert _diff(r0.theta, one.theta) <= 1e-12, name
        assert _diff(r0.batch_loss, one.batch_loss) <= 1e-12, name
        assert np.array_equal(r0.theta, r1.theta), name
        assert np.array_equal(r0.batch_loss, r1.batch_loss), name


def test_ranks_are_bitwise_equal_after_every_step(runs: Any) -> None:
    """One batch per ``train`` call, 44 steps with momentum: after each step both ranks hold
    bitwise the same parameters, within 1e-13 of one process's."""
    for job, one, (r0, r1) in runs["per_step"]:
        assert r0.thetas is not None and r1.thetas is not None and one.thetas is not None
        assert r0.thetas.shape == (44, 3)  # 4 epochs of 11 batches, the last of one row
        assert np.array_equal(r0.thetas, r1.thetas), job.variant
        assert _diff(r0.thetas, one.thetas) <= 1e-13, job.variant


def test_float32_within_the_derived_bound(runs: Any) -> None:
    """float32, 640 steps of the article's workload: within K x (lr (B + D + 4) eps max|x| +
    2 eps (max|theta| + lr max|g|)) of one process, with max|g| <= max|x| + 1 (|p - y| <= 1);
    the two ranks bitwise equal."""
    eps, lr, B, D = 2.0**-23, 0.1, 32, 2
    for job, one, (r0, r1) in runs["float32"]:
        xmax = float(np.max(np.abs(job.X))) + 1.0
        theta = float(np.max(np.abs(one.theta))) * 2
        steps = one.batch_loss.size
        bound = steps * (lr * (B + D + 4) * eps * xmax + 2 * eps * (theta + lr * xmax))
        assert _diff(r0.theta, one.theta) <= bound, (job.variant, bound)
        assert np.array_equal(r0.theta, r1.theta), job.variant


def test_shards_are_contiguous_and_cover_the_batch() -> None:
    from lr_variants._data_parallel import shard_bounds

    assert shard_bounds(32, 2) == [0, 16, 32]
    assert shard_bounds(11, 2) == [0, 6, 11]
    assert shard_bounds(1, 2) == [0, 1, 1]
    assert shard_bounds(10, 3) == [0, 4, 7, 10]


# ----------------------------------------------------------------------------- faults


def fail_on(rank_to_fail: int, how: str) -> None:
    """Train on every rank; ``rank_to_fail`` raises or kills itself after its second epoch, or
    holds other data from the start."""
    import torch.distributed as dist

    X, y = lv.two_blobs()
    mine = dist.get_rank() == rank_to_fail
    if how == "data" and mine:
        X = X + 1.0

    def fail(epoch: int, loss: float) -> None:
        if mine and epoch == 2:
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise ValueError("this rank gives up")

    lv.train(
        lv.create("numpy", 2, dtype="float64"), X, y, epochs=50, callback=fail, distributed=True
    )


@pytest.mark.parametrize(
    "how,error,message",
    [
        ("raise", ValueError, r"^rank 1: this rank gives up$"),
        ("kill", d.DistributedError, r"^rank 1 was killed by signal 9 \(SIGKILL\)$"),
        ("data", ValueError, r"^rank \d: every rank must train on the same X; rank 1 has"),
    ],
)
def test_a_failing_rank_stops_every_rank_with_one_error(how: str, error: Any, message: str) -> None:
    """A rank that raises, is killed, or holds other data: the launch ends after the grace period,
    long before the collective timeout, with one line naming the rank. The timeout is made far
    longer than any start-up (10 minutes) so that the limit can be generous: two workers that
    import torch take seconds on an idle machine, minutes on a machine loaded tenfold; a launch
    that waited for the timeout instead would take the full 10 minutes."""
    start = time.monotonic()
    with pytest.raises(error, match=message) as info:
        d.launch(fail_on, 1, how, world_size=2, timeout=600)
    assert "\n" not in str(info.value)
    assert time.monotonic() - start < 300


def test_bad_arguments_are_clear_errors() -> None:
    X, y = lv.two_blobs()
    model = lv.create("numpy", 2)
    before = model.get_params()
    with pytest.raises(ValueError, match=r"initialised torch\.distributed default process group"):
        lv.train(model, X, y, distributed=True)
    with pytest.raises(TypeError, match="distributed must be a bool"):
        lv.train(model, X, y, distributed="yes")
    np.testing.assert_array_equal(model.get_params()[0], before[0])
    with pytest.raises(ValueError, match="world_size must be >= 1; got 0"):
        d.launch(print, world_size=0)
    with pytest.raises(ValueError, match="world_size must be >= 1; got 0"):
        d.run(X, y, world_size=0)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["train", "--distributed"], "--distributed must run under torchrun"),
        (["compare", "--world-size", "0"], "--world-size must be >= 1; got 0"),
    ],
)
def test_cli_bad_distributed_arguments(argv: list[str], message: str, capsys: Any) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


# ----------------------------------------------------------------------------- launchers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


TRAIN = ["-m", "lr_variants", "train", "--variant", "module", "--epochs", "20", "--quiet"]


def test_torchrun_standalone_and_two_node_runs_print_what_one_process_prints(capsys: Any) -> None:
    """``torchrun --standalone --nproc-per-node=2 ... --distributed`` and two torchrun launches
    (node ranks 0 and 1, one process each) meeting at a c10d rendezvous on localhost both print
    exactly what one process prints (rank 0 prints, the other rank nothing)."""
    assert main(TRAIN[2:]) == 0  # one process, here
    printed = capsys.readouterr().out
    assert printed.count("Epoch [") == 2
    standalone = [*TORCHRUN, "--standalone", "--nproc-per-node=2", *TRAIN, "--distributed"]
    endpoint = f"--rdzv-endpoint=127.0.0.1:{_free_port()}"
    rendezvous = ["--rdzv-backend=c10d", endpoint, "--rdzv-id=lr-test", *TRAIN, "--distributed"]
    nodes = [
        [*TORCHRUN, "--nnodes=2", f"--node-rank={r}", "--nproc-per-node=1", *rendezvous]
        for r in (0, 1)
    ]
    # the standalone run first, then the two nodes together (they must meet): fewer processes
    # than cores' worth of contention at once on a small machine
    launched, outs = [], []
    for group in ([standalone], nodes):
        procs = [
            subprocess.Popen(
                cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for cmd in group
        ]
        outs += [p.communicate(timeout=240) for p in procs]
        launched += procs
    for p, (_, err) in zip(launched, outs, strict=True):
        assert p.returncode == 0, err
    assert outs[0][0] == printed
    # the node that holds global rank 0 prints; which node that is, the rendezvous decides
    assert sorted(out for out, _ in outs[1:]) == ["", printed]
