"""The ladder's variants beyond the shared properties: the numba extra's epoch kernel, the
compiled step's compile-once behaviour, and forward mode in the autograd study."""

from __future__ import annotations

import builtins
import importlib
import sys
from typing import Any

import numpy as np
import pytest

import lr_variants as lv

X, Y = lv.two_blobs()
OPTIONS = [
    {},
    {"momentum": 0.9},
    {"momentum": 0.5, "nesterov": True, "weight_decay": 0.01},
    {"momentum": 0.3, "dampening": 0.2, "maximize": True, "decay_bias": True, "weight_decay": 0.1},
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_numba_epoch_kernel_equals_its_steps(
    dtype: str, options: dict[str, Any], weighted: bool
) -> None:
    """train() through the numba variant's one-call epochs gives exactly the losses and
    parameters of one step() per batch on the same batches (same kernel, same order)."""
    s = np.random.default_rng(0).uniform(0.5, 2.0, size=200) if weighted else None
    Xs, ys = X[:200], Y[:200]
    a = lv.create("numba", 2, dtype=dtype, lr=0.05, **options)
    b = lv.create("numba", 2, dtype=dtype, lr=0.05, **options)
    history = lv.train(a, Xs, ys, epochs=3, batch_size=32, seed=1, sample_weight=s)
    losses = []
    for rows in lv.batches(200, epochs=3, batch_size=32, seed=1):
        sw = None if s is None else s[rows]
        losses.append(b.step(Xs[rows], ys[rows], sample_weight=sw))
    # float64 exactly; float32 within a few ulps (the step path normalizes each batch's
    # weights alone, train() per epoch: the same float64 values rounded once either way)
    rtol = 0.0 if dtype == "float64" and s is None else 1e-6
    np.testing.assert_allclose(history.batch_loss.ravel(), losses, rtol=rtol)
    np.testing.assert_allclose(np.append(*a.get_params()), np.append(*b.get_params()), rtol=rtol)
    sa, sb = a.get_state(), b.get_state()
    assert sa.keys() == sb.keys()
    for key in sa:
        np.testing.assert_allclose(sa[key], sb[key], rtol=rtol)


def test_numba_log1p_from_log_is_within_two_ulps_of_log1p() -> None:
    """The kernel's ``log(1 + e)`` for ``0 <= e <= 1`` (``log(q) + c / q``, ``q = fl(1 + e)``,
    ``c`` its exact rounding error): the C library's ``log`` and the last addition each round
    by at most about half an ulp, and ``log1p`` itself is within an ulp, so two ulps of
    ``log1p(e)`` bound the difference; checked on every power of two down to the smallest
    subnormal, both sides of each, and a million values spread over (0, 1]."""
    kernels = pytest.importorskip("lr_variants.textbook.numba_kernels")
    rng = np.random.default_rng(7)
    powers = np.ldexp(1.0, -np.arange(0, 1075))
    e = np.concatenate([
        [0.0, 1.0], powers, np.nextafter(powers, 0.0), np.nextafter(powers, 2.0)[1:],
        rng.random(500_000), np.exp(-rng.uniform(0.0, 745.0, 500_000)),
    ])  # fmt: skip
    got = _log1p_many(kernels, e)
    want = np.log1p(e)
    ulps = np.abs(got - want) / np.spacing(np.maximum(want, np.finfo(float).tiny))
    assert ulps.max() <= 2.0, (ulps.max(), e[np.argmax(ulps)])
    assert np.all(got[e == 0.0] == 0.0) and np.all(got[e > 0.0] > 0.0)


def _log1p_many(kernels: Any, e: np.ndarray) -> np.ndarray:
    """The kernel's ``_log1p`` over an array, compiled once (a Python loop would take
    seconds)."""
    import numba

    @numba.njit
    def each(values: np.ndarray) -> np.ndarray:
        out = np.empty_like(values)
        for k in range(values.size):
            out[k] = kernels._log1p(values[k])
        return out

    return np.asarray(each(e))


def test_numba_momentum_matches_torch_sgd_path() -> None:
    """With momentum, the numba kernel's SGD rule follows the autograd variant (the library's
    SGD rule in torch) over 100 steps in float64 within rounding."""
    a = lv.create("numba", 2, dtype="float64", momentum=0.9, nesterov=True, weight_decay=0.01)
    b = lv.create("autograd", 2, dtype="float64", momentum=0.9, nesterov=True, weight_decay=0.01)
    ha = lv.train(a, X, Y, epochs=3)
    hb = lv.train(b, X, Y, epochs=3)
    np.testing.assert_allclose(ha.batch_loss, hb.batch_loss, rtol=1e-10)
    np.testing.assert_allclose(np.append(*a.get_params()), np.append(*b.get_params()), rtol=1e-9)
    sa, sb = a.get_state(), b.get_state()
    assert sa.keys() == sb.keys() == {"momentum_w", "momentum_b"}
    np.testing.assert_allclose(sa["momentum_w"], sb["momentum_w"], rtol=1e-9)


def test_numba_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without numba, create("numba", ...) raises ImportError naming the extra."""
    real = builtins.__import__

    def no_numba(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "numba" or name.startswith("numba."):
            raise ImportError("No module named 'numba'")
        return real(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "lr_variants.textbook.numba_kernels", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_numba)
    with pytest.raises(ImportError, match=r"pip install 'lr_variants\[numba\]'"):
        lv.create("numba", 2)
    monkeypatch.undo()
    importlib.import_module("lr_variants.textbook.numba_kernels")


def test_compiled_step_compiles_once_for_every_batch_size() -> None:
    """The batch dimension is dynamic: after one model has trained on batches of 32 and 8
    rows, a new model of the same shape trains on other batch sizes without compiling."""
    first = lv.create("compiled", 2, dtype="float32", lr=0.05)
    lv.train(first, X[:40], Y[:40], epochs=2, batch_size=32)  # batches of 32 and 8
    assert first.engine.compiles <= 2  # type: ignore[attr-defined]
    again = lv.create("compiled", 2, dtype="float32", lr=0.05)
    lv.train(again, X[:100], Y[:100], epochs=2, batch_size=24)  # 24 and 4
    assert again.engine.compiles == 0, "a new batch size compiled a new graph"  # type: ignore[attr-defined]
    assert again.engine.compile_seconds == 0.0  # type: ignore[attr-defined]


def test_forward_mode_gradient_equals_reverse_mode() -> None:
    """Forward mode (one jvp per parameter) gives the reverse-mode gradient and the closed
    form X~^T (p - y) / N in float64 within a few ulps."""
    r = lv.explain.forward_mode(X[:8], Y[:8], [0.3, -0.2], 0.1)
    assert r["forward_passes"] == 3 and r["reverse_passes"] == 1
    Xt = np.column_stack([X[:8], np.ones(8)])
    p = 1 / (1 + np.exp(-(Xt @ [0.3, -0.2, 0.1])))
    np.testing.assert_allclose(r["forward"], Xt.T @ (p - Y[:8]) / 8, rtol=1e-12, atol=1e-15)
    assert r["max_abs_diff"] < 1e-14
    assert "reverse mode wins" in lv.explain.forward_mode_text(r)


def test_compare_without_the_numba_extra_skips_it_and_trains_the_others() -> None:
    """A variant whose optional extra is missing is named on a skipped: line when others run
    beside it; asked for alone it is an error naming the extra."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['numba'] = None; from lr_variants.cli import main; "
        "sys.exit(main(['compare', '--epochs', '1', '--variants', {}, '--impl', 'textbook']))"
    )
    both = subprocess.run(
        [sys.executable, "-c", code.format("'numpy,numba'")], capture_output=True, text=True
    )
    assert both.returncode == 0, both.stderr
    assert "skipped: numba: the numba variant needs numba: pip install" in both.stdout
    alone = subprocess.run(
        [sys.executable, "-c", code.format("'numba'")], capture_output=True, text=True
    )
    assert alone.returncode == 2 and "pip install 'lr_variants[numba]'" in alone.stderr
