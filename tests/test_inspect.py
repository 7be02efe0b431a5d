"""lr_variants.explain: backward graphs checked against the chain rule, per-sample gradients,
the Hessian, and the `lr-variants explain` command."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import reference as ref
import torch

import lr_variants as lv
from lr_variants import explain as ex
from lr_variants.cli import main

GRAPH_VARIANTS = ("autograd", "module", "scratch")
# the variants other than module train on the stable loss: their gradients() and the article's
# graph differ by rounding (off saturation), float32 ~1e-7 on O(1) values
RTOL_LOSSES = {"float32": 1e-6, "float64": 1e-14}


@pytest.fixture
def batch() -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Four rows of the article's data (both labels) and the initial parameters of seed 5."""
    X, y = lv.two_blobs()
    idx = next(lv.batches(len(y), epochs=1, batch_size=4, seed=5))
    w, b = lv.initial_params(2, 5)
    return X[idx], y[idx], w, b


# A saturating batch: z = [30, -30, 3]. Row 0 is confidently wrong and sigmoid(30) rounds to
# exactly 1 in float32; row 1 has p (1 - p) ~ 9e-14 < 1e-12, where BCELoss clamps; row 2 is fine.
X_SAT = np.array([[1.0], [-1.0], [0.1]])
Y_SAT = np.array([0.0, 1.0, 1.0])
W_SAT, B_SAT = np.array([30.0]), 0.0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss", ["stable", "sigmoid_bce"])
@pytest.mark.parametrize("variant", GRAPH_VARIANTS)
def test_every_node_agrees_off_saturation(variant, loss, dtype, batch) -> None:
    e = ex.explain(variant, *batch, loss=loss, dtype=dtype)
    assert e.first_mismatch is None, e.to_text()
    assert e.rtol == ex.RTOL[dtype]
    checks = [c for n in e.nodes for c in n.checks]
    assert len(checks) >= 5 and all(c.ok for c in checks)
    # the leaves received exactly what the variant's own gradients() returns
    model = lv.create(variant, 2, dtype=dtype, loss=loss if variant == "module" else "stable")
    model.set_params(batch[2], batch[3])
    gw, gb = model.gradients(batch[0], batch[1])
    leaves = {n.produces: n.grad_in for n in e.nodes if n.op in ("AccumulateGrad", "leaf")}
    tol = 0 if loss == "stable" or variant == "module" else RTOL_LOSSES[dtype]
    np.testing.assert_allclose(leaves["w"].reshape(-1), gw, rtol=tol, atol=tol)
    assert float(leaves["b"].reshape(())) == pytest.approx(gb, rel=tol, abs=tol)
    tol = 1e-6 if dtype == "float32" else 1e-14
    assert e.loss_graph == pytest.approx(model.loss(batch[0], batch[1]), rel=tol)
    assert e.loss_exact == pytest.approx(ref.loss(e.X, e.y, e.w, e.b), rel=1e-14)


# the torch graphs' middle depends on how a variant writes z = X w + b (one addmv, or a matmul
# and an add): only their ends are pinned; the scratch graph is pinned whole
GRAPHS = [
    ("autograd", "stable", ["BinaryCrossEntropyWithLogitsBackward0"]),
    ("autograd", "sigmoid_bce", ["BinaryCrossEntropyBackward0", "SigmoidBackward0"]),
    ("module", "stable", ["BinaryCrossEntropyWithLogitsBackward0", "SqueezeBackward1"]),
    ("module", "sigmoid_bce", ["BinaryCrossEntropyBackward0", "SigmoidBackward0"]),
    # z (#4) comes after both of its consumers, softplus (#2) and mul (#3)
    ("scratch", "stable", ["mean", "sub", "softplus", "mul", "add", "matmul", "leaf", "leaf"]),
    ("scratch", "sigmoid_bce", ["mean", "bce", "sigmoid", "add", "matmul", "leaf", "leaf"]),
]


@pytest.mark.parametrize("variant,loss,ops", GRAPHS)
def test_graph_shape_root_first(variant, loss, ops, batch) -> None:
    e = ex.explain(variant, *batch, loss=loss)
    assert [n.op for n in e.nodes][: len(ops)] == ops
    assert e.nodes[0].produces == "L"
    # topological: every edge points to a later node
    for n in e.nodes:
        assert all(edge.target is None or edge.target > n.index for edge in n.edges)
    leaves = [n.produces for n in e.nodes if n.op in ("AccumulateGrad", "leaf")]
    assert sorted(leaves) == ["b", "w"]
    # the nodes are mapped to what they compute, and every gradient into a mapped node checked
    assert {"L", "z", "w", "b"} <= {n.produces for n in e.nodes}
    mapped = {n.index for n in e.nodes if n.produces}
    assert all(edge.check for n in e.nodes for edge in n.edges if edge.target in mapped)


def test_scratch_graph_is_the_variants_own(batch) -> None:
    """explain() rebuilds the forward pass to name its tensors: it must be the same graph the
    scratch variant records in training."""
    model = lv.create("scratch", 2)
    model.set_params(batch[2], batch[3])
    X, y = model.prepare(batch[0], batch[1])
    own = model.engine.loss_graph(X, y).loss.topological_order()[::-1]
    e = ex.explain("scratch", *batch)
    assert sorted(n.op for n in e.nodes) == sorted(t.op or "leaf" for t in own)


@pytest.mark.parametrize("variant", ["autograd", "module"])
def test_torch_graph_is_the_variants_own(variant, batch) -> None:
    model = lv.create(variant, 2)
    model.set_params(batch[2], batch[3])
    root = model.loss_graph(batch[0], batch[1]).loss.grad_fn
    names, todo, seen = [], [root], set()
    while todo:
        n = todo.pop()
        if n is None or n in seen:
            continue
        seen.add(n)
        names.append(type(n).__name__)
        todo += [m for m, _ in n.next_functions]
    assert sorted(names) == sorted(n.op for n in ex.explain(variant, *batch).nodes)


def test_saved_tensors_are_identified(batch) -> None:
    e = ex.explain("autograd", *batch)
    assert e.nodes[0].saved["self"].endswith("(= z)") and e.nodes[0].saved["target"].endswith(
        "(= y)"
    )
    # the node that sends dL/dw kept X (to form X^T g) and not w: X needs no gradient
    to_w = next(n for n in e.nodes if any(edge.input == "w" for edge in n.edges))
    assert any(v.endswith("(= X)") for v in to_w.saved.values())
    assert "None" in to_w.saved.values()
    nodes = {n.op: n for n in ex.explain("module", *batch).nodes}
    assert nodes["AddmmBackward0"].saved["mat1"].endswith("(= X)")
    assert nodes["AddmmBackward0"].saved["mat2"] == "None"
    nodes = {n.op: n for n in ex.explain("module", *batch, loss="sigmoid_bce").nodes}
    assert nodes["SigmoidBackward0"].saved["result"].endswith("(= p)")
    scratch = {n.op: n for n in ex.explain("scratch", *batch).nodes}
    assert scratch["softplus"].saved["self"].endswith("(= z)")
    assert scratch["mul"].saved["other"].endswith("(= y)")


@pytest.mark.parametrize(
    "variant,loss,constants",
    # root first: the loss node's constant is y, the node that forms z from X has X; the scratch
    # bce op takes y as a plain array (saved, not an input of the graph)
    [
        ("autograd", "stable", ["y", "X"]),
        ("autograd", "sigmoid_bce", ["y", "X"]),
        ("module", "stable", ["y", "X"]),
        ("module", "sigmoid_bce", ["y", "X"]),
        ("scratch", "stable", ["y", "X"]),
        ("scratch", "sigmoid_bce", ["X"]),
    ],
)
def test_each_constant_input_is_named(variant, constants, loss, batch) -> None:
    e = ex.explain(variant, *batch, loss=loss)
    names = [edge.input for n in e.nodes for edge in n.edges if edge.target is None]
    assert sorted(names) == sorted(constants)
    assert names == constants
    assert "X or y" not in e.to_text() and "X or y" not in e.to_dot()
    assert f"{constants[0]}: a constant, no gradient" in e.to_text()


def test_text_shows_torch_arguments_only_when_verbose(batch) -> None:
    e = ex.explain("module", *batch)
    nodes = {n.op: n for n in e.nodes}
    assert nodes["BinaryCrossEntropyWithLogitsBackward0"].arguments == {"reduction": "1"}
    assert nodes["AddmmBackward0"].arguments["mat1_sym_strides"] == "()"
    assert "reduction" not in nodes["BinaryCrossEntropyWithLogitsBackward0"].saved
    quiet, verbose = e.to_text(), e.to_text(verbose=True)
    for internal in ("reduction = 1", "mat1_sym_strides = ()", "alpha = 1", "dim = -1"):
        assert internal not in quiet and internal in verbose
    assert "saved no tensor, only sizes and arguments" in quiet  # SqueezeBackward1
    assert quiet.count("'args' are") == 0 and verbose.count("'args' are") == 1
    assert "args  reduction = 1" in verbose and "mat1 = float32 (4, 2)" in quiet
    # the scratch engine keeps arrays only: nothing to hide
    s = ex.explain("scratch", *batch)
    assert s.to_text() == s.to_text(verbose=True)


def test_scratch_sums_the_two_branches_into_dz(batch) -> None:
    e = ex.explain("scratch", *batch, dtype="float64")
    z = next(n for n in e.nodes if n.produces == "z")
    shares = [edge.grad for n in e.nodes for edge in n.edges if edge.target == z.index]
    assert len(shares) == 2
    np.testing.assert_allclose(sum(shares), z.grad_in, rtol=1e-15)
    np.testing.assert_allclose(z.grad_in, e.term("dL/dz").value, rtol=1e-12)


@pytest.mark.parametrize(
    "variant,first,index",
    # torch's BCELoss includes the mean; the scratch graph has a mean node above its bce
    [("module", "BinaryCrossEntropyBackward0", 0), ("scratch", "bce", 1)],
)
def test_saturation_is_flagged_at_the_bce_node(variant, first, index) -> None:
    e = ex.explain(variant, X_SAT, Y_SAT, W_SAT, B_SAT, loss="sigmoid_bce")
    bad = e.first_mismatch
    assert bad is not None and bad.op == first and bad.index == index
    assert all(n.ok for n in e.nodes[:index])
    assert e.saturated == [0]
    # the gradient reaching z is lost for rows 0 and 1: 0 and ~0.03 instead of +-1/3
    z = next(n for n in e.nodes if n.produces == "z" and n.grad_in is not None)
    g = z.grad_in.reshape(-1)
    assert g[0] == 0.0 and abs(g[1]) < 0.05
    assert g[2] == pytest.approx(e.term("dL/dz").value[2], rel=1e-4)
    # log(1 - p) = log(0) is clamped at -100: row 0 counts 100, not 30
    assert e.loss_graph == pytest.approx((100 + 30 + np.logaddexp(0, -3)) / 3, rel=1e-5)
    # X is rounded to float32 first (0.1 is not exact there): 1e-8
    assert e.loss_exact == pytest.approx((30 + 30 + np.logaddexp(0, -3)) / 3, rel=1e-8)
    text = e.to_text()
    assert f"FIRST MISMATCH at #{index} {first}" in text and "clamps it at -100" in text


@pytest.mark.parametrize("variant", GRAPH_VARIANTS)
def test_the_stable_graph_survives_saturation(variant) -> None:
    e = ex.explain(variant, X_SAT, Y_SAT, W_SAT, B_SAT)
    assert e.first_mismatch is None and e.saturated == [0]
    assert e.loss_graph == pytest.approx(e.loss_exact, rel=1e-6)
    assert "never forms log(p)" in e.to_text()


def test_saturating_params_scale_to_the_requested_logit(batch) -> None:
    X, _, w, b = batch
    w2, b2 = ex.saturating_params(X, w, b, 25.0)
    assert np.max(np.abs(X @ w2 + b2)) == pytest.approx(25.0)
    np.testing.assert_allclose(w2 / w, b2 / b)
    with pytest.raises(ValueError, match=r"nonzero logit"):
        ex.saturating_params(X, np.zeros(2), 0.0)


BAD = [
    ({"variant": "numpy"}, ValueError, r"got 'numpy', which computes its gradient by hand"),
    ({"variant": "jax"}, ValueError, r"variant must be one of"),
    ({"loss": "mse"}, ValueError, r"loss must be one of"),
    ({"dtype": "float16"}, ValueError, r"dtype must be one of"),
    ({"y": [0, 2, 1, 0]}, ValueError, r"y must hold only 0 and 1"),
    ({"w": [1.0]}, ValueError, r"w must have shape \(2,\)"),
]


@pytest.mark.parametrize("kwargs,exc,match", BAD)
def test_explain_rejects(kwargs, exc, match, batch) -> None:
    X, y, w, b = batch
    args = {"variant": "autograd", "X": X, "y": y, "w": w, "b": b, **kwargs}
    with pytest.raises(exc, match=match):
        ex.explain(
            args.pop("variant"), args.pop("X"), args.pop("y"), args.pop("w"), args.pop("b"), **args
        )


def test_renderings(batch, tmp_path) -> None:
    e = ex.explain("module", X_SAT, Y_SAT, W_SAT, B_SAT, loss="sigmoid_bce")
    d = json.loads(json.dumps(e.to_dict(), allow_nan=False))  # strict JSON
    assert d["agrees"] is False and d["first_mismatch"] == 0
    assert d["first_mismatch_op"] == "BinaryCrossEntropyBackward0"
    assert [t["name"] for t in d["chain_rule"]][-3:] == ["dL/dz", "dL/dw", "dL/db"]
    dot = e.to_dot()
    assert dot.startswith("digraph backward {") and dot.rstrip().endswith("}")
    assert "color=red" in dot and dot.count("n0 -> ") >= 1


# ---- second order and per-sample ----


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    r = np.random.default_rng(11)
    X = r.normal(scale=2.0, size=(25, 3))
    y = (r.random(25) < 0.5).astype(float)
    return X, y, r.normal(size=3), 0.4


def test_per_sample_gradients_are_residual_times_row(data) -> None:
    """vmap(grad(l_i)) = (p_i - y_i)[x_i, 1]; their mean is the batch gradient."""
    G = ex.per_sample_gradients(*data)
    assert G.shape == (25, 4)
    np.testing.assert_allclose(G, ex.analytic_per_sample_gradients(*data), rtol=1e-12, atol=1e-15)
    gw, gb = ref.gradients(*data)
    np.testing.assert_allclose(G.mean(axis=0), [*gw, gb], rtol=1e-12, atol=1e-15)
    G32 = ex.per_sample_gradients(*data, dtype="float32")
    np.testing.assert_allclose(G32, G, rtol=1e-5, atol=1e-6)


def test_hessian_is_weighted_gram_matrix(data) -> None:
    """torch.func.hessian = X~^T diag(p (1 - p)) X~ / N with X~ = [X, 1], ordered (w..., b):
    symmetric, positive semi-definite, and equal to a finite difference of the gradient."""
    H = ex.hessian(*data)
    Ha = ex.analytic_hessian(*data)
    np.testing.assert_allclose(H, Ha, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(H, H.T, rtol=0, atol=1e-16)
    assert np.linalg.eigvalsh(H).min() >= -1e-15
    X, y, w, b = data
    h = 1e-6  # central difference of the bias gradient, O(h^2) ~ 1e-12 error
    gp, gm = ref.gradients(X, y, w, b + h), ref.gradients(X, y, w, b - h)
    np.testing.assert_allclose((np.append(*gp) - np.append(*gm)) / (2 * h), H[:, -1], atol=1e-8)


def test_gradgradcheck_of_the_loss(data) -> None:
    X, y, w, b = data
    L = ex.loss_function(X[:6], y[:6])
    theta = torch.tensor(np.append(w, b), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(L, (theta,))
    assert torch.autograd.gradgradcheck(L, (theta,))


def test_second_order_report(data) -> None:
    r = ex.second_order(*data)
    assert r["per_sample_max_abs_diff"] < 1e-14 and r["hessian_max_abs_diff"] < 1e-14
    assert "eigenvalues" in ex.second_order_text(r)


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_importing_explain_loads_no_torch() -> None:
    assert _run("import sys, lr_variants.explain; print('torch' in sys.modules)") == "False"


def test_explain_and_its_old_name_are_lazy_attributes_of_the_package() -> None:
    code = (
        "import sys, lr_variants as lv; print('lr_variants.explain' in sys.modules,"
        " lv.explain.explain.__name__, lv.inspect is lv.explain)"
    )
    assert _run(code) == "False explain True"


def test_scratch_explain_needs_no_torch() -> None:
    code = (
        "import sys, lr_variants.explain as x;"
        " x.explain('scratch', [[1.0, 2.0]], [1.0], [0.5, -0.5], 0.1);"
        " print('torch' in sys.modules)"
    )
    assert _run(code) == "False"


# ---- the command ----


def test_cli_text(capsys) -> None:
    assert main(["explain"]) == 0
    out = capsys.readouterr().out
    # seed 42's first batch of 4 holds only 1s: the default is its second, the first to hold both
    assert out.startswith(
        "lr-variants explain: rows [127, 608, 856, 260] of two_blobs(500, seed=42) (batch 2 of "
        "seed 42, the first holding both labels)"
    )
    assert "#0 BinaryCrossEntropyWithLogitsBackward0 -> L  [ok]" in out
    assert "check: every node agrees with the chain rule" in out


@pytest.mark.parametrize("seed", [42, 5, 7])
def test_cli_default_batch_holds_both_labels(capsys, seed) -> None:
    """The batch explained is the first of the seed's batches that holds a 0 and a 1."""
    assert main(["explain", "--seed", str(seed), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    _, y = lv.two_blobs()
    plan = list(lv.training.batches(len(y), epochs=1, batch_size=4, seed=seed))
    k = out["settings"]["batch"] - 1
    assert out["settings"]["rows"] == plan[k].tolist() and sorted(set(out["explanation"]["y"])) == [
        0,
        1,
    ]
    assert all(len(set(y[idx])) == 1 for idx in plan[:k])


def test_cli_one_row_is_the_first_batch(capsys) -> None:
    assert main(["explain", "--rows", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["settings"]["batch"] == 1


def test_cli_saturate_sigmoid_bce(capsys) -> None:
    args = ["explain", "--variant", "module", "--loss", "sigmoid_bce", "--seed", "5"]
    assert main([*args, "--saturate"]) == 0
    out = capsys.readouterr().out
    assert "scaled so max |z| = 30" in out
    assert "check: FIRST MISMATCH at #0 BinaryCrossEntropyBackward0" in out


def test_cli_json_and_dot(capsys, tmp_path) -> None:
    dot = tmp_path / "g.dot"
    args = ["explain", "--variant", "scratch", "--rows", "6", "--dtype", "float64"]
    assert main([*args, "--json", "--dot", str(dot), "--second-order"]) == 0
    out = json.loads(capsys.readouterr().out)  # one JSON object and nothing else
    assert out["explanation"]["agrees"] is True and out["explanation"]["variant"] == "scratch"
    assert len(out["settings"]["rows"]) == 6 and len(out["explanation"]["y"]) == 6
    assert out["second_order"]["hessian_max_abs_diff"] < 1e-14
    assert dot.read_text().startswith("digraph")


def test_cli_given_params_and_data_file(capsys, tmp_path) -> None:
    f = tmp_path / "d.csv"
    f.write_text("a,b,label\n1,2,0\n-1,0.5,1\n3,-1,1\n")
    assert main(["explain", "--data", str(f), "--w", "0.5,-1", "--b", "0.25", "--json"]) == 0
    e = json.loads(capsys.readouterr().out)["explanation"]
    assert e["w"] == [0.5, -1.0] and e["b"] == 0.25 and len(e["y"]) == 3


@pytest.mark.parametrize(
    "args,message",
    [
        (["--variant", "numpy"], "no graph to explain"),
        (["--variant", "jax"], "--variant must be one of"),
        (["--rows", "0"], "--rows must be >= 1"),
        (["--w", "1,x"], "--w must be comma-separated numbers"),
        (["--w", "1,2,3"], "w must have shape (2,)"),
        (["--loss", "mse"], "loss must be one of"),
        (["--dot", "/nonexistent/dir/g.dot"], "--dot must be a writable file"),
    ],
)
def test_cli_errors_exit_2_with_one_line(args, message, capsys) -> None:
    assert main(["explain", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lr-variants: error: ") and message in err
