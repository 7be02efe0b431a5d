"""A ``Scene`` drawn as SVG (written here, no dependency) or
as PNG (the same shapes through matplotlib, the ``plot`` extra); ``save`` writes either
atomically.

The SVG is text built from the scene's coordinates, each written with one decimal, so the same
graph gives the same bytes on every machine. No Graphviz or other program is needed.
"""

from __future__ import annotations

import io
import itertools
import os
from typing import TYPE_CHECKING, BinaryIO

from lr_variants._files import write_atomic
from lr_variants.explain._picture import ARROW, FONT, Curve, Rect, Scene, Text, scene

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from lr_variants.explain._records import Explanation

FORMATS = (".svg", ".png")
FAMILY = "DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, monospace"
MATPLOTLIB_MISSING = (
    "drawing PNG needs matplotlib: pip install 'lr_variants[plot]' (or write .svg, which needs "
    "nothing)"
)


def image_format(path: str | os.PathLike[str], name: str = "path") -> str:
    """``"svg"`` or ``"png"`` from ``path``'s suffix (any case); a ``ValueError`` naming ``name``
    otherwise, and for PNG without matplotlib (before any work is done)."""
    text = os.fspath(path)
    suffix = os.path.splitext(text)[1].lower()
    if suffix not in FORMATS:
        raise ValueError(f"{name} must end in .svg or .png; got {text!r}")
    if suffix == ".png":
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ValueError(f"{name}: {MATPLOTLIB_MISSING}") from None
    return suffix[1:]


def save(e: Explanation, path: str | os.PathLike[str], name: str = "path") -> None:
    """Write ``e``'s graph to ``path`` as SVG or PNG (by its suffix), atomically: the file there
    is replaced whole or left as it was."""
    kind = image_format(path, name)
    data = svg(scene(e)).encode() if kind == "svg" else png(scene(e))

    def write(f: BinaryIO) -> None:
        f.write(data)

    write_atomic(path, write, name=name)


# ---- SVG ----------------------------------------------------------------------------------------


def svg(s: Scene) -> str:
    """The scene as a standalone SVG document."""
    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'width="{_n(s.width)}" height="{_n(s.height)}" viewBox="0 0 {_n(s.width)} '
        f'{_n(s.height)}" font-family="{FAMILY}" font-size="{_n(FONT)}">',
        f"<title>{_escape(s.title)}</title>",
    ]
    for item in s.items:
        if isinstance(item, Rect):
            stroke = f' stroke="{item.stroke}"' if item.stroke else ""
            dash = ' stroke-dasharray="4 3"' if item.dashed else ""
            out.append(
                f'<rect x="{_n(item.x)}" y="{_n(item.y)}" width="{_n(item.width)}" '
                f'height="{_n(item.height)}" fill="{item.fill}"{stroke}{dash}/>'
            )
        elif isinstance(item, Text):
            bold = ' font-weight="bold"' if item.bold else ""
            out.append(
                f'<text x="{_n(item.x)}" y="{_n(item.y)}" fill="{item.color}"{bold} '
                f'xml:space="preserve">{_escape(item.text)}</text>'
            )
        else:
            out += _svg_curve(item)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _svg_curve(c: Curve) -> list[str]:
    path = ["M", _n(c.points[0][0]), _n(c.points[0][1])]
    for seg in _segments(c):
        if len(seg) == 1:
            path += ["L", _n(seg[0][0]), _n(seg[0][1])]
        else:
            path += ["C", *(f"{_n(x)} {_n(y)}" for x, y in seg)]
    dash = ' stroke-dasharray="5 4"' if c.dashed else ""
    out = [f'<path d="{" ".join(path)}" fill="none" stroke="{c.color}" stroke-width="1.3"{dash}/>']
    if c.arrow:
        pts = " ".join(f"{_n(x)},{_n(y)}" for x, y in _head(c))
        out.append(f'<polygon points="{pts}" fill="{c.color}"/>')
    return out


def _segments(c: Curve) -> list[list[tuple[float, float]]]:
    """The curve after its first point: a straight segment ``[end]`` where x stays, else a
    cubic Bezier ``[control, control, end]`` leaving and arriving vertically; the last point
    pulled back by the arrow head."""
    pts = list(c.points)
    if c.arrow:
        x, y = pts[-1]
        pts[-1] = (x, y - ARROW + 1)
    out = []
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        if x0 == x1:
            out.append([(x1, y1)])
        else:
            mid = (y1 - y0) / 2
            out.append([(x0, y0 + mid), (x1, y1 - mid), (x1, y1)])
    return out


def _head(c: Curve) -> list[tuple[float, float]]:
    x, y = c.points[-1]
    return [(x, y), (x - ARROW / 2, y - ARROW), (x + ARROW / 2, y - ARROW)]


def _n(v: float) -> str:
    text = f"{v:.1f}"
    text = "0.0" if text == "-0.0" else text
    return text[:-2] if text.endswith(".0") else text


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---- PNG ----------------------------------------------------------------------------------------

DPI = 144  # two pixels per unit: sharp on a high-density screen


def png(s: Scene) -> bytes:
    """The scene as PNG bytes, drawn by matplotlib (no pyplot, no display)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(MATPLOTLIB_MISSING) from None
    fig = Figure(figsize=(s.width / 72, s.height / 72))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0, s.width)
    ax.set_ylim(s.height, 0)
    ax.set_axis_off()
    for item in s.items:
        _draw(ax, item)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _draw(ax: Axes, item: Rect | Text | Curve) -> None:
    from matplotlib.patches import PathPatch, Polygon, Rectangle
    from matplotlib.path import Path

    if isinstance(item, Rect):
        ax.add_patch(
            Rectangle(
                (item.x, item.y),
                item.width,
                item.height,
                facecolor=item.fill,
                edgecolor=item.stroke or "none",
                linewidth=1.0 if item.stroke else 0.0,
                linestyle="--" if item.dashed else "-",
            )
        )
    elif isinstance(item, Text):
        ax.text(
            item.x,
            item.y,
            item.text,
            color=item.color,
            fontsize=FONT,
            family="DejaVu Sans Mono",
            weight="bold" if item.bold else "normal",
            va="baseline",
            ha="left",
        )
    else:
        vertices = [item.points[0]]
        codes = [Path.MOVETO]
        for seg in _segments(item):
            vertices += seg
            codes += [Path.LINETO] if len(seg) == 1 else [Path.CURVE4] * 3
        ax.add_patch(
            PathPatch(
                Path(vertices, codes),
                facecolor="none",
                edgecolor=item.color,
                linewidth=1.3,
                linestyle=(0, (5, 4)) if item.dashed else "-",
            )
        )
        if item.arrow:
            ax.add_patch(Polygon(_head(item), closed=True, facecolor=item.color, linewidth=0))
