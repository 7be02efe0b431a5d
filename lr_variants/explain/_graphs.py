"""Reading one loss evaluation's backward graph, torch's or the scratch engine's, node by node.

Both readers go through the public [`Model`][lr_variants._model.Model] API only:
``model.loss_graph`` (the variant's own graph, [`LossGraph`][lr_variants.protocol.LossGraph]) and
``model.prepare`` (the data as the variant's arrays). For every node they record its operation, the
forward quantity it computed (``"L"``, ``"z"``, ``"w"``, ...), what it saved for the backward pass,
the gradient it received and the gradient it sent to each input while ``backward()`` ran.

Torch's graph is read through public hooks: ``grad_fn.next_functions`` for its shape,
``Node.register_prehook`` / ``Node.register_hook`` for the gradients, and
``torch.autograd.graph.saved_tensors_hooks`` for the saved tensors: its pack hook sees every
tensor autograd saves during the forward pass, its unpack hook which node reads each one back
during ``backward()``. Torch's names for the slots (``self``, ``target``, ``mat1``) and the
non-tensor values a node keeps (``reduction``, ``alpha``, sizes) have no public accessor: they
are read in one place, ``_torch_slots``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from lr_variants._model import Model
from lr_variants._validate import F64
from lr_variants.explain._render import summary
from lr_variants.scratch import Tensor, binary_cross_entropy

if TYPE_CHECKING:
    import torch

# What each operation keeps for its backward pass, and why (keyed by the name without digits).
WHY = {
    "BinaryCrossEntropyWithLogitsBackward": "z and y: it sends (sigmoid(z) - y) g / N, computed "
    "from z, never from a rounded p",
    "BinaryCrossEntropyBackward": "p and y: it sends g (p - y) / max(p (1 - p), 1e-12) / N, "
    "which is 0 or ~1e12/N once p has rounded to 1",
    "SigmoidBackward": "its output p only: dp/dz = p (1 - p)",
    "AddBackward": "only alpha: d(a + alpha b) = (g, alpha g), no tensor needed; the engine sums "
    "the copies of a broadcast input",
    "MvBackward": "X (for dL/dw = X^T g); w is not saved because X needs no gradient",
    "AddmvBackward": "X (mat) for dL/dw = X^T g; w (vec) is not saved because X needs no "
    "gradient; b gets g summed over the rows it was broadcast to",
    "AddmmBackward": "X (mat1) for dL/dW^T = X^T g, and the shapes; W^T (mat2) is not saved "
    "because X needs no gradient",
    "SqueezeBackward": "the squeezed dim and the input's sizes, to reshape g back to (N, 1)",
    "TBackward": "nothing: the gradient of a transpose is the transposed gradient",
    "AccumulateGrad": "nothing: it adds the gradient it receives into the leaf's .grad",
    "matmul": "both inputs: dL/dA = g v^T needs v, dL/dv = A^T g needs A",
    "add": "nothing: (g, g), with broadcast copies summed by unbroadcast",
    "sub": "nothing: (g, -g)",
    "mul": "both inputs: d(a b) = (g b, g a)",
    "softplus": "its input z: d softplus(z)/dz = sigmoid(z), computed overflow-free",
    "sigmoid": "its output p only: dp/dz = p (1 - p)",
    "bce": "p and y: as torch's BCELoss, g (p - y) / max(p (1 - p), 1e-12)",
    "mean": "the count n: dL/da_i = g / n",
    "sum": "the shape: dL/da_i = g",
    "leaf": "a parameter: backward() adds what it receives into .grad",
}
# nodes whose output holds the same numbers as their one input, rearranged
_VIEWS = (
    "TBackward",
    "SqueezeBackward",
    "UnsqueezeBackward",
    "ViewBackward",
    "ReshapeAliasBackward",
    "PermuteBackward",
    "TransposeBackward",
)


@dataclass
class RawNode:
    """A node as read from a graph, before checking: children are ``(index, name, grad)``, with
    ``index`` ``None`` for a constant input (then ``name`` says which: ``"X"``, ``"y"``)."""

    op: str
    produces: str | None
    saved: dict[str, str]
    grad_in: Any
    children: list[tuple[int | None, str, Any]]
    arguments: dict[str, str] = field(default_factory=dict)


def topological(root: Any, children: Callable[[Any], list[Any]]) -> list[Any]:
    """Root first, every node before all of its inputs: a reversed depth-first post-order.

    Children are visited last-to-first so that, on a tree, the order is the plain pre-order.
    """
    post: list[Any] = []
    seen: set[Any] = set()

    def visit(n: Any) -> None:
        if n in seen:
            return
        seen.add(n)
        for c in reversed(children(n)):
            visit(c)
        post.append(n)

    visit(root)
    return post[::-1]


# ---- the scratch engine ------------------------------------------------------------------------


def scratch_graph(model: Model, X: F64, y: F64, loss: str) -> tuple[list[RawNode], float]:
    """The scratch variant's graph of ``loss`` on ``(X, y)``, read and run backward once."""
    # the variant's own forward pass, whose tensors are named ("z", "softplus(z)", "l", ...)
    graph = model.loss_graph(X, y)
    _, ya = model.prepare(X, y)
    if loss == "stable":
        L = graph.loss
    else:  # the article's loss on the variant's own z, mirroring torch's BCELoss
        p = _named(graph.logits.sigmoid(), "p")
        L = _named(_named(binary_cross_entropy(p, ya), "l").mean(), "L")
    order = topological(L, lambda t: [p for p in t.parents if p.requires_grad])
    index = {t: i for i, t in enumerate(order)}
    sent: dict[Tensor, list[np.ndarray]] = {}
    L.backward(hook=lambda node, grads: sent.__setitem__(node, grads))
    known = {id(t.data): t.name for n in order for t in (n, *n.parents) if t.name}
    known[id(ya)] = "y"
    raws = []
    for t in order:
        saved = {k: summary(v, known.get(id(v))) for k, v in t.saved.items()}
        kids: list[tuple[int | None, str, Any]] = [
            (index[p], p.name or "?", sent[t][k])
            if p.requires_grad
            else (None, p.name or "?", None)
            for k, p in enumerate(t.parents)
        ]
        raws.append(RawNode(t.op or "leaf", t.name or None, saved, t.grad, kids))
    return raws, float(L.data)


def _named(t: Tensor, name: str) -> Tensor:
    t.name = name
    return t


# ---- torch ---------------------------------------------------------------------------------------


def torch_graph(model: Model, X: F64, y: F64, loss: str) -> tuple[list[RawNode], float]:
    """A torch variant's graph of ``loss`` on ``(X, y)``, read and run backward once."""
    import torch
    import torch.nn.functional as F

    Xa, ya = model.prepare(X, y)
    saved = _SavedTensors()
    with torch.autograd.graph.saved_tensors_hooks(saved.pack, saved.unpack):
        # the variant's own graph (the module variant was made with this loss)
        graph = model.loss_graph(X, y)
        L = graph.loss
        if model.name == "autograd" and loss == "sigmoid_bce":
            # the article's loss on the variant's own z
            L = F.binary_cross_entropy(torch.sigmoid(graph.logits), ya)
    # a torch.autograd.graph.Node, typed Any: its hooks' signatures are not in torch's stubs
    root: Any = L.grad_fn
    order = topological(root, lambda n: [m for m, _ in n.next_functions if m is not None])
    index = {n: i for i, n in enumerate(order)}
    produces = _produces(root, order, graph.params, loss)
    # what the saved tensors are: computed ones by their grad_fn, then parameters and data
    roles = saved.roles(produces, {**graph.params, "X": Xa, "y": ya})
    # saved tensors are freed by backward(): read the slots first
    slots = {n: _torch_slots(n) for n in order}
    received: dict[Any, Any] = {}
    sent: dict[Any, Any] = {}

    def hooks(n: Any) -> list[Any]:
        def before(grad_outputs: Any) -> None:
            saved.running = n

        def after(grad_inputs: Any, grad_outputs: Any) -> None:
            sent[n], received[n], saved.running = grad_inputs, grad_outputs[0], None

        return [n.register_prehook(before), n.register_hook(after)]

    handles = [h for n in order for h in hooks(n)]
    try:
        L.backward()
    finally:
        for h in handles:
            h.remove()
    raws = []
    for n in order:
        tensors, arguments = saved.of(n, slots[n], roles)
        # a constant input has no node: when there is one, it is the one constant the node saved
        constants = {r for r in saved.roles_of(n, roles) if r in ("X", "y")}
        inputs = sum(m is None for m, _ in n.next_functions)
        constant = constants.pop() if len(constants) == 1 and inputs == 1 else "X or y"
        kids: list[tuple[int | None, str, Any]] = [
            (None, constant, None) if m is None else (index[m], produces.get(m, "?"), _np(g))
            for (m, _), g in zip(n.next_functions, sent[n], strict=True)
        ]
        raws.append(
            RawNode(type(n).__name__, produces.get(n), tensors, _np(received[n]), kids, arguments)
        )
    return raws, float(L.detach())


class _SavedTensors:
    """``saved_tensors_hooks``' pack and unpack: every tensor autograd saves, and which node
    reads each back during ``backward()`` (``running``, set by that node's pre-hook)."""

    def __init__(self) -> None:
        self.tensors: list[torch.Tensor] = []
        self.running: Any = None
        self.unpacked: dict[Any, list[int]] = {}

    def pack(self, t: torch.Tensor) -> int:
        self.tensors.append(t)
        return len(self.tensors) - 1

    def unpack(self, i: int) -> torch.Tensor:
        if self.running is not None and i not in self.unpacked.setdefault(self.running, []):
            self.unpacked[self.running].append(i)
        return self.tensors[i]

    def roles(self, produces: dict[Any, str], known: dict[str, torch.Tensor]) -> dict[int, str]:
        """What each saved tensor is: the quantity its ``grad_fn`` computed (``z``, ``p``), or
        the known tensor it is (a parameter by storage, ``X`` or ``y`` by value)."""
        import torch

        def same(t: torch.Tensor, k: torch.Tensor) -> bool:
            if t.shape != k.shape or t.dtype != k.dtype:
                return False
            # a parameter is the very tensor; the data, converted again, has the same values
            return t.data_ptr() == k.data_ptr() or (not k.requires_grad and torch.equal(t, k))

        out = {}
        for i, t in enumerate(self.tensors):
            role = produces.get(t.grad_fn) or next(
                (r for r, k in known.items() if same(t, k)), None
            )
            if role is not None:
                out[i] = role
        return out

    def roles_of(self, node: Any, roles: dict[int, str]) -> list[str]:
        return [roles[i] for i in self.unpacked.get(node, []) if i in roles]

    def of(
        self, node: Any, slots: dict[str, Any], roles: dict[int, str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """``node``'s saved tensors by slot name, summarized, and its non-tensor values.

        The tensors are those ``node`` unpacked in ``backward()``; a slot read by
        ``_torch_slots`` gives the name of the tensor sharing its storage and shape.
        """
        import torch

        tensor_slots = {k: v for k, v in slots.items() if isinstance(v, torch.Tensor)}
        names = {(v.data_ptr(), v.shape): k for k, v in tensor_slots.items()}
        tensors = {k: "None" for k, v in slots.items() if v is None}
        for j, i in enumerate(self.unpacked.get(node, [])):
            t = self.tensors[i]
            name = names.get((t.data_ptr(), t.shape), f"tensor {j}")
            tensors[name] = summary(_np(t), roles.get(i), str(t.dtype).removeprefix("torch."))
        for k, v in tensor_slots.items():  # saved, but not read back by backward()
            tensors.setdefault(k, summary(_np(v), None, str(v.dtype).removeprefix("torch.")))
        arguments = {
            k: _argument(v) for k, v in slots.items() if v is not None and k not in tensor_slots
        }
        return dict(sorted(tensors.items())), arguments


def _torch_slots(node: Any) -> dict[str, Any]:
    """Torch's names for what ``node`` saved, with the values (tensors, ``None``, numbers, sizes).

    The one read of torch internals here: each node exposes a saved value only as a generated
    ``_saved_<slot>`` property (``_saved_self``, ``_saved_mat1``, ``_saved_reduction``), absent
    from torch's documentation and stubs. ``saved_tensors_hooks`` sees the tensors but neither
    their slot nor the non-tensor values, and torch offers no public equivalent. Without these
    properties (another torch version), tensors are named ``tensor 0``, ``tensor 1``, ... and no
    non-tensor value is shown.
    """
    prefix = "_saved_"
    return {a[len(prefix) :]: getattr(node, a) for a in sorted(dir(node)) if a.startswith(prefix)}


def _argument(value: Any) -> str:
    if isinstance(value, int) and value >= 2**63:  # -1 stored as an unsigned 64-bit int
        return f"{value - 2**64}"
    return repr(value)


def _produces(root: Any, order: list[Any], params: dict[str, Any], loss: str) -> dict[Any, str]:
    """The quantity each node computed, where it is known: ``L`` at the root, whose first input
    is ``z`` (stable) or ``p = sigmoid(z)``; the leaves ``w`` and ``b``; and through views."""
    first: Any = root.next_functions[0][0]
    produces: dict[Any, str] = {root: "L", first: "z" if loss == "stable" else "p"}
    if loss == "sigmoid_bce":
        produces[first.next_functions[0][0]] = "z"
    for n in order:
        leaf = getattr(n, "variable", None)  # AccumulateGrad holds its leaf (public)
        for name, param in params.items():
            if param is leaf:
                produces[n] = name
    _through_views(order, produces)
    return produces


def _through_views(order: list[Any], produces: dict[Any, str]) -> None:
    """A view (transpose, squeeze, ...) holds the same numbers as its input: name it after its
    input, or its input after it, until nothing changes."""
    changed = True
    while changed:
        changed = False
        for n in order:
            kids = [m for m, _ in n.next_functions if m is not None]
            if not type(n).__name__.startswith(_VIEWS) or len(kids) != 1:
                continue
            a, b = produces.get(n), produces.get(kids[0])
            if a is not None and b is None:
                produces[kids[0]] = a
                changed = True
            elif b is not None and a is None:
                produces[n] = b
                changed = True


def _np(t: Any) -> F64 | None:
    if t is None:
        return None
    out: F64 = t.detach().to("cpu").double().numpy().copy()
    return out
