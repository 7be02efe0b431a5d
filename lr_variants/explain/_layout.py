"""A layered (Sugiyama-style) layout of a small directed acyclic graph, in plain Python.

The steps of Sugiyama, Tagawa and Toda (1981), kept small:

1. **ranks**: every vertex one rank below its lowest predecessor (longest path from the roots);
   an edge's label is a vertex of its own in the rank between its two ends, so labels take room
   like boxes and never overlap (Graphviz does the same);
2. **dummies**: an edge spanning several ranks gets a point in each rank it crosses, so it bends
   around the boxes in between;
3. **order**: each rank starts in depth-first order from the roots (the order of the text
   report's tree), then alternating sweeps sort each rank by the mean position of its
   neighbours in the rank above (below), keeping the order with the fewest crossings;
4. **coordinates**: each rank in turn is moved towards its neighbours' mean positions, keeping
   its order and the gaps between boxes: a least-squares fit under order constraints, solved
   exactly by pooling adjacent violators.

Every number is a Python float computed in a fixed order from the boxes' sizes, so the same
graph gets the same coordinates on every machine.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

GAP_X = 22.0  # horizontal room between two neighbours of one rank
GAP_Y = 18.0  # vertical room between two ranks
MARGIN = 12.0
SWEEPS = 8  # ordering sweeps (each down then up); the graphs here have at most ~20 vertices
PASSES = 12  # coordinate passes (each down then up)


@dataclass(frozen=True)
class Box:
    """A vertex to place: ``width`` x ``height``; edges meet it ``anchor`` from its left side
    (its middle when ``None``)."""

    key: Hashable
    width: float
    height: float
    anchor: float | None = None


@dataclass(frozen=True)
class Link:
    """An edge ``source -> target`` with an optional label box placed just below the source."""

    source: Hashable
    target: Hashable
    label: Box | None = None


@dataclass
class Placed:
    """A vertex's top-left corner, its size and where its edges meet it."""

    x: float
    y: float
    width: float
    height: float
    anchor: float

    @property
    def ax(self) -> float:
        return self.x + self.anchor


@dataclass
class Layout:
    """Positions of every box and label (by key), each edge as the points it passes through
    (from the source's bottom to the target's top), and the size of the whole."""

    boxes: dict[Hashable, Placed]
    routes: list[list[tuple[float, float]]]
    width: float
    height: float
    ranks: list[list[Hashable]] = field(default_factory=list)


def layout(boxes: Sequence[Box], links: Sequence[Link], top: float = 0.0) -> Layout:
    """Place ``boxes`` in ranks, edges pointing down, labels between the ranks; ``top`` is room
    left free above the drawing (for a title)."""
    size = {b.key: b for b in boxes}
    for link in links:
        if link.label is not None:
            size[link.label.key] = link.label
    rank = _ranks([b.key for b in boxes], links)
    # chains of vertices, one per edge: source, (label), dummies..., target
    chains: list[list[Hashable]] = []
    for k, link in enumerate(links):
        chain: list[Hashable] = [link.source]
        r = rank[link.source] + 1
        if link.label is not None:
            chain.append(link.label.key)
            rank[link.label.key] = r
            r += 1
        while r < rank[link.target]:
            dummy = ("dummy", k, r)
            size[dummy] = Box(dummy, 0.0, 0.0)
            rank[dummy] = r
            chain.append(dummy)
            r += 1
        chains.append([*chain, link.target])
    down: dict[Hashable, list[Hashable]] = {v: [] for v in rank}
    up: dict[Hashable, list[Hashable]] = {v: [] for v in rank}
    for chain in chains:
        for a, b in itertools.pairwise(chain):
            down[a].append(b)
            up[b].append(a)
    order = _order(rank, down, up, [b.key for b in boxes])
    xs = _coordinates(order, size, down, up)
    ys, heights = [], []
    y = MARGIN + top
    for row in order:
        height = max((size[v].height for v in row), default=0.0)
        ys.append(y)
        heights.append(height)
        y += height + GAP_Y
    placed: dict[Hashable, Placed] = {}
    left = min((xs[v] for row in order for v in row), default=0.0)
    for r, row in enumerate(order):
        for v in row:
            b = size[v]
            anchor = b.width / 2 if b.anchor is None else b.anchor
            # a box shorter than its rank sits at the rank's middle
            top_y = ys[r] + (heights[r] - b.height) / 2
            placed[v] = Placed(xs[v] - left + MARGIN, top_y, b.width, b.height, anchor)
    routes = []
    for chain in chains:
        points = [(placed[chain[0]].ax, placed[chain[0]].y + placed[chain[0]].height)]
        for v in chain[1:-1]:
            p = placed[v]
            points += [(p.ax, ys[rank[v]]), (p.ax, ys[rank[v]] + heights[rank[v]])]
        points.append((placed[chain[-1]].ax, placed[chain[-1]].y))
        routes.append(points)
    width = max((p.x + p.width for p in placed.values()), default=0.0) + MARGIN
    return Layout(placed, routes, width, y - GAP_Y + MARGIN, [list(row) for row in order])


def _ranks(keys: list[Hashable], links: Sequence[Link]) -> dict[Hashable, int]:
    """Longest-path ranks, two per level: a vertex's rank is even, labels take the odd ones."""
    preds: dict[Hashable, list[Hashable]] = {k: [] for k in keys}
    for link in links:
        preds[link.target].append(link.source)
    level: dict[Hashable, int] = {}

    def visit(v: Hashable, seen: frozenset[Hashable]) -> int:
        if v in seen:
            raise ValueError(f"the graph must be acyclic; {v!r} reaches itself")
        if v not in level:
            level[v] = max((visit(u, seen | {v}) + 1 for u in preds[v]), default=0)
        return level[v]

    for k in keys:
        visit(k, frozenset())
    return {k: 2 * level[k] for k in keys}


def _order(
    rank: dict[Hashable, int],
    down: dict[Hashable, list[Hashable]],
    up: dict[Hashable, list[Hashable]],
    keys: list[Hashable],
) -> list[list[Hashable]]:
    """Each rank's vertices left to right: depth-first first, then barycentre sweeps."""
    n = max(rank.values(), default=-1) + 1
    order: list[list[Hashable]] = [[] for _ in range(n)]
    seen: set[Hashable] = set()

    def visit(v: Hashable) -> None:
        seen.add(v)
        order[rank[v]].append(v)
        for w in down[v]:
            if w not in seen:
                visit(w)

    for k in keys:
        if not up[k] and k not in seen:
            visit(k)
    for k in sorted(rank, key=lambda v: rank[v]):  # anything a root does not reach
        if k not in seen:
            visit(k)
    best, fewest = [list(row) for row in order], _crossings(order, down)
    for _ in range(SWEEPS):
        for r in range(1, n):
            _sort_by_mean(order[r], order[r - 1], up)
        for r in range(n - 2, -1, -1):
            _sort_by_mean(order[r], order[r + 1], down)
        count = _crossings(order, down)
        if count < fewest:
            best, fewest = [list(row) for row in order], count
    return best


def _sort_by_mean(
    row: list[Hashable], fixed: list[Hashable], neighbours: dict[Hashable, list[Hashable]]
) -> None:
    place = {v: i for i, v in enumerate(fixed)}
    current = {v: i for i, v in enumerate(row)}

    def mean(v: Hashable) -> float:
        near = [place[u] for u in neighbours[v] if u in place]
        return sum(near) / len(near) if near else float(current[v])

    row.sort(key=lambda v: (mean(v), current[v]))


def _crossings(order: list[list[Hashable]], down: dict[Hashable, list[Hashable]]) -> int:
    count = 0
    for upper, lower in itertools.pairwise(order):
        place = {v: i for i, v in enumerate(lower)}
        pairs = [(i, place[w]) for i, v in enumerate(upper) for w in down[v] if w in place]
        count += sum(
            1 for a, (i, j) in enumerate(pairs) for k, m in pairs[a + 1 :] if (i - k) * (j - m) < 0
        )
    return count


def _coordinates(
    order: list[list[Hashable]],
    size: dict[Hashable, Box],
    down: dict[Hashable, list[Hashable]],
    up: dict[Hashable, list[Hashable]],
) -> dict[Hashable, float]:
    """Left edges: each rank packed, then moved towards its neighbours' anchors, in passes."""
    x: dict[Hashable, float] = {}

    def anchor(v: Hashable) -> float:
        b = size[v]
        return b.width / 2 if b.anchor is None else b.anchor

    for row in order:
        left = 0.0
        for v in row:
            x[v] = left
            left += size[v].width + GAP_X
    ranks = list(range(len(order)))
    for _ in range(PASSES):
        for sweep, neighbours in ((ranks[1:], up), (ranks[-2::-1], down)):
            for r in sweep:
                row = order[r]
                wanted = []
                for v in row:
                    near = [x[u] + anchor(u) for u in neighbours[v]]
                    wanted.append(sum(near) / len(near) - anchor(v) if near else x[v])
                for v, left in zip(row, _fit(wanted, [size[v].width for v in row]), strict=True):
                    x[v] = left
    return x


def _fit(wanted: list[float], widths: list[float]) -> list[float]:
    """Left edges closest to ``wanted`` (least squares) keeping the order and ``GAP_X``: with
    ``x_i = s_i + t_i`` (``s_i`` the packed offsets) the constraints become ``t`` non-decreasing,
    an isotonic regression, which pooling adjacent violators solves exactly."""
    offsets, s = [], 0.0
    for w in widths:
        offsets.append(s)
        s += w + GAP_X
    blocks: list[list[float]] = []  # [sum, count] of pooled targets
    for want, off in zip(wanted, offsets, strict=True):
        blocks.append([want - off, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    t: list[float] = []
    for total, count in blocks:
        t += [total / count] * int(count)
    return [off + ti for off, ti in zip(offsets, t, strict=True)]
