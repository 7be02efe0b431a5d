"""What the thread policy (``lr_variants._threads``) buys: the same training with the policy's
threads, pinned to one, and on every core (torch's own default, what ``train`` used before the
policy), timed in one run so that their ratios compare like with like.

- ``api_*``: the README's example, ``create("autograd", 2, dtype="float64")`` and
  ``train(..., epochs=100, batch_size=32)`` on the article's data (3 epochs with small sizes):
  ``api_policy`` calls ``train`` as a user does (the policy picks one thread for these
  batches); ``api_pinned`` passes ``threads=1``; ``api_all_cores`` passes every CPU.
- ``estimator_policy`` and ``cli_policy``: the same job through the other entry points, as a
  user calls them: ``SGDLogisticRegression("autograd", dtype="float64").fit`` and the
  command line's ``lr-variants train --variant autograd --dtype float64`` (``main`` in this
  process: the command as a whole, its printing included, without the interpreter's start).
- ``dp_*``: the same job data-parallel over 2 processes (``lv.distributed.run``, autograd,
  10 epochs; 2 with small sizes), the workers under the policy (``dp_policy``) or with every
  CPU per worker (``dp_all_cores``: ``LR_VARIANTS_THREADS`` set for the workers). The timed
  function includes starting the workers; ``extra_info["loop_s"]`` is rank 0's loop alone.

``docs/benchmarks.md`` ("Threads") reads each ratio to ``api_pinned`` (and ``dp_all_cores`` to
``dp_policy``): no entry point should be slower than the others on the same work. Run:
``.venv/bin/python -m pytest bench/test_threads.py`` (group "threads").
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
from typing import Any

import pytest
import workloads as wl

import lr_variants as lv
import lr_variants.distributed
from lr_variants._threads import ENV_VAR, cpu_count
from lr_variants.cli import main
from lr_variants.estimator import SGDLogisticRegression

API_CASES = {"api_policy": None, "api_pinned": 1, "api_all_cores": -1}  # -1: cpu_count()
DP_CASES = ("dp_policy", "dp_all_cores")
ENTRY_CASES = ("estimator_policy", "cli_policy")


@pytest.mark.parametrize("case", list(API_CASES))
def test_api_threads(benchmark: Any, sizes: dict[str, wl.Workload], case: str) -> None:
    X, y = lv.two_blobs()
    epochs = sizes["article"].epochs
    requested = API_CASES[case]
    threads = cpu_count() if requested == -1 else requested
    histories = []

    def run() -> None:
        model = lv.create("autograd", 2, lr=0.1, dtype="float64", seed=0)
        histories.append(lv.train(model, X, y, epochs=epochs, batch_size=32, threads=threads))

    benchmark.group = "threads"
    rounds = 3 if epochs >= 100 else 1
    benchmark.pedantic(run, rounds=rounds, warmup_rounds=1, iterations=1)
    used = histories[-1].threads
    assert used == (1 if requested is None else threads)
    assert histories[-1].epoch_loss[-1] < histories[-1].epoch_loss[0]
    benchmark.extra_info.update(
        {
            "workload": "threads",
            "case": case,
            "threads": used,
            "epochs": epochs,
            "loop_s": [h.seconds for h in histories],
            **wl.thread_info(),
        }
    )


@pytest.mark.parametrize("case", ENTRY_CASES)
def test_entry_point_threads(benchmark: Any, sizes: dict[str, wl.Workload], case: str) -> None:
    X, y = lv.two_blobs()
    epochs = sizes["article"].epochs
    used: list[tuple[int, float]] = []  # (threads, accuracy) of each round

    def run() -> None:
        if case == "estimator_policy":
            est = SGDLogisticRegression("autograd", dtype="float64", epochs=epochs, random_state=0)
            accuracy = est.fit(X, y).score(X, y)
            used.append((est.threads_, accuracy))
            return
        argv = ["train", "--variant", "autograd", "--dtype", "float64", "--epochs", str(epochs)]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main([*argv, "--json"]) == 0
        printed = json.loads(out.getvalue())
        used.append((printed["settings"]["threads"], printed["result"]["accuracy"]))

    benchmark.group = "threads"
    rounds = 3 if epochs >= 100 else 1
    benchmark.pedantic(run, rounds=rounds, warmup_rounds=1, iterations=1)
    threads, accuracy = used[-1]
    assert threads == 1  # the policy's choice for batches this small, as in api_policy
    assert accuracy >= 0.99 or epochs < 100
    benchmark.extra_info.update(
        {"workload": "threads", "case": case, "threads": threads, "epochs": epochs,
         **wl.thread_info()}
    )  # fmt: skip


@pytest.mark.parametrize("case", DP_CASES)
def test_data_parallel_threads(
    benchmark: Any, sizes: dict[str, wl.Workload], case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y = lv.two_blobs()
    epochs = 10 if sizes["article"].epochs >= 100 else 2
    if case == "dp_all_cores":  # the workers inherit the environment
        monkeypatch.setenv(ENV_VAR, str(cpu_count()))
    else:
        monkeypatch.delenv(ENV_VAR, raising=False)
    results = []

    def run() -> None:
        start = time.perf_counter()
        out = lv.distributed.run(
            X,
            y,
            variants=["autograd"],
            world_size=2,
            force_world_size=cpu_count() < 2,
            epochs=epochs,
            dtype="float64",
            timeout=600,
        )
        results.append((out.results[0], time.perf_counter() - start))

    benchmark.group = "threads"
    benchmark.pedantic(run, rounds=1, warmup_rounds=0, iterations=1)
    row, _ = results[-1]
    assert row.ranks_equal
    want = cpu_count() if case == "dp_all_cores" else 1
    assert row.distributed_threads == want
    benchmark.extra_info.update(
        {
            "workload": "threads",
            "case": case,
            "threads": row.distributed_threads,
            "epochs": epochs,
            "world_size": 2,
            "loop_s": row.distributed_seconds,
            ENV_VAR: os.environ.get(ENV_VAR),
            **wl.thread_info(),
        }
    )
