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

import contextlib
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
CPUS = d.cpus()


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


def test_workers_never_oversubscribe_the_cores(runs: Any) -> None:
    """Every rank trained these small batches on one thread (the thread policy), whatever
    torch's default in a fresh process; and no more than its share of the cores anyway."""
    from lr_variants._threads import cpu_count

    for group in ("article", "uneven", "weighted"):
        for job, one, ranks in runs[group]:
            assert one.threads == 1, job.variant
            assert all(r.threads == 1 for r in ranks), job.variant
            assert all(r.threads * len(ranks) <= max(cpu_count(), len(ranks)) for r in ranks)


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
    "call,message",
    [
        (dict(world_size=CPUS + 1), rf"world_size must be at most {CPUS} \(the CPUs"),
        (dict(world_size=2**62), r"world_size must be at most 1024"),
        (dict(world_size=1025, force_world_size=True), r"world_size must be at most 1024"),
        (dict(timeout=1e308), r"timeout must be at most 1e\+06 seconds"),
        (dict(timeout=-1), r"timeout must be > 0"),
        (dict(timeout=float("nan")), r"timeout must be finite"),
        (dict(timeout=float("inf")), r"timeout must be finite"),
        (dict(grace=1e308), r"grace must be at most"),
    ],
)
@pytest.mark.parametrize("entry", ["launch", "run"])
def test_launch_limits_are_checked_before_anything_starts(
    entry: str, call: dict[str, Any], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More workers than CPUs (unless forced), beyond 1024, or a timeout that torch's sockets
    cannot hold: one ValueError before any process starts or any model trains (``--timeout
    -1`` was refused after the single-process runs; 2**62 workers reached a pybind11
    constructor; a timeout of 1e308 an OverflowError in a rank)."""
    if entry == "run" and "grace" in call:
        pytest.skip("run has no grace")

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("work started before the arguments were checked")

    monkeypatch.setattr(d, "train_job", forbidden)
    monkeypatch.setattr("torch.multiprocessing.get_context", forbidden)
    X, y = lv.two_blobs(5)
    with pytest.raises(ValueError, match=message):
        if entry == "launch":
            d.launch(print, **{"world_size": 1, **call})
        else:
            d.run(X, y, variants=["numpy"], **{"world_size": 1, **call})


@pytest.mark.parametrize(
    "argv,message",
    [
        (["train", "--distributed"], "--distributed must run under torchrun"),
        (["compare", "--world-size", "0"], "--world-size must be >= 1; got 0"),
        (["compare", "--world-size", str(CPUS + 1)], f"--world-size must be at most {CPUS} (the"),
        (["compare", "--world-size", "1000"], "pass --force-world-size to start more"),
        (["compare", "--world-size", str(2**62)], "--world-size must be at most 1024"),
        (["compare", "--world-size", "2000", "--force-world-size"], "must be at most 1024"),
        (["compare", "--world-size", "2", "--timeout", "1e308"], "argument --timeout: must be"),
        (["compare", "--world-size", "2", "--timeout", "-1"], "argument --timeout: must be"),
        (["compare", "--world-size", "2", "--timeout", "nan"], "argument --timeout: must be"),
        (["compare", "--world-size", "2", "--timeout", "inf"], "argument --timeout: must be"),
        (["train", "--timeout", "-1"], "argument --timeout: must be a number of seconds > 0"),
        (["train", "--timeout", "x"], "argument --timeout: invalid float value: 'x'"),
    ],
)
def test_cli_bad_distributed_arguments(
    argv: list[str], message: str, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One line, exit status 2, before any training or process start."""

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("work started before the arguments were checked")

    monkeypatch.setattr(d, "train_job", forbidden)
    monkeypatch.setattr("lr_variants.cli.train.train", forbidden)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, err


# ----------------------------------------------------------------------------- launchers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


TRAIN = ["-m", "lr_variants", "train", "--variant", "module", "--epochs", "20", "--quiet"]


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=120
    )


def test_a_rank_that_joined_a_group_leaves_without_finalization() -> None:
    """A torchrun rank ends with ``os._exit`` once its output is flushed (torch's DDP keeps
    gloo's threads alive past ``destroy_process_group``, and Python's finalization can then
    abort the process): its status and output are kept. A process that joined no group
    returns from ``leave`` and ends as usual, and ``main`` called from Python returns."""
    code = (
        "import atexit, sys; from lr_variants.cli import _distributed as d, main\n"
        "atexit.register(lambda: print('finalized'))\n"
        "d.leave(5); print('returned', flush=True)\n"
        "d._joined = True; print('main', main(['train', '--epochs', '-1']))\n"
        "print('done'); print('err', file=sys.stderr); d.leave(3)\n"
    )
    run = _python(code)
    assert run.returncode == 3, run.stderr
    assert run.stdout == "returned\nmain 2\ndone\n"  # no 'finalized': atexit never ran
    assert run.stderr.endswith("err\n") and run.stderr.count("\n") == 2, run.stderr
    # a failure that escapes main() in such a rank: its traceback, status 1, the same end
    code = (
        "import atexit, lr_variants.cli as cli; from lr_variants.cli import _distributed as d\n"
        "atexit.register(lambda: print('finalized'))\n"
        "def boom(argv): raise RuntimeError('boom')\n"
        "cli._main = boom; d._joined = True; cli.console()\n"
    )
    run = _python(code)
    assert run.returncode == 1 and run.stdout == "", run.stdout
    assert run.stderr.rstrip().endswith("RuntimeError: boom"), run.stderr


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


# ----------------------------------------------------------------------------- bounded launches

JOIN = [sys.executable, "-m", "lr_variants", "train", "--distributed", "--epochs", "1"]
JOIN_TIMEOUT = 3  # seconds: --timeout of the runs below


def _listening() -> socket.socket:
    """A TCP port held by 'another program': it accepts connections and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    return s


def _environment_cases(busy: int) -> list[tuple[dict[str, str], int, str]]:
    free = str(_free_port())
    base = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": free, "WORLD_SIZE": "2"}
    return [
        ({**base, "RANK": "0", "WORLD_SIZE": "-1"}, 2, "got WORLD_SIZE='-1'"),
        ({**base, "RANK": "5"}, 2, "got RANK='5'"),
        ({**base, "RANK": "-1"}, 2, "got RANK='-1'"),
        ({**base, "RANK": "one"}, 2, "got RANK='one'"),
        ({**base, "RANK": "0", "MASTER_PORT": "99999"}, 2, "got MASTER_PORT='99999'"),
        ({**base, "RANK": "0", "MASTER_ADDR": ""}, 2, "got MASTER_ADDR=''"),
        # rank 1 never comes
        ({**base, "RANK": "0"}, 1, "rank 0: could not join the process group"),
        # MASTER_PORT is another program's: rank 0 cannot listen, rank 1 waits for an answer
        ({**base, "RANK": "0", "MASTER_PORT": str(busy)}, 1, f"MASTER_PORT {busy} is in use"),
        ({**base, "RANK": "1", "MASTER_PORT": str(busy)}, 1, "rank 1: the process group did not"),
    ]


def test_every_environment_error_of_a_distributed_run_is_one_line_in_time() -> None:
    """``train --distributed`` under a bad environment: a bad WORLD_SIZE, RANK, MASTER_PORT or
    MASTER_ADDR is one line naming the variable and its value (exit 2), before torch reads
    it; a rank that never comes and a port held by another program are one line (exit 1)
    within the rendezvous timeout plus a grace (before: tracebacks after 2-23 s, and rank 1
    of a taken port hung silently). All run at once; each is bounded on its own."""
    busy = _listening()
    try:
        cases = _environment_cases(busy.getsockname()[1])
        env = {k: v for k, v in ENV.items() if k not in ("RANK", "WORLD_SIZE", "MASTER_PORT")}
        started = time.monotonic()
        procs = [
            subprocess.Popen(
                [*JOIN, "--timeout", str(JOIN_TIMEOUT)],
                env={**env, **case},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for case, _, _ in cases
        ]
        outs = [p.communicate(timeout=240) for p in procs]
    finally:
        busy.close()
    for (case, code, message), p, (out, err) in zip(cases, procs, outs, strict=True):
        assert p.returncode == code, (case, err)
        assert out == "" and err.count("\n") == 1 and err.startswith("lr-variants: error: ")
        assert message in err, (case, err)
    # the slowest is the watchdog's: --timeout + 2 s after start-up (imports: seconds, more
    # on a busy machine); torch's own rendezvous wait would be 60 s and the hang unbounded
    assert time.monotonic() - started < 120


def _children(pid: int) -> set[int]:
    """The worker processes (multiprocessing spawn) whose parent is ``pid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[1]) == pid and b"spawn_main" in cmdline:
            found.add(int(entry.name))
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie (a dead worker whose new parent has not reaped it yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_end_when_the_launcher_is_killed() -> None:
    """SIGKILL to ``compare --world-size 2`` while its workers train: both workers are gone
    within seconds (they lived on for 7 minutes and more)."""
    argv = ["compare", "--world-size", "2", "--variants", "numpy", "--impl", "textbook"]
    parent = subprocess.Popen(
        [sys.executable, "-m", "lr_variants", *argv, "--epochs", "3000"],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 180  # the single-process run first, then the launch
        while len(workers) < 2 and time.monotonic() < deadline and parent.poll() is None:
            workers = _children(parent.pid)
            time.sleep(0.1)
        assert len(workers) == 2, "the workers never started"
        parent.kill()
        parent.wait(60)
        deadline = time.monotonic() + 60
        while any(_running(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [w for w in workers if _running(w)]
        assert not left, f"workers {left} outlived their launcher"
    finally:
        parent.kill()
        for w in workers:
            with contextlib.suppress(OSError):
                os.kill(w, signal.SIGKILL)


def stop_one(rank_to_stop: int) -> None:
    """Join, then ``rank_to_stop`` stops itself (SIGSTOP) while the other all-reduces."""
    import torch
    import torch.distributed as dist

    if dist.get_rank() == rank_to_stop:
        os.kill(os.getpid(), signal.SIGSTOP)
    dist.all_reduce(torch.ones(3))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_stopped_worker_ends_the_launch_with_one_line(capfd: Any) -> None:
    """A worker stopped by SIGSTOP: the other's collective times out, the launcher names the
    stopped rank in one error and kills it; no torch socket warnings reach stderr (several
    lines of them before)."""
    start = time.monotonic()
    with pytest.raises(d.DistributedError) as info:
        d.launch(stop_one, 1, world_size=2, timeout=3, grace=2)
    assert str(info.value) == (
        "rank 1 was stopped (SIGSTOP or a debugger) and stopped answering the other ranks"
    )
    assert time.monotonic() - start < 120
    assert _children(os.getpid()) == set()
    err = capfd.readouterr().err
    assert "socket" not in err and "[W" not in err and "[E" not in err, err
