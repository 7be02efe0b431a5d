"""Reverse-mode automatic differentiation written from scratch over NumPy: micrograd, on arrays.

A ``Tensor`` holds ``data`` (an ``np.ndarray``), ``grad`` (``dL/d data``), ``parents``
(what it was computed from), ``op`` (the operation's name), ``saved`` (what the operation keeps
for its backward pass) and ``grad_fn``: the local backward, a closure mapping ``g = dL/d out``
to ``dL/d input = g * d out/d input`` for each input (a vector-Jacobian product). Every
operation below states its local derivative ``d out/d input`` beside its code.

``Tensor.backward`` visits the graph in reverse topological order, so a tensor's ``grad``
holds the sum over *every* use of that tensor before its own ``grad_fn`` runs. Broadcasting is
undone in one place, ``unbroadcast``: an input the forward pass copied along an axis gets
the sum of the gradient over that axis. Results keep the data's dtype (float32 stays float32).
This module imports no torch.

>>> x = Tensor(np.array([1.0, -2.0]), requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
array([ 2., -4.])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

GradFn = Callable[[np.ndarray], tuple[np.ndarray, ...]]
Constant = float | np.ndarray  # lifted to a Tensor of the other operand's dtype


def unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The gradient for an input of ``shape`` that NumPy broadcast to ``g.shape``.

    Broadcasting copies the input along new leading axes and along its axes of length 1; a value
    used k times receives the sum of its k gradients, so ``g`` is summed over those axes.
    """
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
    )
    return np.asarray(g.sum(axis=axes).reshape(shape)) if axes else g


def sigmoid_array(x: np.ndarray) -> np.ndarray:
    """``1/(1 + e)`` for ``x >= 0``, ``e/(1 + e)`` otherwise, ``e = exp(-|x|)``: no overflow."""
    e = np.exp(-np.abs(x))
    out: np.ndarray = np.where(x >= 0, 1, e) / (1 + e)
    return out.astype(x.dtype, copy=False)


class Tensor:
    """A node of the graph: an array, its gradient, and how it was computed.

    A tensor made by the user is a leaf (``grad_fn`` is ``None``); ``requires_grad=True`` asks for
    its gradient. An operation's result requires a gradient when any of its inputs does.
    """

    def __init__(
        self,
        data: Any,
        parents: tuple[Tensor, ...] = (),
        op: str = "",
        grad_fn: GradFn | None = None,
        *,
        saved: dict[str, np.ndarray] | None = None,
        requires_grad: bool = False,
        name: str = "",
    ) -> None:
        self.data: np.ndarray = np.asarray(data)
        self.grad: np.ndarray | None = None
        self.requires_grad: bool = requires_grad or any(p.requires_grad for p in parents)
        # a result nobody will differentiate keeps no graph, as in torch
        self.parents = parents if self.requires_grad else ()
        self.grad_fn = grad_fn if self.requires_grad else None
        self.op = op
        self.saved = saved or {}
        self.name = name

    def _lift(self, other: Tensor | Constant) -> Tensor:
        # a Python number becomes a constant of this tensor's dtype, so float32 stays float32
        return other if isinstance(other, Tensor) else Tensor(np.asarray(other, self.data.dtype))

    # ---- operations: forward value, then the local backward ------------------------------------

    def __add__(self, other: Tensor | Constant) -> Tensor:
        """``a + b`` (broadcasting). ``d/da = 1``, ``d/db = 1``."""
        o = self._lift(other)
        return Tensor(self.data + o.data, (self, o), "add", lambda g: (g, g))

    __radd__ = __add__

    def __neg__(self) -> Tensor:
        """``-a``. ``d/da = -1``."""
        return Tensor(-self.data, (self,), "neg", lambda g: (-g,))

    def __sub__(self, other: Tensor | Constant) -> Tensor:
        """``a - b`` (broadcasting). ``d/da = 1``, ``d/db = -1``."""
        o = self._lift(other)
        return Tensor(self.data - o.data, (self, o), "sub", lambda g: (g, -g))

    def __mul__(self, other: Tensor | Constant) -> Tensor:
        """``a * b`` (broadcasting). ``d/da = b``, ``d/db = a``: both inputs are saved."""
        o = self._lift(other)
        a, b = self.data, o.data
        return Tensor(
            a * b, (self, o), "mul", lambda g: (g * b, g * a), saved={"self": a, "other": b}
        )

    __rmul__ = __mul__

    def __matmul__(self, other: Tensor) -> Tensor:
        """``A @ v`` for ``A`` of shape ``(N, D)`` and ``v`` of shape ``(D,)`` or ``(D, K)``.

        ``dL/dA = g v^T`` (the outer product ``g v^T`` for a vector ``v``), ``dL/dv = A^T g``.
        """
        A, v = self.data, other.data

        def grad_fn(g: np.ndarray) -> tuple[np.ndarray, ...]:
            return (np.outer(g, v) if v.ndim == 1 else g @ v.T), A.T @ g

        return Tensor(A @ v, (self, other), "matmul", grad_fn, saved={"self": A, "other": v})

    def exp(self) -> Tensor:
        """``exp(a)``. ``d/da = exp(a)``: the output is saved."""
        out = np.exp(self.data)
        return Tensor(out, (self,), "exp", lambda g: (g * out,), saved={"result": out})

    def log(self) -> Tensor:
        """``log(a)``. ``d/da = 1/a``."""
        a = self.data
        return Tensor(np.log(a), (self,), "log", lambda g: (g / a,), saved={"self": a})

    def log1p(self) -> Tensor:
        """``log(1 + a)``, exact for tiny ``a``. ``d/da = 1/(1 + a)``."""
        a = self.data
        return Tensor(np.log1p(a), (self,), "log1p", lambda g: (g / (1 + a),), saved={"self": a})

    def abs(self) -> Tensor:
        """``|a|``. ``d/da = sign(a)`` (0 at 0, as torch)."""
        a = self.data
        return Tensor(np.abs(a), (self,), "abs", lambda g: (g * np.sign(a),), saved={"self": a})

    def relu(self) -> Tensor:
        """``max(a, 0)``. ``d/da = 1 where a > 0, else 0`` (0 at 0, as torch)."""
        out = np.maximum(self.data, 0)
        return Tensor(out, (self,), "relu", lambda g: (g * (out > 0),), saved={"result": out})

    def sigmoid(self) -> Tensor:
        """``p = 1/(1 + exp(-a))``, overflow-free. ``dp/da = p (1 - p)``: only ``p`` is saved."""
        p = sigmoid_array(self.data)
        return Tensor(p, (self,), "sigmoid", lambda g: (g * p * (1 - p),), saved={"result": p})

    def softplus(self) -> Tensor:
        """``log(1 + exp(a)) = max(a, 0) + log1p(exp(-|a|))``, finite for any ``a``.

        ``d/da = exp(a)/(1 + exp(a)) = sigmoid(a)``, computed overflow-free from the saved input.
        """
        a = self.data
        out = np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))
        return Tensor(
            out, (self,), "softplus", lambda g: (g * sigmoid_array(a),), saved={"self": a}
        )

    def sum(self) -> Tensor:
        """``sum(a)``. ``d/da_i = 1``: the scalar ``g`` is copied to every entry."""
        shape = self.data.shape
        return Tensor(self.data.sum(), (self,), "sum", lambda g: (np.broadcast_to(g, shape),))

    def mean(self) -> Tensor:
        """``mean(a)`` over ``n`` entries. ``d/da_i = 1/n``."""
        shape, n = self.data.shape, self.data.size
        return Tensor(self.data.mean(), (self,), "mean", lambda g: (np.broadcast_to(g / n, shape),))

    # ---- reverse mode ---------------------------------------------------------------------------

    def topological_order(self) -> list[Tensor]:
        """Every tensor this one depends on that requires a gradient, each after all its inputs.

        A depth-first post-order (as micrograd): a tensor is appended only once all its inputs
        are. Read backwards, every tensor comes before its inputs, so when ``backward``
        reaches a tensor, all of its consumers have already added their share to its ``grad``.
        """
        order: list[Tensor] = []
        seen: set[Tensor] = set()

        def visit(t: Tensor) -> None:
            if t in seen or not t.requires_grad:
                return
            seen.add(t)
            for parent in t.parents:
                visit(parent)
            order.append(t)

        visit(self)
        return order

    def backward(self, hook: Callable[[Tensor, list[np.ndarray]], None] | None = None) -> None:
        """``dL/dt`` for every tensor ``t`` that ``L`` (this scalar) depends on, into ``t.grad``.

        Starts from ``dL/dL = 1``. Like torch, a leaf's ``grad`` accumulates over calls: reset it
        (``t.grad = None``) between steps. ``hook(node, grads)``, if given, sees the gradients
        each node sends to its inputs (after ``unbroadcast``), in the order they are made.
        """
        if self.data.size != 1:
            raise ValueError(f"backward() needs a scalar; got shape {self.data.shape}")
        self.grad = np.ones_like(self.data)
        for node in reversed(self.topological_order()):
            if node.grad_fn is None or node.grad is None:  # a leaf: nothing to pass on
                continue
            local = node.grad_fn(node.grad)
            grads = [unbroadcast(g, p.data.shape) for p, g in zip(node.parents, local, strict=True)]
            if hook is not None:
                hook(node, grads)
            for parent, g in zip(node.parents, grads, strict=True):
                if parent.requires_grad:  # a second use adds to the first: d(x*x)/dx = x + x
                    parent.grad = np.array(g) if parent.grad is None else parent.grad + g


def binary_cross_entropy_with_logits(z: Tensor, y: Tensor, u: np.ndarray | None = None) -> Tensor:
    """``L = mean(l)``, ``l = softplus(z) - z y = max(z, 0) - z y + log1p(exp(-|z|))``; with
    weights ``u`` summing to 1, ``L = sum(u l)``.

    ``z`` is used twice, so ``dL/dz = (sigmoid(z) - y)/N`` arrives as two terms that
    ``Tensor.backward`` adds: ``sigmoid(z)/N`` through softplus and ``-y/N`` through ``z y``.
    """
    softplus, zy = z.softplus(), z * y
    softplus.name, zy.name = "softplus(z)", "z y"  # names read by lr_variants.explain
    losses = softplus - zy
    losses.name = "l"
    L = losses.mean() if u is None else (losses * u).sum()
    L.name = "L"
    return L


# torch's BCELoss backward clamps p (1 - p) at its EPSILON, a float32 constant: 1e-12 rounded
_BCE_EPS = float(np.float32(1e-12))


def binary_cross_entropy(p: Tensor, y: np.ndarray) -> Tensor:
    """The per-row loss of ``torch.nn.BCELoss`` on probabilities, with its clamps and its backward.

    ``l = -(y max(log p, -100) + (1 - y) max(log(1 - p), -100))``;
    ``dl/dp = (p - y) / max(p (1 - p), 1e-12)``, which is 0 or about ``1e12`` once ``p``
    has rounded to exactly 0 or 1, where the true ``dl/dp`` is finite and nonzero.
    """
    a = p.data
    with np.errstate(divide="ignore"):  # log(0) = -inf is then clamped, as torch does
        out = -(y * np.maximum(np.log(a), -100) + (1 - y) * np.maximum(np.log1p(-a), -100))

    def grad_fn(g: np.ndarray) -> tuple[np.ndarray, ...]:
        return (g * (a - y) / np.maximum(a * (1 - a), _BCE_EPS),)

    return Tensor(out, (p,), "bce", grad_fn, saved={"self": a, "target": y})
