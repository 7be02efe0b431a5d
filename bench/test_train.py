"""Training time of every variant x impl x device x dtype on the three workloads (``workloads.py``).

The timed function is what a user calls: ``lv.create(...)`` then ``lv.train(...)`` on data made
beforehand (validation and conversion of the data are inside ``train``, and timed). The baseline
row of every workload is the article's own loop (``article_loop.py``: ``DataLoader`` +
``nn.Module`` with sigmoid + ``BCELoss`` + ``optim.SGD``) on the same data and batch size. Each
round also records ``History.seconds`` (the training loop alone, without validation and
conversion) in ``extra_info["loop_s"]``, from which the ``full`` workload's achieved memory
bandwidth is computed, and the process's CPU time in ``extra_info["cpu_s"]`` (with one thread,
the time the run itself spent on a core, whatever else the machine runs). After timing, each
result is checked: finite, and the same parameters as the NumPy variant in float64 on the same
batches (the variants share one trajectory).

Every implementation a variant offers (``lv.impls``: ``"textbook"``, and ``"fast"`` where a tuned
twin exists) is a row of its own, so each tuned form's gain shows beside its textbook recipe in
the same run.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from typing import Any

import article_loop
import numpy as np
import pytest
import torch
import workloads as wl

import lr_variants as lv

SEED = 42
DEVICES = ("cpu", "cuda")
# |params - float64 reference| allowed: float32 rounding grown over the run's steps
TOLERANCE = {
    ("article", "float32"): 2e-5,
    ("wide", "float32"): 1e-4,
    ("full", "float32"): 1e-4,
}


def _cases() -> Iterator[Any]:
    for workload in wl.WORKLOADS:
        dtypes = wl.FULL_SIZE[workload].dtypes
        for dtype in dtypes:
            for device in DEVICES:
                builtin = (*lv.VARIANTS, *wl.plugin_variants())  # yours: LR_BENCH_VARIANTS
                names = ("article", *builtin) if dtype == "float32" else builtin
                for variant in names:
                    for impl in ("-",) if variant == "article" else lv.impls(variant):
                        name = variant if variant == "article" else f"{variant}-{impl}"
                        yield pytest.param(
                            workload,
                            variant,
                            impl,
                            device,
                            dtype,
                            id=f"{workload}-{name}-{device}-{dtype}",
                        )


def skip_if_unavailable(variant: str, device: str) -> None:
    if device == "cpu":
        return
    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available here (torch.cuda.is_available() is False)")
    if variant == "article":
        pytest.skip("the article's loop runs on the CPU")
    try:
        lv.create(variant, 1, device=device)
    except ValueError as exc:  # a host-only variant
        pytest.skip(str(exc))


@functools.cache
def reference(work: wl.Workload) -> np.ndarray:
    """The float64 NumPy variant's final ``(w, b)`` on ``work``: the shared trajectory."""
    X, y = wl.data(work)
    model = lv.create("numpy", work.d, lr=work.lr, dtype="float64", seed=SEED)
    lv.train(model, X, y, epochs=work.epochs, batch_size=work.batch_size, seed=SEED)
    w, b = model.get_params()
    return np.append(w, b)


@pytest.mark.parametrize(("workload", "variant", "impl", "device", "dtype"), list(_cases()))
def test_train(
    benchmark: Any,
    sizes: dict[str, wl.Workload],
    workload: str,
    variant: str,
    impl: str,
    device: str,
    dtype: str,
) -> None:
    skip_if_unavailable(variant, device)
    work = sizes[workload]
    X, y = wl.data(work)
    benchmark.group = workload
    loops: list[float] = []

    rounds, warmup = work.rounds, 0 if workload == "full" else 1  # full: warmed up below
    if variant == "article":
        Xt, yt = article_loop.tensors(X, y)
        batch = work.batch_size or work.n
        if workload == "full":  # the DataLoader collates 1,000,000 rows per step: seconds
            rounds = 1

        def run() -> Any:
            return article_loop.train(Xt, yt, epochs=work.epochs, batch_size=batch, lr=work.lr)

    else:
        ref = reference(work)  # before timing, outside it
        warm = lv.create(variant, work.d, dtype=dtype, device=device, impl=impl)
        lv.train(warm, X[:64], y[:64], epochs=1)  # imports and first-call costs, untimed

        def run() -> Any:
            model = lv.create(
                variant, work.d, lr=work.lr, dtype=dtype, device=device, seed=SEED, impl=impl
            )
            history = lv.train(
                model, X, y, epochs=work.epochs, batch_size=work.batch_size, seed=SEED
            )
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            loops.append(history.seconds)
            used.append(history.threads)
            return model

    cpu: list[float] = []
    used: list[int] = []  # the threads train() used (the thread policy: 1 for small batches)

    def timed() -> Any:  # also the process's CPU time: on a shared machine, what it spent
        start = time.process_time()
        out = run()
        cpu.append(time.process_time() - start)
        return out

    with wl.torch_threads(work.threads):
        threads = wl.thread_info()
        if variant != "article" and workload != "full" and not benchmark.disabled:
            rounds = wl.rounds_for(run, rounds)  # a fast variant: more rounds
        result = benchmark.pedantic(timed, rounds=rounds, warmup_rounds=warmup, iterations=1)

    info: dict[str, Any] = {**work.info(), "variant": variant, "impl": impl}
    info.update(device=device, dtype=dtype)
    info.update(threads)
    if used:  # train() scopes its own threads (lr_variants._threads): record what it used
        info["threads_used"] = used[-1]
        info["torch_threads"] = used[-1]
    info["x_bytes"] = work.n * work.d * np.dtype(dtype).itemsize
    info["cpu_s"] = cpu[-rounds:]
    if variant == "article":
        acc = article_loop.accuracy(result, Xt, yt)
        if workload == "article" and work.epochs == 100:
            assert acc >= 0.99, f"the article's loop reached accuracy {acc}"
        start = article_loop.loss(article_loop.initial_model(work.d), Xt, yt)
        end = article_loop.loss(result, Xt, yt)
        assert end < start, f"the article's loop did not lower the loss: {start} -> {end}"
        info["accuracy"] = acc
    else:
        w, b = result.get_params()
        params = np.append(w, b)
        assert np.isfinite(params).all(), f"{variant}: parameters not finite: {params}"
        diff = float(np.max(np.abs(params - ref)))
        tol = TOLERANCE.get((workload, dtype), 1e-9)
        assert diff <= tol, (
            f"{variant} {impl} {dtype}: max |params - float64 numpy| = {diff:.3g} > {tol}"
        )
        info["max_abs_param_diff_vs_numpy64"] = diff
        info["loop_s"] = loops[-rounds:]  # the timed rounds' (warm-ups excluded)
        if workload == "article":
            acc = lv.accuracy(result, X, y)
            assert acc >= 0.99 or work.epochs < 100, f"{variant} {impl}: accuracy {acc}"
            info["accuracy"] = acc
    benchmark.extra_info.update(info)
