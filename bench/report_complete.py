"""Whether a benchmark run is complete, and so may be published: :func:`expected` lists every
row a complete run holds, :func:`missing` says why a run is not one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from report_data import (
    BANDWIDTH_METHODS,
    LADDER,
    SCALE_SOURCES,
    SCALE_VARIANTS,
    STARTUP_PROGRAMS,
    THREAD_CASES,
    WORKLOADS,
    flat_rows,
    row_key,
)


def expected(cuda: bool) -> Iterator[tuple[Any, ...]]:
    """Every row of a complete run (in :func:`report_data.row_key`'s form); ``cuda`` rows where
    the run's machine had a GPU, for the variants that declare they run on one."""
    import workloads as wl  # beside this file, on sys.path with it

    import lr_variants as lv

    for workload in WORKLOADS:
        for dtype in wl.FULL_SIZE[workload].dtypes:
            if dtype == "float32":
                yield ("train", workload, "article", "-", "cpu", dtype)
            for variant in lv.VARIANTS:
                devices = (
                    ("cpu", "cuda")
                    if cuda and "cuda" in lv.capabilities(variant).devices
                    else ("cpu",)
                )
                for impl in lv.impls(variant):
                    for device in devices:
                        yield ("train", workload, variant, impl, device, dtype)
    yield ("phases", "article", "-")
    for variant in lv.VARIANTS:
        for impl in lv.impls(variant):
            yield ("phases", variant, impl)
    for rung in LADDER:
        for dtype in ("float32",) if rung == "article" else ("float32", "float64"):
            yield ("ladder", rung, dtype)
    for method in BANDWIDTH_METHODS:
        yield ("bandwidth", method)
    for program in STARTUP_PROGRAMS:
        yield ("startup", program)
    for case in THREAD_CASES:
        yield ("threads", case)
    for variant in SCALE_VARIANTS:
        for impl in ("textbook", "fast"):
            for source in SCALE_SOURCES:
                yield ("scale", variant, impl, source)


def missing(data: dict[str, Any]) -> list[str]:
    """Why ``data`` is not a complete run (empty if it is): quick sizes, failed tests, rows
    that are not there."""
    info = data.get("machine_info", {}).get("lr_variants", {})
    reasons = []
    if info.get("quick_sizes", True):
        reasons.append("small sizes (benchmarks disabled or LR_BENCH_QUICK=1)")
    if info.get("plugin_variants"):
        reasons.append(f"plug-in variants {info['plugin_variants']} (LR_BENCH_VARIANTS)")
    failed = data.get("lr_variants", {}).get("failed", [])
    if failed:
        reasons.append(f"{len(failed)} failed test(s), e.g. {failed[0]}")
    have = {row_key(r) for r in flat_rows(data)}
    absent = [k for k in expected(bool(info.get("cuda"))) if k not in have]
    if absent:
        reasons.append(
            f"{len(absent)} missing row(s), e.g. {'/'.join(str(part) for part in absent[0])}"
        )
    return reasons
