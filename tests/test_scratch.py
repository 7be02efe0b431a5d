"""The from-scratch autograd engine (lr_variants.scratch), op by op against torch in float64.

As micrograd's tests: build the same expression in both, compare the forward value, then the
gradients backward() leaves on the inputs. Each expression ends in ``sum(c * op(...))`` with a
random ``c``, so the upstream gradient reaching the op is not all ones. float64 on both sides:
the two differ only by rounding, so ``rtol=1e-12`` (a few hundred ulps) is ample.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pytest
import reference as ref
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import lr_variants as lv
from lr_variants.scratch import (
    Tensor,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    unbroadcast,
)

RTOL = 1e-12


def leaf(a: np.ndarray) -> tuple[Tensor, torch.Tensor]:
    """The same float64 values as a scratch leaf and a torch leaf, both requiring gradients."""
    return Tensor(a.copy(), requires_grad=True), torch.tensor(a, requires_grad=True)


def check(
    inputs: list[np.ndarray],
    scratch_fn: Callable[..., Tensor],
    torch_fn: Callable[..., torch.Tensor],
    seed: int = 0,
) -> None:
    """Forward values and every input's gradient agree with torch."""
    pairs = [leaf(a) for a in inputs]
    s_out = scratch_fn(*(s for s, _ in pairs))
    t_out = torch_fn(*(t for _, t in pairs))
    np.testing.assert_allclose(s_out.data, t_out.detach().numpy(), rtol=RTOL, atol=1e-300)
    c = np.random.default_rng(seed).normal(size=s_out.data.shape)
    (s_out * c).sum().backward()
    (t_out * torch.tensor(c)).sum().backward()
    for s, t in pairs:
        assert s.grad is not None and s.grad.shape == s.data.shape
        np.testing.assert_allclose(s.grad, t.grad.numpy(), rtol=RTOL, atol=1e-15)


rng = np.random.default_rng(1)
A = rng.normal(size=(5, 3))
V = rng.normal(size=3)
M = rng.normal(size=(3, 2))
POS = rng.uniform(0.1, 3.0, size=7)
X7 = rng.normal(scale=3.0, size=7)
WIDE = np.array([-1e4, -50.0, -20.0, -1.5, 0.3, 20.0, 50.0, 1e4])

UNARY = [
    ("neg", lambda a: -a, lambda a: -a, X7),
    ("exp", Tensor.exp, torch.exp, X7),
    ("log", Tensor.log, torch.log, POS),
    ("log1p", Tensor.log1p, torch.log1p, POS - 0.05),
    ("abs", Tensor.abs, torch.abs, X7),
    ("relu", Tensor.relu, torch.relu, X7),
    ("sigmoid", Tensor.sigmoid, torch.sigmoid, WIDE),
    ("softplus", Tensor.softplus, F.softplus, WIDE),
    ("sum", Tensor.sum, torch.sum, A),
    ("mean", Tensor.mean, torch.mean, A),
]


@pytest.mark.parametrize("name,s_fn,t_fn,x", UNARY, ids=[u[0] for u in UNARY])
def test_unary_ops_match_torch(name, s_fn, t_fn, x) -> None:
    check([x], s_fn, t_fn)


BINARY = [
    ("add", lambda a, b: a + b, lambda a, b: a + b, A, A[::-1].copy()),
    ("sub", lambda a, b: a - b, lambda a, b: a - b, A, A * 2),
    ("mul", lambda a, b: a * b, lambda a, b: a * b, A, A + 1),
    ("matmul matrix-vector", lambda a, b: a @ b, lambda a, b: a @ b, A, V),
    ("matmul matrix-matrix", lambda a, b: a @ b, lambda a, b: a @ b, A, M),
    # broadcasting: the gradient of the broadcast input is summed over the copied axes
    ("add row (N,D)+(D,)", lambda a, b: a + b, lambda a, b: a + b, A, V),
    ("add column (N,D)+(N,1)", lambda a, b: a + b, lambda a, b: a + b, A, A[:, :1].copy()),
    ("add scalar (N,)+()", lambda a, b: a + b, lambda a, b: a + b, X7, np.array(0.7)),
    ("sub (D,)-(N,D)", lambda a, b: a - b, lambda a, b: a - b, V, A),
    ("mul (1,D)*(N,1)", lambda a, b: a * b, lambda a, b: a * b, V[None, :], A[:, :1].copy()),
]


@pytest.mark.parametrize("name,s_fn,t_fn,a,b", BINARY, ids=[u[0] for u in BINARY])
def test_binary_ops_match_torch(name, s_fn, t_fn, a, b) -> None:
    check([a, b], s_fn, t_fn)


def test_python_numbers_are_constants_of_the_tensors_dtype() -> None:
    check([X7], lambda a: 2.0 * a + 1.5 - 0.5, lambda a: 2.0 * a + 1.5 - 0.5)
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    assert (2.0 * x + 1.0).data.dtype == np.float32


def test_bce_op_is_torchs_bce_loss_with_its_clamps() -> None:
    """binary_cross_entropy is nn.BCELoss per row: log clamped at -100 forward, p (1 - p)
    clamped at 1e-12 backward, so saturated rows give 100, and 0 or ~1e12 gradients."""
    p = np.array([0.2, 0.7, 1.0, 0.0, 1.0, 1e-13, 1e-13])
    y = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0])
    check(
        [p],
        lambda a: binary_cross_entropy(a, y),
        lambda a: F.binary_cross_entropy(a, torch.tensor(y), reduction="none"),
    )
    out = binary_cross_entropy(Tensor(p), y).data
    assert out[2] == out[3] == 100.0


def test_node_used_twice_accumulates() -> None:
    """x * x uses x twice: d/dx = x + x. Both uses must be added, neither overwritten."""
    x = Tensor(np.array([1.5, -2.0, 3.0]), requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, -4.0, 6.0])
    check([X7], lambda a: a * a + a.exp() * a, lambda a: a * a + a.exp() * a)


def test_z_feeds_both_branches_of_the_loss() -> None:
    """L = mean(softplus(z) - z y): z reaches L through softplus and through z y; its gradient
    is the sum sigmoid(z)/N - y/N = (p - y)/N."""
    z0 = np.array([-3.0, -0.5, 0.0, 0.5, 40.0])
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    z = Tensor(z0.copy(), requires_grad=True)
    L = binary_cross_entropy_with_logits(z, Tensor(y))
    L.backward()
    np.testing.assert_allclose(z.grad, (ref.sigmoid(z0) - y) / 5, rtol=RTOL)
    zt = torch.tensor(z0, requires_grad=True)
    Lt = F.binary_cross_entropy_with_logits(zt, torch.tensor(y))
    Lt.backward()
    assert float(L.data) == pytest.approx(Lt.item(), rel=RTOL)
    np.testing.assert_allclose(z.grad, zt.grad.numpy(), rtol=RTOL)


def test_the_loss_composed_from_primitives_matches_torch() -> None:
    """max(z, 0) - z y + log1p(exp(-|z|)) built op by op (z away from the kink at 0, where
    relu' and sign both take 0, as torch does) agrees with torch's fused loss."""
    z0 = np.array([-1e4, -3.0, -0.5, 0.5, 40.0, 1e4])
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])

    def composed(z):
        return (z.relu() - z * y + (-z.abs()).exp().log1p()).mean()

    check(
        [z0],
        lambda z: composed(z) * 1.0,
        lambda z: F.binary_cross_entropy_with_logits(z, torch.tensor(y)) * 1.0,
    )


def test_leaf_gradients_accumulate_across_backward_calls_like_torch() -> None:
    x = Tensor(np.array([2.0]), requires_grad=True)
    (x * 3.0).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0])


UNBROADCAST = [
    ((4, 3), (3,), lambda g: g.sum(axis=0)),
    ((4, 3), (1, 3), lambda g: g.sum(axis=0, keepdims=True)),
    ((4, 3), (4, 1), lambda g: g.sum(axis=1, keepdims=True)),
    ((4, 3), (), lambda g: g.sum()),
    ((2, 4, 3), (4, 1), lambda g: g.sum(axis=(0, 2))[:, None]),
    ((4, 3), (4, 3), lambda g: g),
]


@pytest.mark.parametrize("g_shape,shape,expected", UNBROADCAST)
def test_unbroadcast_sums_over_copied_axes(g_shape, shape, expected) -> None:
    g = np.arange(np.prod(g_shape), dtype=float).reshape(g_shape)
    out = unbroadcast(g, shape)
    assert out.shape == shape
    np.testing.assert_array_equal(out, expected(g))


def test_topological_order_puts_every_node_after_its_inputs() -> None:
    """A diamond (b and c both read a, d reads both) plus a shared leaf: each node appears
    once, after all of its inputs; backward() walks it in reverse."""
    x = Tensor(np.array([0.5, 1.5]), requires_grad=True, name="x")
    a = (x * 2.0).exp()
    b, c = a * x, a.log1p()
    d = (b + c).sum()
    order = d.topological_order()
    assert len(order) == len(set(order))
    position = {t: i for i, t in enumerate(order)}
    for t in order:
        for parent in t.parents:
            if parent.requires_grad:
                assert position[parent] < position[t], (parent, t)
    assert order[-1] is d and x in position
    # constants (the 2.0) are not in the order: they need no gradient
    assert all(t.requires_grad for t in order)
    check(
        [x.data],
        lambda x: (x * 2.0).exp() * x + (x * 2.0).exp().log1p(),
        lambda x: (x * 2.0).exp() * x + (x * 2.0).exp().log1p(),
    )


def test_backward_needs_a_scalar() -> None:
    with pytest.raises(ValueError, match=r"backward\(\) needs a scalar; got shape \(3,\)"):
        Tensor(np.ones(3), requires_grad=True).backward()


def test_no_graph_without_requires_grad() -> None:
    out = Tensor(np.ones(3)) * 2.0
    assert out.grad_fn is None and out.parents == () and not out.requires_grad


def test_loss_gradient_is_the_analytic_one() -> None:
    """Through the full graph (X @ w + b, the stable loss), w.grad = X^T (p - y) / N and
    b.grad = mean(p - y), against the independent float64 reference."""
    r = np.random.default_rng(3)
    X = r.normal(scale=2.0, size=(30, 4))
    y = (r.random(30) < 0.5).astype(float)
    w = Tensor(r.normal(size=4), requires_grad=True)
    b = Tensor(np.array(0.3), requires_grad=True)
    L = binary_cross_entropy_with_logits(Tensor(X) @ w + b, Tensor(y))
    L.backward()
    gw, gb = ref.gradients(X, y, w.data, float(b.data))
    assert float(L.data) == pytest.approx(ref.loss(X, y, w.data, float(b.data)), rel=1e-13)
    np.testing.assert_allclose(w.grad, gw, rtol=1e-12, atol=1e-15)
    assert float(b.grad) == pytest.approx(gb, rel=1e-12, abs=1e-15)


@given(
    n=st.integers(1, 12),
    d=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
    scale=st.sampled_from([0.1, 1.0, 10.0, 1e3]),
)
def test_loss_gradient_property(n: int, d: int, seed: int, scale: float) -> None:
    """For any batch, backward() through the scratch loss gives the reference gradient."""
    r = np.random.default_rng(seed)
    X = r.normal(scale=scale, size=(n, d))
    y = (r.random(n) < 0.5).astype(float)
    w0, b0 = r.normal(size=d), float(r.normal())
    w, b = Tensor(w0, requires_grad=True), Tensor(np.array(b0), requires_grad=True)
    binary_cross_entropy_with_logits(Tensor(X) @ w + b, Tensor(y)).backward()
    gw, gb = ref.gradients(X, y, w0, b0)
    np.testing.assert_allclose(w.grad, gw, rtol=1e-10, atol=1e-13 * max(1.0, scale))
    assert float(b.grad) == pytest.approx(gb, rel=1e-10, abs=1e-13)


def test_float32_stays_float32_and_huge_logits_are_exact() -> None:
    """Logits of +-1e4 in float32: the loss is 1e4 (finite, exact), the gradient +-1/N, and
    every value and gradient in the graph is float32."""
    X = np.array([[1.0], [-1.0]], np.float32)
    y = Tensor(np.array([0.0, 1.0], np.float32))
    w = Tensor(np.array([1e4], np.float32), requires_grad=True)
    b = Tensor(np.array(0.0, np.float32), requires_grad=True)
    L = binary_cross_entropy_with_logits(Tensor(X) @ w + b, y)
    L.backward()
    assert L.data.dtype == np.float32 and float(L.data) == 1e4
    for t in L.topological_order():
        assert t.data.dtype == np.float32 and t.grad is not None and t.grad.dtype == np.float32
    np.testing.assert_array_equal(w.grad, [1.0])
    assert float(b.grad) == 0.0


def test_scratch_variant_trains_like_numpy() -> None:
    X, y = lv.two_blobs(60)
    a, b = lv.create("scratch", 2, dtype="float64"), lv.create("numpy", 2, dtype="float64")
    for m in (a, b):
        lv.train(m, X, y, epochs=5, batch_size=16)
    np.testing.assert_allclose(a.get_params()[0], b.get_params()[0], rtol=1e-13)
    leaves = a.loss_graph(X[:4], y[:4]).params  # the variant's own leaves, through the model
    assert leaves["w"].grad is None and leaves["b"].grad is None  # reset after every step


def test_scratch_imports_no_torch() -> None:
    code = (
        "import sys, lr_variants as lv, lr_variants.scratch; m = lv.create('scratch', 2);"
        " m.step([[1.0, 2.0]], [1.0]); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_scratch_is_cpu_only() -> None:
    with pytest.raises(ValueError, match=r"device must be 'cpu' for the scratch variant"):
        lv.create("scratch", 2, device="cuda")
