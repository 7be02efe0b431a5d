"""The backward graph as a picture: the layered layout, the SVG written by the package, the PNG
drawn by matplotlib, and `lr-variants explain --image`."""

from __future__ import annotations

import errno
import io
import itertools
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lr_variants as lv
from lr_variants import explain as ex
from lr_variants.cli import main
from lr_variants.explain import _image, _layout, _picture
from lr_variants.explain._render import fmt

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def batch() -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Four rows of the article's data (both labels) and the initial parameters of seed 5."""
    X, y = lv.two_blobs()
    idx = next(lv.batches(len(y), epochs=1, batch_size=4, seed=5))
    w, b = lv.initial_params(2, 5)
    return X[idx], y[idx], w, b


@pytest.fixture(scope="module")
def saturated(batch) -> ex.Explanation:
    X, y, w, b = batch
    ws, bs = ex.saturating_params(X, w, b, 30.0)
    return ex.explain("module", X, y, ws, bs, loss="sigmoid_bce")


def _texts(svg: str) -> list[tuple[str, str]]:
    """(text, fill color) of every text element."""
    root = ET.fromstring(svg)
    return [(t.text or "", t.get("fill", "")) for t in root.iter(f"{SVG}text")]


# ---- the layout ---------------------------------------------------------------------------------


def _overlap(a: _layout.Placed, b: _layout.Placed) -> bool:
    return (
        a.x < b.x + b.width
        and b.x < a.x + a.width
        and a.y < b.y + b.height
        and b.y < a.y + a.height
    )


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[_layout.Box], list[_layout.Link]]:
    """Up to 9 boxes of random sizes and forward edges between them (a DAG), some labelled."""
    n = draw(st.integers(1, 9))
    sizes = st.tuples(st.integers(10, 300), st.integers(10, 80))
    boxes = [
        _layout.Box(i, float(w), float(h))
        for i, (w, h) in enumerate(draw(st.lists(sizes, min_size=n, max_size=n)))
    ]
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=12)) if pairs else []
    links = []
    for k, (i, j) in enumerate(chosen):
        label = draw(st.one_of(st.none(), st.integers(20, 200)))
        box = None if label is None else _layout.Box(("label", k), float(label), 16.0, anchor=0.0)
        links.append(_layout.Link(i, j, box))
    return boxes, links


@settings(max_examples=60, deadline=None)
@given(dags())
def test_layout_never_overlaps_and_every_edge_runs_down(graph) -> None:
    """No two boxes or labels overlap; each edge leaves its source's bottom and reaches its
    target's top, always going down; the same input gives the same coordinates."""
    boxes, links = graph
    g = _layout.layout(boxes, links)
    placed = list(g.boxes.values())
    for a, b in itertools.combinations([p for p in placed if p.width > 0], 2):
        assert not _overlap(a, b)
    for link, route in zip(links, g.routes, strict=True):
        src, dst = g.boxes[link.source], g.boxes[link.target]
        assert route[0] == (src.ax, src.y + src.height) and route[-1] == (dst.ax, dst.y)
        assert all(y1 >= y0 for (_, y0), (_, y1) in itertools.pairwise(route))
        if link.label is not None:  # the edge runs down the label's left side
            lab = g.boxes[link.label.key]
            assert (lab.x, lab.y) in route and lab.y > src.y + src.height
    for p in placed:
        assert p.x >= 0 and p.x + p.width <= g.width and p.y + p.height <= g.height
    assert _layout.layout(boxes, links) == g


def test_layout_refuses_a_cycle() -> None:
    boxes = [_layout.Box(k, 10.0, 10.0) for k in "ab"]
    with pytest.raises(ValueError, match="acyclic"):
        _layout.layout(boxes, [_layout.Link("a", "b"), _layout.Link("b", "a")])


# ---- what the picture shows ---------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["autograd", "module", "scratch"])
def test_every_node_and_gradient_is_drawn(batch, variant) -> None:
    """One box per node (its #k and operation), every gradient sent with the DOT's 3 digits, a
    dashed arrow to each constant, no red where every node agrees."""
    e = ex.explain(variant, *batch)
    svg = e.to_svg()
    texts = [t for t, _ in _texts(svg)]
    for n in e.nodes:
        assert any(t.startswith(f"#{n.index} {n.op}") for t in texts)
        for edge in n.edges:
            if edge.target is None:
                assert f"{edge.input} (constant: no gradient)" in texts
            else:
                assert any(t.endswith(f" = {fmt(edge.grad, 3)}") for t in texts)
    assert _picture.RED not in svg
    root = ET.fromstring(svg)
    dashed = [p for p in root.iter(f"{SVG}path") if p.get("stroke-dasharray")]
    assert len(dashed) == sum(x.target is None for n in e.nodes for x in n.edges)
    assert "every node agrees with the chain rule" in texts


def test_saved_tensors_show_names_and_shapes_never_values(batch) -> None:
    svg = ex.explain("scratch", *batch).to_svg()
    texts = [t for t, _ in _texts(svg)]
    assert "self = X, float32 (4, 2)" in texts and "other = w, float32 (2,)" in texts
    saved = [t for t in texts if t.startswith(("self =", "other =", "target ="))]
    assert saved and not any("[" in t for t in saved)
    # #4 add receives the shares of #2 softplus and #3 mul: the box says it holds their sum
    assert any(t.startswith("receives the sum: dL/dz = [0.223, -0.206") for t in texts)


def test_what_disagrees_is_red_with_the_chain_rule_beside_it(saturated) -> None:
    e = saturated
    texts = _texts(e.to_svg())
    red = {t for t, color in texts if color == _picture.RED}
    for n in e.nodes:
        header = next(t for t, _ in texts if t.startswith(f"#{n.index} {n.op}"))
        assert (header in red) is (not n.ok)
    bad = [x for n in e.nodes for x in n.edges if x.check is not None and not x.check.ok]
    assert bad
    for x in bad:
        assert f"chain rule: {fmt(x.check.expected, 3)}" in red
    assert f"first mismatch: #0 {e.nodes[0].op} (red: disagrees)" in red


def test_svg_is_valid_and_the_same_every_time(batch) -> None:
    e = ex.explain("autograd", *batch)
    svg = e.to_svg()
    root = ET.fromstring(svg)  # well-formed XML
    assert root.tag == f"{SVG}svg" and root.find(f"{SVG}title") is not None
    assert float(root.get("width", "0")) > 300 and float(root.get("height", "0")) > 300
    assert ex.explain("autograd", *batch).to_svg() == svg
    assert "&lt;" not in svg  # nothing here needs escaping; the escaping itself:
    assert _image._escape("a<b & c>d") == "a&lt;b &amp; c&gt;d"


def test_png_is_the_same_picture(saturated) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    data = saturated.to_png()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = imread(io.BytesIO(data))
    s = _picture.scene(saturated)
    scale = _image.DPI / 72
    assert (
        abs(pixels.shape[0] - s.height * scale) <= 1 and abs(pixels.shape[1] - s.width * scale) <= 1
    )
    rgb = (pixels[..., :3] * 255).round()
    red = np.all(np.abs(rgb - [0xC6, 0x28, 0x28]) <= 8, axis=-1)
    assert red.sum() > 500  # the red boxes, arrows and labels


# ---- files and the command ----------------------------------------------------------------------


def test_save_image_picks_the_format_and_refuses_others(saturated, tmp_path) -> None:
    saturated.save_image(tmp_path / "g.SVG")
    assert (tmp_path / "g.SVG").read_text() == saturated.to_svg()
    with pytest.raises(ValueError, match=r"path must end in .svg or .png; got '.*g.jpg'"):
        saturated.save_image(tmp_path / "g.jpg")
    assert not (tmp_path / "g.jpg").exists()


def test_a_failed_write_keeps_the_old_picture(saturated, tmp_path, monkeypatch) -> None:
    path = tmp_path / "g.svg"
    path.write_text("old picture")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("lr_variants._files.os.fsync", full)
    with pytest.raises(ValueError, match=r"could not be written: .*unchanged"):
        saturated.save_image(path)
    assert path.read_text() == "old picture" and sorted(tmp_path.iterdir()) == [path]


def test_cli_image_writes_it_and_says_where(tmp_path, capsys) -> None:
    args = ["explain", "--variant", "scratch", "--seed", "5"]
    assert main(args) == 0
    plain = capsys.readouterr().out
    path = tmp_path / "g.svg"
    assert main([*args, "--image", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == plain  # the report is unchanged; where the file went is on stderr
    assert err == f"wrote {path}\n"
    assert path.read_text().startswith("<svg ")


def test_cli_dot_says_how_to_draw_it(tmp_path, capsys) -> None:
    path = tmp_path / "g.dot"
    assert main(["explain", "--dot", str(path), "--json"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"Graphviz draws it with `dot -Tsvg {path} -o {tmp_path / 'g.svg'}`" in err
    assert f"--image {tmp_path / 'g.svg'} draws it without Graphviz" in err


@pytest.mark.parametrize(
    "name,message",
    [
        ("g.jpg", "--image must end in .svg or .png"),
        ("missing/g.svg", "--image must be in an existing directory"),
    ],
)
def test_cli_bad_image_path_is_one_line_before_any_work(
    tmp_path, capsys, monkeypatch, name, message
) -> None:
    monkeypatch.setattr(ex, "explain", None)  # reaching the explanation would fail differently
    assert main(["explain", "--image", str(tmp_path / name)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err
    assert list(tmp_path.iterdir()) == []


def test_cli_png_without_matplotlib_is_one_line(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    assert main(["explain", "--image", str(tmp_path / "g.png")]) == 2
    err = capsys.readouterr().err
    assert err == (
        "lr-variants: error: --image: drawing PNG needs matplotlib: pip install "
        "'lr_variants[plot]' (or write .svg, which needs nothing)\n"
    )
    assert main(["explain", "--image", str(tmp_path / "g.svg")]) == 0  # SVG needs nothing
    assert Path(tmp_path / "g.svg").is_file() and not (tmp_path / "g.png").exists()


def test_cli_png(tmp_path, capsys) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "g.png"
    assert main(["explain", "--loss", "sigmoid_bce", "--saturate", "--image", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert capsys.readouterr().err == f"wrote {path}\n"


def test_drawing_code_is_loaded_only_to_draw() -> None:
    """Neither the command line nor an explanation loads the layout and drawing modules until a
    picture is asked for. Hypothesis (>= 6.131) draws constants from the source of the local
    modules loaded, so loading them would change the examples `lr-variants check` generates,
    and the failing inputs the docs quote."""
    import subprocess

    code = (
        "import sys, lr_variants.cli, lr_variants.explain as x;"
        " e = x.explain('scratch', [[1.0, 2.0]], [1.0], [0.5, -0.5], 0.1); e.to_dot();"
        " print(sorted(m for m in sys.modules if m.startswith('lr_variants.explain._')"
        " and m.rsplit('.', 1)[1] in ('_image', '_picture', '_layout')));"
        " e.to_svg(); print('lr_variants.explain._layout' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "True"]
