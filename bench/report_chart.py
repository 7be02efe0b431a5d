"""The report's chart (``docs/benchmarks.png``): four panels drawn from a benchmark run's rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from report_data import (
    FLOOR_TARGET,
    LADDER,
    PHASES,
    ReportError,
    find_row,
    flat_rows,
    impl_of,
    phase_us,
    read_bandwidth,
)


def _label(r: dict[str, Any]) -> str:
    if r["variant"] == "article":
        return "article's loop"
    return f"{r['variant']} ({impl_of(r)})"


def chart(data: dict[str, Any], png: Path) -> None:
    """Four panels: the article workload's times, the full workload's bandwidth, the phases of
    a step, and the overhead ladder (time per step, split into the arithmetic floor and the
    rest)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ReportError(
            "the chart needs matplotlib: pip install -c constraints.txt -e '.[bench]'"
        ) from exc
    rows = flat_rows(data)
    fig, axes = plt.subplots(1, 4, figsize=(24, 6))

    ax = axes[0]
    art = [
        r
        for r in rows
        if r.get("group") == "article" and r.get("device") == "cpu"
        and r.get("dtype") == "float32"
    ]  # fmt: skip
    art.sort(key=lambda r: r["min"], reverse=True)
    base = find_row(art, variant="article")
    times = [r["min"] * 1e3 for r in art]
    colors = [
        "#999999" if r["variant"] == "article" else "#e67e22" if impl_of(r) == "fast" else "#3b75af"
        for r in art
    ]
    ax.barh([_label(r) for r in art], times, color=colors)
    ax.set_xscale("log")
    ax.set_xlabel("training time, ms (log scale)")
    ax.set_title("article workload: 3,200 steps (float32, CPU)")
    for i, r in enumerate(art):
        label = f"{r['min'] * 1e3:,.0f} ms"
        if base and r is not base:
            label += f"  ({base['min'] / r['min']:.1f}x)"
        ax.text(r["min"] * 1e3 * 1.08, i, label, va="center", fontsize=9)
    ax.set_xlim(right=max(times, default=1) * 8)

    ax = axes[1]
    bw = read_bandwidth(rows)
    full = [
        r
        for r in rows
        if r.get("group") == "full" and r.get("loop_min") and r.get("device") == "cpu"
    ]
    full.sort(key=lambda r: r["loop_min"])
    if full and bw:
        gbs = [2 * r["x_bytes"] * r["steps"] / r["loop_min"] / 1e9 for r in full]
        ax.bar([_label(r) for r in full], gbs, color="#3b75af")
        ax.axhline(bw[0] / 1e9, color="#c0392b", linestyle="--")
        ax.text(
            len(full) - 0.5, bw[0] / 1e9, f"read bandwidth {bw[0] / 1e9:.1f} GB/s",
            ha="right", va="bottom", color="#c0392b", fontsize=9,
        )  # fmt: skip
        ax.axhline(bw[0] / 1e9 / FLOOR_TARGET, color="#e67e22", linestyle=":")
        ax.text(
            len(full) - 0.5, bw[0] / 1e9 / FLOOR_TARGET, f"target: 1/{FLOOR_TARGET:g} of it",
            ha="right", va="bottom", color="#e67e22", fontsize=9,
        )  # fmt: skip
        for i, v in enumerate(gbs):
            ax.text(i, v, f"{v:.1f}", ha="center", va="bottom", fontsize=9)
        ax.set_ylim(top=bw[0] / 1e9 * 1.2)
    ax.set_ylabel("GB/s (2 passes over X per step)")
    ax.set_title("full workload: 1,000,000 x 100 float32, full batch")
    ax.tick_params(axis="x", rotation=30)
    for tick in ax.get_xticklabels():
        tick.set_horizontalalignment("right")

    ax = axes[2]
    ph = [r for r in rows if r.get("group") == "phases"]
    ph.sort(key=lambda r: sum(phase_us(r, p) for p in PHASES))
    if ph:
        labels = [_label(r) for r in ph]
        left = [0.0] * len(ph)
        palette = ["#8e44ad", "#3b75af", "#27ae60", "#e67e22", "#7f8c8d"]
        # a derived phase can come out negative (see the table's note): drawn as 0
        drawn = [[max(phase_us(r, p), 0.0) for p in PHASES] for r in ph]
        for k, (p, color) in enumerate(zip(PHASES, palette, strict=True)):
            share = [100 * d[k] / sum(d) for d in drawn]
            ax.barh(labels, share, left=left, color=color, label=p)
            left = [a + b for a, b in zip(left, share, strict=True)]
        for i, r in enumerate(ph):
            total = sum(phase_us(r, p) for p in PHASES)
            ax.text(101, i, f"{total:.1f} us", va="center", fontsize=9)
        ax.set_xlim(0, 118)
        ax.set_xlabel("share of the step's time, % (total per step on the right)")
        ax.legend(fontsize=8, loc="lower center", ncol=5, bbox_to_anchor=(0.45, -0.2))
    ax.set_title("article workload: one step, by phase")

    ax = axes[3]
    ladder = {r["rung"]: r for r in rows if r.get("group") == "ladder-float32"}
    rungs = [rung for rung in LADDER if rung in ladder]
    if rungs:
        step = [
            1e6 * (ladder[g]["loop_min"] or ladder[g]["min"]) / ladder[g]["steps"] for g in rungs
        ]
        floor = min(step)  # the numba rung, when it ran
        ax.barh(rungs, [floor] * len(rungs), color="#27ae60", label="arithmetic floor (numba)")
        ax.barh(rungs, [v - floor for v in step], left=[floor] * len(rungs), color="#3b75af",
                label="overhead")  # fmt: skip
        for i, v in enumerate(step):
            ax.text(v * 1.08, i, f"{v:.3g} us", va="center", fontsize=9)
        ax.set_xscale("log")
        ax.set_xlim(floor * 0.3, max(step) * 6)  # bars start at the left edge
        ax.invert_yaxis()
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel("microseconds per step (log scale)")
    ax.set_title("the overhead ladder: article workload, float32, CPU")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=100)
    plt.close(fig)
