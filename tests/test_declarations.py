"""What a variant can do is declared where it is registered (lr_variants.Capabilities) and read
from there: the built-ins' declarations, a plug-in's (keywords, capabilities=, the factory's
attribute, from_gradient), create() refusing what a variant declares unsupported, train() and
Model.loss_graph going by the declaration and never by what an object happens to have, and no
code in the package deciding from a variant's class, module name or attributes."""

from __future__ import annotations

import ast
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import pytest

import lr_variants as lv
from lr_variants import registry
from lr_variants.declarations import Capabilities
from lr_variants.textbook.numpy import NumpyLogisticRegression

PACKAGE = Path(__file__).resolve().parents[1] / "lr_variants"


@pytest.fixture(autouse=True)
def _fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_REGISTERED", {})


def test_built_in_declarations() -> None:
    caps = {name: lv.capabilities(name) for name in lv.VARIANTS}
    assert [n for n, c in caps.items() if c.whole_epoch] == ["numba"]
    assert [n for n, c in caps.items() if c.in_place_epochs] == ["numba"]
    assert [n for n, c in caps.items() if c.loss_graph] == ["autograd", "module", "scratch"]
    assert [n for n, c in caps.items() if c.data_parallel == "ddp"] == ["module"]
    assert [n for n, c in caps.items() if c.owns_optimizer] == ["module"]
    assert all(c.linear_in_u and not c.unsupported for c in caps.values())
    cpu_only = [n for n, c in caps.items() if c.devices == ("cpu",)]
    assert cpu_only == ["numpy", "scratch", "numba"]
    assert dict(caps["module"].options) == {
        "loss": ("stable", "sigmoid_bce"),
        "sgd_impl": ("for-loop", "foreach", "fused"),
    }
    assert registry.spec("numba").capabilities is caps["numba"]
    assert lv.create("numba", 2).capabilities is caps["numba"]


def test_the_default_is_the_conservative_reading() -> None:
    c = Capabilities()
    assert (c.whole_epoch, c.in_place_epochs) == (False, False)
    assert (c.whole_epoch, c.data_parallel, c.owns_optimizer, c.linear_in_u, c.loss_graph) == (
        False,
        "gradients",
        False,
        False,
        False,
    )
    assert c.devices == ("cpu",) and dict(c.options) == {} and c.unsupported == frozenset()


@pytest.mark.parametrize(
    "fields, error, match",
    [
        ({"whole_epoch": 1}, TypeError, r"whole_epoch must be a bool; got 1"),
        ({"linear_in_u": "yes"}, TypeError, r"linear_in_u must be a bool"),
        (
            {"data_parallel": "sharded"},
            ValueError,
            r"data_parallel must be one of \('gradients', 'ddp'\); got 'sharded'",
        ),
        ({"data_parallel": "ddp"}, ValueError, r"data_parallel='ddp' needs owns_optimizer=True"),
        ({"devices": "cpu"}, TypeError, r"devices must be a tuple such as \('cpu',\); got 'cpu'"),
        (
            {"devices": ("tpu",)},
            ValueError,
            r"devices must be drawn from \('cpu', 'cuda'\); got \('tpu',\)",
        ),
        ({"devices": ()}, ValueError, r"devices must be drawn from"),
        ({"options": ["loss"]}, TypeError, r"options must be a mapping"),
        (
            {"options": {"penalty": ("l2",)}},
            ValueError,
            r"options must name options among \('loss', 'sgd_impl'\); got 'penalty'",
        ),
        (
            {"options": {"loss": "stable"}},
            TypeError,
            r"options\['loss'\] must be a tuple of values",
        ),
        ({"options": {"loss": ("sigmoid_bce",)}}, ValueError, r"including the default 'stable'"),
        (
            {"options": {"loss": ("stable", "mse")}},
            ValueError,
            r"options\['loss'\] must be values from",
        ),
        (
            {"unsupported": "dampening"},
            TypeError,
            r"unsupported must be a set of create\(\) options",
        ),
        ({"unsupported": {"lr"}}, ValueError, r"unsupported must name options among .*; got 'lr'"),
    ],
)
def test_bad_declarations(fields: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        Capabilities(**fields)


def test_a_declaration_is_frozen() -> None:
    c = Capabilities(options={"loss": ["stable"]}, unsupported=["maximize"])
    with pytest.raises(AttributeError):
        c.whole_epoch = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        c.options["loss"] = ("stable", "sigmoid_bce")  # type: ignore[index]
    assert c.options["loss"] == ("stable",) and c.unsupported == frozenset({"maximize"})


@pytest.mark.parametrize(
    "option, value, default",
    [
        ("momentum", 0.9, 0.0),
        ("dampening", 0.5, 0.0),
        ("nesterov", True, False),
        ("weight_decay", 0.01, 0.0),
        ("maximize", True, False),
        ("decay_bias", True, False),
    ],
)
def test_create_refuses_an_option_declared_unsupported(
    option: str, value: Any, default: Any
) -> None:
    """A plug-in whose optimizer lacks an option declares it; create() then refuses any value
    but the default, naming the option, the variant and why, and accepts the default."""
    lv.register_variant("partial", NumpyLogisticRegression, unsupported={option})
    assert lv.capabilities("partial").unsupported == frozenset({option})
    extra = {"momentum": 0.9} if option == "nesterov" else {}  # nesterov needs momentum
    with pytest.raises(
        ValueError,
        match=rf"^{option} must be {default!r} for the partial variant \(declared unsupported\); got {value!r}$",
    ):
        lv.create("partial", 2, **{**extra, option: value})
    lv.create("partial", 2, **{**extra, option: default})


def test_create_reads_the_declared_options() -> None:
    """The extra options a variant accepts, and their values, are its declaration's."""
    made: list[dict[str, Any]] = []

    def factory(w: Any, b: float, **options: Any) -> Any:
        made.append(options)
        return NumpyLogisticRegression(w, b, sgd=options["sgd"], dtype=options["dtype"])

    lv.register_variant("with_loss", factory, options={"loss": ("stable", "sigmoid_bce")})
    lv.create("with_loss", 2, loss="sigmoid_bce")
    assert made[-1]["loss"] == "sigmoid_bce" and "sgd_impl" not in made[-1]
    with pytest.raises(ValueError, match=r"sgd_impl must be 'for-loop' for the with_loss variant"):
        lv.create("with_loss", 2, sgd_impl="fused")
    with pytest.raises(ValueError, match=r"loss must be 'stable' for the numpy variant"):
        lv.create("numpy", 2, loss="sigmoid_bce")
    with pytest.raises(ValueError, match=r"device must be 'cpu' for the with_loss variant"):
        lv.create("with_loss", 2, device="cuda")


def test_the_ways_to_declare() -> None:
    caps = Capabilities(linear_in_u=True, devices=("cpu",))
    assert (
        lv.capabilities(lv.register_variant("a", NumpyLogisticRegression, capabilities=caps))
        is caps
    )
    lv.register_variant("b", NumpyLogisticRegression, linear_in_u=True)
    assert lv.capabilities("b") == caps
    lv.register_variant("c", NumpyLogisticRegression, devices=("cpu",))  # the older keyword
    assert lv.capabilities("c") == Capabilities()

    def factory(w: Any, b: float, **options: Any) -> Any:
        return NumpyLogisticRegression(w, b, sgd=options["sgd"], dtype=options["dtype"])

    factory.lr_variants_capabilities = {"linear_in_u": True}  # type: ignore[attr-defined]
    assert lv.capabilities(lv.register_variant("d", factory)) == caps
    factory.lr_variants_capabilities = caps  # type: ignore[attr-defined]
    assert lv.capabilities(lv.register_variant("e", factory)) is caps
    assert lv.capabilities(lv.register_variant("f", factory, loss_graph=False)) == Capabilities()


@pytest.mark.parametrize(
    "kwargs, attribute, error, match",
    [
        ({"capabilities": Capabilities(), "linear_in_u": True}, None, TypeError, r"not both"),
        ({"epochs": True}, None, TypeError, r"unknown declaration 'epochs'; the declarations are"),
        (
            {"capabilities": {"linear_in_u": True}},
            None,
            TypeError,
            r"capabilities must be a lr_variants.Capabilities",
        ),
        (
            {},
            3,
            TypeError,
            r"lr_variants_capabilities must be a lr_variants.Capabilities or a dict",
        ),
        (
            {},
            {"epochs": 1},
            TypeError,
            r"lr_variants_capabilities must hold fields of Capabilities",
        ),
        ({"devices": ("gpu",)}, None, ValueError, r"devices must be drawn from"),
    ],
)
def test_bad_registrations_register_nothing(
    kwargs: Any, attribute: Any, error: type, match: str
) -> None:
    def factory(w: Any, b: float, **options: Any) -> Any:
        raise AssertionError("never called")

    if attribute is not None:
        factory.lr_variants_capabilities = attribute  # type: ignore[attr-defined]
    with pytest.raises(error, match=match):
        lv.register_variant("bad", factory, **kwargs)
    assert "bad" not in lv.variants()


def test_an_entry_points_declaration_is_its_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed package's factory carries its declaration (the example package's does);
    one that carries a bad one is reported when its name is asked for."""
    import sys

    sys.path.insert(0, str(PACKAGE.parent / "examples" / "lr_variants_example"))
    try:
        from lr_variants_example.full import ExampleVariant
    finally:
        sys.path.pop(0)

    class Broken:
        lr_variants_capabilities = MappingProxyType({"devices": ("tpu",)})

    class EntryPoint:
        def __init__(self, name: str, obj: Any) -> None:
            self.name, self.value, self.obj = name, f"pkg:{name}", obj

        def load(self) -> Any:
            return self.obj

    points = [EntryPoint("ep_full", ExampleVariant), EntryPoint("ep_broken", Broken)]
    monkeypatch.setattr(registry, "entry_points", lambda group: points)
    monkeypatch.setattr(registry, "_entry_points", None)
    monkeypatch.setattr(registry, "_BROKEN", {})
    assert lv.capabilities("ep_full") == Capabilities(linear_in_u=True)
    with pytest.raises(
        ValueError,
        match=r"variant 'ep_broken' is installed but failed to load: .*devices must be drawn",
    ):
        lv.capabilities("ep_broken")


def _grad(w: Any, b: Any, X: Any, y: Any, u: Any) -> tuple[Any, Any, Any]:
    u = np.full(len(y), 1.0 / len(y)) if u is None else u
    z = X @ w + b
    p = 1 / (1 + np.exp(-z))
    return u @ (np.logaddexp(0, z) - y * z), X.T @ (u * (p - y)), u @ (p - y)


def test_from_gradient_declares_what_a_gradient_function_can() -> None:
    assert lv.capabilities(lv.from_gradient(_grad, "g")) == Capabilities()
    lv.from_gradient(_grad, "g_linear", linear_in_u=True, unsupported={"maximize"})
    assert lv.capabilities("g_linear") == Capabilities(linear_in_u=True, unsupported={"maximize"})

    def carried(w: Any, b: Any, X: Any, y: Any, u: Any) -> tuple[Any, Any, Any]:
        return _grad(w, b, X, y, u)

    carried.lr_variants_capabilities = Capabilities(linear_in_u=True)  # type: ignore[attr-defined]
    assert lv.capabilities(lv.from_gradient(carried, "g_carried")).linear_in_u
    carried.lr_variants_capabilities = Capabilities(whole_epoch=True)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match=r"a gradient function may declare only"):
        lv.from_gradient(carried, "g_epoch")
    assert "g_epoch" not in lv.variants()


class _Epochs(NumpyLogisticRegression):
    """The numpy recipe with train_epoch and train_epochs that count their calls (a test
    double)."""

    calls: ClassVar[dict[str, int]] = {}

    def train_epoch(self, X: Any, y: Any, u: Any, slices: list[slice]) -> Any:
        type(self).calls["train_epoch"] += 1
        return np.array([self.step(X[s], y[s]) for s in slices], dtype=np.float64)

    def train_epochs(self, X: Any, y: Any, u: Any, slices: list[slice], orders: Any) -> Any:
        type(self).calls["train_epochs"] += 1
        return np.array(
            [[self.step(X[rows[s]], y[rows[s]]) for s in slices] for rows in orders],
            dtype=np.float64,
        )


@pytest.mark.parametrize(
    ("declared", "calls", "with_callback"),
    [
        ({}, (0, 0), (0, 0)),
        ({"whole_epoch": True}, (3, 0), (3, 0)),  # train_epoch: one call per epoch
        ({"in_place_epochs": True}, (0, 1), (0, 3)),  # train_epochs: all 3 epochs in one call
        ({"whole_epoch": True, "in_place_epochs": True}, (0, 1), (0, 3)),  # the latter wins
    ],
)
def test_train_runs_whole_epochs_only_where_declared(
    declared: dict[str, bool], calls: tuple[int, int], with_callback: tuple[int, int]
) -> None:
    """train_epoch / train_epochs are called as declared (train_epochs once for these 3
    epochs, or once per epoch when a callback must see each), never when merely there; the
    trajectory is the numpy recipe's, bit for bit, whichever runs."""
    X, y = lv.two_blobs()
    lv.register_variant("epochs", _Epochs, **declared)
    reference = lv.create("numpy", 2, dtype="float64")
    expected = lv.train(reference, X, y, epochs=3)
    for callback, want in ((None, calls), (lambda e, l: None, with_callback)):
        _Epochs.calls = {"train_epoch": 0, "train_epochs": 0}
        model = lv.create("epochs", 2, dtype="float64")
        history = lv.train(model, X, y, epochs=3, callback=callback)
        assert (_Epochs.calls["train_epoch"], _Epochs.calls["train_epochs"]) == want
        np.testing.assert_array_equal(history.batch_loss, expected.batch_loss)
        np.testing.assert_array_equal(model.get_params()[0], reference.get_params()[0])


def test_loss_graph_is_read_from_the_declaration() -> None:
    X, y = lv.two_blobs(10)
    assert lv.create("scratch", 2).loss_graph(X, y).loss is not None
    with pytest.raises(TypeError, match=r"the numpy variant records no graph"):
        lv.create("numpy", 2).loss_graph(X, y)
    # a plug-in built on a graph variant but not declaring it: no graph is read
    from lr_variants.textbook.scratch import ScratchLogisticRegression

    lv.register_variant("undeclared_graph", ScratchLogisticRegression)
    with pytest.raises(TypeError, match=r"the undeclared_graph variant records no graph"):
        lv.create("undeclared_graph", 2).loss_graph(X, y)
    lv.register_variant("declared_graph", ScratchLogisticRegression, loss_graph=True)
    assert lv.create("declared_graph", 2).loss_graph(X, y).loss is not None


# ---------------------------------------------------------------------------- no guessing

PROTOCOLS = {"Variant", "EpochVariant", "GraphVariant", "ModuleVariant"}


def _guesses(path: Path) -> list[str]:
    """The places in ``path`` that decide from a class, a module name or an attribute's
    presence: ``runtime_checkable``, ``isinstance`` against a protocol or a variant class,
    ``__module__``, ``__getattr__`` forwarding outside the package root."""
    found = []
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        where = f"{path.relative_to(PACKAGE.parent)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Name | ast.Attribute):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name == "runtime_checkable":
                found.append(f"{where} runtime_checkable")
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "isinstance":
            kinds = ast.unparse(node.args[1])
            if any(p in kinds for p in PROTOCOLS) or "LogisticRegression" in kinds:
                found.append(f"{where} isinstance(..., {kinds})")
        # reading a class's module is a guess; setting one (a public name in tracebacks) is not
        if isinstance(node, ast.Attribute) and node.attr == "__module__":
            if isinstance(node.ctx, ast.Load):
                found.append(f"{where} __module__")
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            if path != PACKAGE / "__init__.py":  # the root's lazy lv.explain
                found.append(f"{where} __getattr__")
    return found


def test_no_code_decides_from_a_variants_class_or_module() -> None:
    found = [g for p in sorted(PACKAGE.rglob("*.py")) for g in _guesses(p)]
    # _validate tells torch tensors from other input data by their module: about data, not
    # about a variant
    assert [g for g in found if not g.startswith("lr_variants/_validate.py")] == []
