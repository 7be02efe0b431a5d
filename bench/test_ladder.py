"""The overhead ladder: one training run of the article workload, rung by rung, from the
article's DataLoader loop down to the numba kernel (the arithmetic floor).

Each rung is timed as ``test_train.py`` times a variant (create + train, data made
beforehand; the training loop's own seconds in ``extra_info["loop_s"]``). For the torch rungs a
separate, untimed run of a few steps under ``torch.profiler`` counts the torch operator calls
per step (``extra_info["ops_per_step"]``). The report estimates the framework overhead of a
rung as ``1 - floor / time per step``, with the numba rung's time per step as the floor (the
same arithmetic with nothing between the operations).
"""

from __future__ import annotations

import time
from typing import Any

import article_loop
import numpy as np
import pytest
import torch
import workloads as wl

import lr_variants as lv
from lr_variants._shuffle import Permutations

# (rung label, variant, impl); "article" is the article's own loop
RUNGS: tuple[tuple[str, str, str], ...] = (
    ("article", "article", "-"),
    ("module", "module", "textbook"),
    ("autograd", "autograd", "textbook"),
    ("func", "func", "textbook"),
    ("compiled", "compiled", "textbook"),
    ("torch_manual", "torch_manual", "textbook"),
    ("scratch", "scratch", "textbook"),
    ("numpy", "numpy", "textbook"),
    ("numpy-fast", "numpy", "fast"),
    ("numba", "numba", "textbook"),
)
TORCH_RUNGS = ("article", "module", "autograd", "func", "compiled", "torch_manual")
PROFILED_STEPS = 20


def _op_calls(variant: str, X: np.ndarray, y: np.ndarray) -> float:
    """Torch operator calls per step over ``PROFILED_STEPS`` steps (after warm-up), untimed."""
    from torch.profiler import ProfilerActivity, profile

    if variant == "article":
        Xt, yt = article_loop.tensors(X[: 32 * PROFILED_STEPS], y[: 32 * PROFILED_STEPS])
        article_loop.train(Xt, yt, epochs=1, batch_size=32, lr=0.1)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            article_loop.train(Xt, yt, epochs=1, batch_size=32, lr=0.1)
    else:
        model = lv.create(variant, X.shape[1])
        rows = slice(0, 32)
        model.step(X[rows], y[rows])
        Xa, ya = model.engine.arrays.convert(X[rows]), model.engine.arrays.convert(y[rows])
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(PROFILED_STEPS):
                model.engine.step(Xa, ya)
    ops = [e for e in prof.key_averages() if e.key.startswith("aten::")]
    return sum(e.count for e in ops) / PROFILED_STEPS


def _plan_seconds(n: int, epochs: int, rounds: int) -> tuple[float, float]:
    """The fastest of ``rounds`` draws of ``train``'s batch plan for ``epochs`` epochs of ``n``
    rows, untimed by the benchmark itself: ``(NumPy's permutation per epoch, as the per-step
    variants draw it; all epochs at once by the compiled twin, as numba's loop draws it)``."""
    best = [float("inf"), float("inf")]
    for _ in range(rounds):
        for k, draw in enumerate((lambda p: list(p), lambda p: p.take(epochs))):
            start = time.perf_counter()
            draw(Permutations(n, epochs, seed=42))
            best[k] = min(best[k], time.perf_counter() - start)
    return best[0], best[1]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("rung", "variant", "impl"), RUNGS, ids=[r[0] for r in RUNGS])
def test_ladder(
    benchmark: Any, sizes: dict[str, wl.Workload], rung: str, variant: str, impl: str, dtype: str
) -> None:
    if variant == "article" and dtype == "float64":
        pytest.skip("the article's loop runs in float32")
    work = sizes["article"]
    X, y = wl.data(work)
    benchmark.group = f"ladder-{dtype}"
    loops: list[float] = []
    if variant == "article":
        Xt, yt = article_loop.tensors(X, y)

        def run() -> Any:
            return article_loop.train(Xt, yt, epochs=work.epochs, batch_size=32, lr=work.lr)

    else:
        warm = lv.create(variant, work.d, dtype=dtype, impl=impl)
        lv.train(warm, X[:40], y[:40], epochs=1)  # imports, compiles (batches of 32 and 8)

        def run() -> Any:
            model = lv.create(variant, work.d, lr=work.lr, dtype=dtype, seed=42, impl=impl)
            history = lv.train(model, X, y, epochs=work.epochs, batch_size=32, seed=42)
            loops.append(history.seconds)
            return model

    with wl.torch_threads(work.threads):
        fast = variant != "article" and not benchmark.disabled
        rounds = wl.rounds_for(run, work.rounds) if fast else work.rounds  # more for fast rungs
        result = benchmark.pedantic(run, rounds=rounds, warmup_rounds=1, iterations=1)
        del loops[:-rounds]  # the timed rounds' loops (not the calibration's or warm-up's)
        ops = _op_calls(variant, X, y) if rung in TORCH_RUNGS else None
    info: dict[str, Any] = {**work.info(), "rung": rung, "variant": variant, "impl": impl}
    info.update(dtype=dtype, device="cpu", ops_per_step=ops, loop_s=loops)
    if variant == "numba":  # the loop's share that is the batch plan, shared by every variant
        info["plan_s"], info["plan_twin_s"] = _plan_seconds(work.n, work.epochs, work.rounds)
    if variant != "article":
        assert lv.accuracy(result, X, y) >= 0.99 or work.epochs < 100
        info["compile_seconds"] = getattr(result.engine, "compile_seconds", None)
    benchmark.extra_info.update(info)


@pytest.mark.parametrize("rung", ["compiled", "torch_manual", "autograd"])
def test_ladder_cuda(benchmark: Any, sizes: dict[str, wl.Workload], rung: str) -> None:
    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available here (torch.cuda.is_available() is False)")
    work = sizes["article"]
    X, y = wl.data(work)
    benchmark.group = "ladder-cuda"
    lv.train(lv.create(rung, work.d, device="cuda"), X[:40], y[:40], epochs=1)

    def run() -> Any:
        model = lv.create(rung, work.d, lr=work.lr, device="cuda", seed=42)
        lv.train(model, X, y, epochs=work.epochs, batch_size=32, seed=42)
        torch.cuda.synchronize()
        return model

    benchmark.pedantic(run, rounds=work.rounds, warmup_rounds=1, iterations=1)
    info = {**work.info(), "rung": rung, "variant": rung, "device": "cuda", "dtype": "float32"}
    info["card"] = torch.cuda.get_device_name()
    benchmark.extra_info.update(info)
