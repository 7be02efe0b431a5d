"""Benchmark suite set-up: sizes (full, or small when benchmarks are disabled), machine facts.

Run ``make bench`` (or ``lr-variants bench``) for a full run that saves its JSON under
``bench/results/`` and renders ``docs/benchmarks.md``; ``pytest bench --benchmark-disable``
runs every benchmark once, on small data, as a plain test (what CI runs).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/'s helper modules

import workloads as wl


@pytest.fixture(scope="session")
def sizes(request: pytest.FixtureRequest) -> dict[str, wl.Workload]:
    """The workloads at full size, or small ones when benchmarks are disabled."""
    return wl.QUICK if wl.quick(request.config) else wl.FULL_SIZE


def pytest_benchmark_update_machine_info(config: Any, machine_info: dict[str, Any]) -> None:
    machine_info.get("cpu", {}).pop("flags", None)  # 100+ CPU flags: keep the JSON small
    machine_info["lr_variants"] = wl.machine()
    machine_info["lr_variants"]["quick_sizes"] = wl.quick(config)


_FAILED: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed:
        _FAILED.append(report.nodeid)


def pytest_benchmark_update_json(config: Any, benchmarks: Any, output_json: dict[str, Any]) -> None:
    # the report publishes only a run in which every test passed (bench/report.py)
    output_json["lr_variants"] = {"failed": sorted(set(_FAILED))}
