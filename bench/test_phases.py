"""Where a step's time goes, at the article's size: batching, forward, backward, update.

For the article's loop and each variant with a replay in ``phases.py``, the timed function is
the whole training with a clock between phases; ``extra_info["phases"]`` holds the seconds per
phase (summed over the 3,200 steps) of the fastest round. After timing, the replay must end at
the parameters ``lv.train`` reaches (the replay is the engines' step code, not a model of it).
"""

from __future__ import annotations

from typing import Any

import article_loop
import numpy as np
import phases
import pytest
import workloads as wl

import lr_variants as lv


@pytest.mark.parametrize("variant", ["article", "numpy", "torch_manual", "autograd", "module"])
def test_phases(benchmark: Any, sizes: dict[str, wl.Workload], variant: str) -> None:
    work = sizes["article"]
    X, y = wl.data(work)
    rounds: list[tuple[float, dict[str, float]]] = []
    Xt, yt = article_loop.tensors(X, y)

    def run() -> Any:
        if variant == "article":
            model, spent = article_loop.train_phases(Xt, yt, epochs=work.epochs, lr=work.lr)
        else:
            model = lv.create(variant, work.d, lr=work.lr, seed=42)
            spent = phases.train_phases(model, X, y, epochs=work.epochs, batch_size=32)
        rounds.append((sum(spent.values()), spent))
        return model

    benchmark.group = "phases"
    with wl.torch_threads(work.threads):
        threads = wl.thread_info()
        model = benchmark.pedantic(run, rounds=work.rounds, warmup_rounds=1, iterations=1)
    if variant == "article":
        assert article_loop.accuracy(model, Xt, yt) >= 0.99 or work.epochs < 100
    else:
        plain = lv.create(variant, work.d, lr=work.lr, seed=42)
        lv.train(plain, X, y, epochs=work.epochs, batch_size=32, seed=42)
        np.testing.assert_allclose(
            np.append(*model.get_params()), np.append(*plain.get_params()), rtol=0, atol=1e-6
        )
    best = min(rounds, key=lambda r: r[0])[1]
    benchmark.extra_info.update(
        {**work.info(), "variant": variant, "dtype": "float32", "phases": best, **threads}
    )
