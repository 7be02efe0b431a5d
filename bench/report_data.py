"""The benchmark run as the report reads it: the pytest-benchmark JSON (:func:`load`), one flat
row per benchmark (:func:`rows`), what each row measured (:func:`key`), and the vocabulary the
other report modules share (workloads, phases, the ladder's rungs, the targets).

Reading only: completeness is ``report_complete``'s, the tables ``report_tables``', the chart
``report_chart``'s, and running and writing ``report.py``'s.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

WORKLOADS = ("article", "wide", "full")
PHASES = ("batching", "forward", "backward", "update", "readback")
# The benchmark's targets: x faster than the article's loop (article workload, float32, CPU,
# one torch thread), for each variant's fastest implementation ...
RATIO_TARGETS = {"numpy": 33.0, "torch_manual": 22.0, "autograd": 3.4, "module": 1.7}
# ... and on the full workload, numpy, torch_manual and numba within 1.5x of reading X twice,
# and a step within 1.3x of reading it once (the two products on each block while it is in
# cache)
FLOOR_TARGET = 1.5
ONE_READ_TARGET = 1.3
FLOOR_VARIANTS = ("numpy", "torch_manual", "numba")
# ... and docs/distributed.md's data-parallel commands together in under a minute (seconds; the
# thread policy's target, bench/test_distributed.py::test_documented_command)
COMMANDS_TARGET_S = 60.0
STARTUP_PROGRAMS = ("numpy", "module", "article_script")
SCALE_VARIANTS = ("numpy", "torch_manual")  # bench/test_scale.py: textbook and fast each
SCALE_SOURCES = ("memory", "mapped")
BANDWIDTH_METHODS = ("sdot", "gemv")
# bench/test_threads.py: the thread policy against one thread and every core
THREAD_CASES = ("api_policy", "api_pinned", "api_all_cores", "dp_policy", "dp_all_cores")
# the overhead ladder's rungs (bench/test_ladder.py), top (most framework) to bottom (the floor)
LADDER = (
    "article",
    "module",
    "autograd",
    "func",
    "compiled",
    "torch_manual",
    "scratch",
    "numpy",
    "numpy-fast",
    "numba",
)


class ReportError(Exception):
    """A run or a JSON file the report cannot use; the message is one line for the user."""


def load(json_path: Path) -> dict[str, Any]:
    """The pytest-benchmark JSON at ``json_path``, checked for the fields the report reads."""
    try:
        data = json.loads(Path(json_path).read_text())
    except (OSError, ValueError) as exc:
        raise ReportError(f"{json_path} is not readable JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise ReportError(f"{json_path} is not pytest-benchmark JSON (no 'benchmarks' list)")
    for i, b in enumerate(data["benchmarks"]):
        stats = b.get("stats") if isinstance(b, dict) else None
        ok = isinstance(stats, dict) and all(
            isinstance(stats.get(k), (int, float)) for k in ("min", "median", "rounds")
        )
        if not ok or not isinstance(b.get("extra_info", {}), dict) or "name" not in b:
            raise ReportError(
                f"{json_path}: benchmark {i} lacks a name, extra_info or stats min/median/rounds"
            )
    return data


def flat_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat dict per benchmark: its extra_info, name, group and times."""
    rows = []
    for b in data["benchmarks"]:
        stats = b["stats"]
        row = dict(b.get("extra_info", {}))
        row.update(
            name=b["name"],
            group=b.get("group"),
            min=stats["min"],
            median=stats["median"],
            rounds=stats["rounds"],
        )
        # one figure or one per round, as each benchmark records it
        loops, cpu = (
            [v] if isinstance(v, (int, float)) else v for v in (row.get("loop_s"), row.get("cpu_s"))
        )
        row["loop_min"] = min(loops) if loops else None
        # CPU time means something only single-threaded: then it is the run's own time on a core
        row["cpu_min"] = min(cpu) if cpu and row.get("torch_threads") == 1 else None
        rows.append(row)
    return rows


def row_key(row: dict[str, Any]) -> tuple[Any, ...] | None:
    """What a row measured, as :func:`expected` names it."""
    group = row.get("group")
    if group in WORKLOADS and "variant" in row:
        return ("train", group, row["variant"], impl_of(row), row.get("device"), row.get("dtype"))
    if group == "phases":
        return ("phases", row.get("variant"), impl_of(row))
    if str(group).startswith("ladder-") and row.get("device") == "cpu":
        return ("ladder", row.get("rung"), row.get("dtype"))
    if row.get("workload") == "bandwidth":
        return ("bandwidth", row.get("method"))
    if row.get("workload") == "product":
        return ("product", row.get("library"))
    if row.get("workload") == "in_cache":
        return ("in_cache", row.get("variant"))
    if group == "startup":
        return ("startup", row.get("program"))
    if group == "scale":
        return ("scale", row.get("variant"), impl_of(row), row.get("source"))
    if group == "threads":
        return ("threads", row.get("case"))
    return None


def find_row(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    for r in rows:
        if all(r.get(k) == v for k, v in match.items()):
            return r
    return None


def read_bandwidth(rows: list[dict[str, Any]]) -> tuple[float, dict[str, float]] | None:
    """The best read bandwidth measured (bytes/s) and each method's."""
    each = {
        str(r["method"]): r["bytes_read"] / r["min"]
        for r in rows
        if r.get("workload") == "bandwidth"
    }
    return (max(each.values()), each) if each else None


def in_cache_passes(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each fast variant's full-batch pass with X in cache (``test_step_in_cache``), by name."""
    return {str(r["variant"]): r for r in rows if r.get("workload") == "in_cache"}


def first_products(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Each library's time (s) for a full-batch step's first product alone, ``z = X w``."""
    return {str(r["library"]): r["min"] for r in rows if r.get("workload") == "product"}


def data_parallel(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """``bench/test_distributed.py``'s rows by benchmark: ``"steps"`` (``test_data_parallel``),
    ``"all_reduce"``, ``"memory"`` (``test_rank_memory``) and ``"commands"``
    (``test_documented_command``); each list empty where the run has none (older runs have
    only the first two)."""
    mine = [r for r in rows if r.get("group") == "distributed"]
    return {
        "steps": [r for r in mine if "step_us" in r],
        "all_reduce": [r for r in mine if "all_reduce_us" in r],
        "memory": [r for r in mine if r.get("case") == "rank_memory"],
        "commands": [r for r in mine if r.get("case") == "docs_command"],
    }


def impl_of(r: dict[str, Any]) -> str:
    """The row's implementation; ``-`` for the article's loop (it has none)."""
    return "-" if r.get("variant") == "article" else str(r.get("impl", "textbook"))


def phase_us(r: dict[str, Any], phase: str) -> float:
    return float(r["phases"].get(phase, 0.0)) / r["steps"] * 1e6
