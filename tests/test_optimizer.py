"""Optimizer parity: every variant follows torch.optim.SGD's rule, step by step.

The reference rule below is written here, from torch's ``_single_tensor_sgd``, independently of
``lr_variants._sgd``; gradients come from ``tests/reference.py`` in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import reference as ref

import lr_variants as lv

OPTION_TABLE = {
    "plain": {},
    "momentum": {"momentum": 0.9},
    "dampening": {"momentum": 0.9, "dampening": 0.3},
    "nesterov": {"momentum": 0.8, "nesterov": True},
    "weight_decay": {"weight_decay": 0.1},
    "weight_decay_bias": {"weight_decay": 0.1, "decay_bias": True},
    "maximize": {"maximize": True},
    "maximize_weight_decay": {"maximize": True, "weight_decay": 0.1},
    "everything": {"momentum": 0.5, "nesterov": True, "weight_decay": 0.05, "decay_bias": True},
}
LR = 0.05
STEPS = 120


def reference_sgd(
    X,
    y,
    w,
    b,
    batches,
    *,
    lr,
    momentum=0.0,
    dampening=0.0,
    nesterov=False,
    weight_decay=0.0,
    maximize=False,
    decay_bias=False,
):
    """Float64 parameters after each step of torch's SGD, as torch's for-loop code does it."""
    theta = [np.array(w, np.float64), np.array(b, np.float64)]
    bufs: list = [None, None]
    path = []
    for idx in batches:
        gw, gb = ref.gradients(X[idx], y[idx], theta[0], float(theta[1]))
        for i, g in enumerate([gw, np.float64(gb)]):
            g = -g if maximize else g  # negate first, then decay (pytorch#149476)
            if weight_decay and (i == 0 or decay_bias):
                g = g + weight_decay * theta[i]
            if momentum:
                bufs[i] = g.copy() if bufs[i] is None else momentum * bufs[i] + (1 - dampening) * g
                g = g + momentum * bufs[i] if nesterov else bufs[i]
            theta[i] = theta[i] - lr * g
        path.append(np.append(theta[0], theta[1]))
    return np.array(path)


def _problem():
    X, y = lv.two_blobs(40, seed=3)
    X = X / 2.0  # |x| ~ 1: the gradient map is non-expansive for lr = 0.05
    return X, y, list(lv.batches(80, epochs=STEPS // 5, batch_size=16, seed=1))[:STEPS]


def _tolerance(dtype: str, k: np.ndarray, opts: dict) -> np.ndarray:
    """Float64: a few ulps per step. Float32: the inputs and parameters are rounded to float32
    (relative 6e-8) and every step adds rounding of that size; with a non-expansive step the
    errors add up linearly in k, amplified by at most 1 / (1 - momentum) through the buffer."""
    amplify = 1.0 / (1.0 - opts.get("momentum", 0.0))
    eps = 1e-15 if dtype == "float64" else 6e-8
    return 20 * eps * amplify * (k + 10)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", list(OPTION_TABLE))
@pytest.mark.parametrize("variant", lv.VARIANTS)
def test_every_variant_follows_torch_sgd_rule(variant: str, case: str, dtype: str) -> None:
    """Each step of every variant equals the float64 reference rule within a tolerance that
    grows linearly with the number of steps."""
    opts = OPTION_TABLE[case]
    X, y, batches = _problem()
    model = lv.create(variant, 2, lr=LR, dtype=dtype, seed=2, **opts)
    w0, b0 = model.get_params()  # already rounded to dtype
    Xd = X.astype(dtype).astype(np.float64)  # the reference sees the same rounded data
    expected = reference_sgd(Xd, y, w0, b0, batches, lr=LR, **opts)
    got = []
    for idx in batches:
        model.step(X[idx], y[idx])
        w, b = model.get_params()
        got.append(np.append(w, b))
    err = np.abs(np.array(got) - expected).max(axis=1) / np.maximum(
        1.0, np.abs(expected).max(axis=1)
    )
    tol = _tolerance(dtype, np.arange(1, STEPS + 1), opts)
    worst = int(np.argmax(err / tol))
    assert np.all(err <= tol), (
        f"{variant} {case} {dtype}: step {worst + 1} parameters {got[worst]} vs reference "
        f"{expected[worst]}: relative error {err[worst]:.3g} > tolerance {tol[worst]:.3g}"
    )


@pytest.mark.parametrize(
    "case", ["plain", "momentum", "nesterov", "weight_decay_bias", "maximize_weight_decay"]
)
def test_module_for_loop_foreach_fused_agree(case: str) -> None:
    """torch.optim.SGD's for-loop, foreach and fused implementations give the same trajectory
    (bit for bit in float64 here; they order the same float operations)."""
    X, y, batches = _problem()
    finals = {}
    for impl in ("for-loop", "foreach", "fused"):
        model = lv.create(
            "module", 2, lr=LR, dtype="float64", seed=2, sgd_impl=impl, **OPTION_TABLE[case]
        )
        for idx in batches:
            model.step(X[idx], y[idx])
        finals[impl] = np.append(*model.get_params())
    np.testing.assert_allclose(finals["foreach"], finals["for-loop"], rtol=1e-14, atol=0)
    np.testing.assert_allclose(finals["fused"], finals["for-loop"], rtol=1e-14, atol=0)


@pytest.mark.parametrize("variant", lv.VARIANTS)
def test_set_params_keeps_momentum_buffers(variant: str) -> None:
    """set_params overwrites the parameters and keeps the momentum buffers, as torch.optim.SGD
    keeps its state when parameters are overwritten in place."""
    X, y, batches = _problem()
    model = lv.create(variant, 2, lr=LR, dtype="float64", momentum=0.9)
    fresh = lv.create(variant, 2, lr=LR, dtype="float64", momentum=0.9)
    model.step(X[batches[0]], y[batches[0]])
    w, b = model.get_params()
    model.set_params(w, b)
    fresh.set_params(w, b)
    model.step(X[batches[1]], y[batches[1]])
    fresh.step(X[batches[1]], y[batches[1]])
    gw, _ = ref.gradients(X[batches[1]], y[batches[1]], w, b)
    # the fresh model's buffer starts as this gradient; the other one still carries the first
    np.testing.assert_allclose(fresh.get_params()[0], w - LR * gw, rtol=1e-13)
    assert not np.allclose(model.get_params()[0], fresh.get_params()[0], rtol=1e-6)


BAD_OPTIONS = [
    ({"momentum": -0.1}, ValueError, r"momentum must be >= 0.0; got -0.1"),
    ({"weight_decay": -1.0}, ValueError, r"weight_decay must be >= 0.0; got -1.0"),
    ({"nesterov": True}, ValueError, r"nesterov requires momentum > 0 and dampening = 0"),
    ({"nesterov": True, "momentum": 0.9, "dampening": 0.1}, ValueError, r"nesterov requires"),
    ({"nesterov": 1}, TypeError, r"nesterov must be a bool"),
    ({"maximize": "yes"}, TypeError, r"maximize must be a bool"),
    ({"dampening": float("nan")}, ValueError, r"dampening must be finite"),
    ({"sgd_impl": "fast"}, ValueError, r"sgd_impl must be one of"),
]


@pytest.mark.parametrize("kwargs,exc,match", BAD_OPTIONS)
def test_bad_optimizer_options(kwargs: dict, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        lv.create("numpy", 2, **kwargs)


def test_torch_rejects_what_we_reject() -> None:
    """Our conditions are torch's: the same option values make torch.optim.SGD raise."""
    import torch

    p = [torch.nn.Parameter(torch.zeros(1))]
    for kwargs in (
        {"momentum": -0.1},
        {"weight_decay": -1.0},
        {"nesterov": True},
        {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
    ):
        with pytest.raises(ValueError):
            torch.optim.SGD(p, lr=0.1, **kwargs)


def test_sgd_impl_only_for_module() -> None:
    with pytest.raises(ValueError, match=r"sgd_impl must be 'for-loop' for the numpy variant"):
        lv.create("numpy", 2, sgd_impl="fused")
