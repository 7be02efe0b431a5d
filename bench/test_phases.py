"""Where a step's time goes, at the article's size: batching, forward, backward, update, readback.

For the article's loop (``article_loop.train_phases``) and every variant x impl
(``phases.train_phases``: the variant's own ``loss``, ``gradients`` and ``step``, timed on each
batch), the timed function is the whole replay; ``extra_info["phases"]`` holds the seconds per
phase (summed over the 3,200 steps) of the fastest round. After timing, the replay must end at
the parameters ``lv.train`` reaches (it calls the variant's own ``step``, in the same order).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import article_loop
import numpy as np
import phases
import pytest
import workloads as wl

import lr_variants as lv


def _cases() -> Iterator[Any]:
    yield pytest.param("article", "-", id="article")
    for variant in lv.VARIANTS:
        for impl in lv.impls(variant):
            yield pytest.param(variant, impl, id=f"{variant}-{impl}")


@pytest.mark.parametrize(("variant", "impl"), list(_cases()))
def test_phases(benchmark: Any, sizes: dict[str, wl.Workload], variant: str, impl: str) -> None:
    work = sizes["article"]
    X, y = wl.data(work)
    rounds: list[tuple[float, dict[str, float]]] = []
    Xt, yt = article_loop.tensors(X, y)

    def run() -> Any:
        if variant == "article":
            model, spent = article_loop.train_phases(Xt, yt, epochs=work.epochs, lr=work.lr)
        else:
            model = lv.create(variant, work.d, lr=work.lr, seed=42, impl=impl)
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
        plain = lv.create(variant, work.d, lr=work.lr, seed=42, impl=impl)
        lv.train(plain, X, y, epochs=work.epochs, batch_size=32, seed=42)
        np.testing.assert_allclose(
            np.append(*model.get_params()), np.append(*plain.get_params()), rtol=0, atol=1e-6
        )
    best = min(rounds, key=lambda r: r[0])[1]
    benchmark.extra_info.update(
        {
            **work.info(),
            "variant": variant,
            "impl": impl,
            "dtype": "float32",
            "phases": best,
            **threads,
        }
    )
