"""bench/report.py and its parts (report_data, report_complete, report_tables, report_chart):
the published part of docs/benchmarks.md is what the report renders from the run it names, that
run is complete, and a partial run is rendered beside its JSON but never published."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"


@pytest.fixture
def report(monkeypatch: pytest.MonkeyPatch) -> Any:
    """bench/report.py, imported with bench/ on sys.path for this test only (a worker process
    started later must not find bench/'s test modules before tests/')."""
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    import report as module

    return module


def _published(report: Any) -> tuple[str, str]:
    """The generated part of docs/benchmarks.md and the JSON it names (relative path)."""
    text = DOC.read_text()
    body = text[text.index(report.BEGIN) + len(report.BEGIN) + 1 : text.index(report.END)]
    found = re.search(r"JSON: `([^`]+)`", body)
    assert found, "the generated part names no JSON"
    return body, found[1]


def test_the_published_tables_are_the_reports_rendering_of_their_run(report: Any) -> None:
    body, name = _published(report)
    assert report.report(report.load(REPO / name), name, "benchmarks.png") == body


def test_a_partial_run_is_rendered_but_never_published(
    report: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")
    _, name = _published(report)
    data = json.loads((REPO / name).read_text())
    data["benchmarks"] = [b for b in data["benchmarks"] if b.get("group") != "startup"]
    # rows that benchmarks added after the published run are there in this test's run
    from report_data import THREAD_CASES

    have = {b["extra_info"].get("case") for b in data["benchmarks"] if b.get("group") == "threads"}
    template = data["benchmarks"][0]
    for case in (c for c in THREAD_CASES if c not in have):
        extra = {"workload": "threads", "case": case, "threads": 1}
        data["benchmarks"].append({**template, "group": "threads", "extra_info": extra})
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(data))
    doc = tmp_path / "benchmarks.md"
    doc.write_text(DOC.read_text())
    monkeypatch.setattr(report, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(report, "DOC", doc)
    reasons = report.missing(report.load(partial))
    assert reasons == ["3 missing row(s), e.g. startup/numpy"]
    with pytest.raises(report.ReportError, match=r"^not publishing a partial run \(3 missing"):
        report.render(partial, publish=True)
    assert doc.read_text() == DOC.read_text()  # the published page is left alone
    assert (
        (tmp_path / "results" / "partial.md")
        .read_text()
        .startswith("# Benchmark run `partial`\n\n**Partial run, not published**")
    )


def test_the_readmes_benchmark_figures_are_the_published_runs(report: Any) -> None:
    """README's paragraph on the benchmarks is generated from the run docs/benchmarks.md
    publishes (``--publish`` writes it), so no figure there is copied by hand."""
    _, name = _published(report)
    text = report.README.read_text()
    start = text.index(report.SUMMARY_BEGIN) + len(report.SUMMARY_BEGIN) + 1
    block = text[start : text.index(report.SUMMARY_END, start)]
    assert block == report.readme_summary(report.load(REPO / name), name)
    assert f"`{name}`" in block and "Targets met:" in block


def test_the_ladder_line_gives_both_draws_of_the_batch_plan(report: Any) -> None:
    """A run with the twin's draw names both; an older run, NumPy's alone, as it did."""
    from report_tables import _plan_line

    numba = {"loop_min": 0.002, "steps": 3200, "plan_s": 0.0009}
    old = _plan_line(numba)
    assert "NumPy permutation per epoch" in old and "(45%)" in old and "twin" not in old
    new = _plan_line({**numba, "plan_twin_s": 0.0002})
    assert "compiled twin" in new and "(10%)" in new and "against 0.9 ms" in new


def test_the_in_cache_line_sets_the_arithmetic_against_one_read(report: Any) -> None:
    """arithmetic / one read, one read + arithmetic, and the measured step, from the rows."""
    from report_tables import _in_cache_lines

    one_read = 0.01
    passes = [
        {"workload": "in_cache", "variant": "numpy", "full_s": 0.008, "core_gflops": 30.0,
         "core_peak_gflops": 120.0, "policy_threads": 2},
    ]  # fmt: skip
    full = [{"variant": "numpy", "impl": "fast", "loop_min": 0.095, "steps": 5}]
    text = " ".join(_in_cache_lines(passes, full, one_read))
    assert "`numpy` 8 ms (0.8x of one read; on one core, 30 GFLOP/s" in text
    assert "in turn: 1.8x, the measured step: 1.9x" in text
    assert "one core reaches 120 GFLOP/s" in text
    assert _in_cache_lines([], full, one_read) == []
    lost = [{**passes[0], "full_s": 0.0, "core_gflops": None}]
    text = " ".join(_in_cache_lines(lost, full, one_read))
    assert "`numpy` - (the slope" in text and "0 ms" not in text


def _benchmark(extra: dict[str, Any], seconds: float = 1.0) -> dict[str, Any]:
    """One pytest-benchmark entry of bench/test_distributed.py, as its JSON holds it."""
    stats = {"min": seconds, "median": seconds, "rounds": 1}
    return {"name": "test", "group": "distributed", "stats": stats, "extra_info": extra}


def _steps(world: int, step_us: float, single_loop_s: float) -> dict[str, Any]:
    info = {"workload": "article", "batch_size": 32, "steps": 1000, "variant": "numpy"}
    return _benchmark(
        {**info, "impl": "fast", "world": world, "step_us": step_us, "single_loop_s": single_loop_s}
    )


def _memory(world: int | None, shards: list[int], growth: list[int]) -> dict[str, Any]:
    info = {"case": "rank_memory", "opener": "np.load", "variant": "numpy", "impl": "fast"}
    info.update(n=1000, d=100, steps=5, x_bytes=400_000)
    return _benchmark(
        {**info, "world": world, "rank_shard_bytes": shards, "rank_peak_rss_growth_bytes": growth}
    )


def _command(command: str, wall_s: float) -> dict[str, Any]:
    return _benchmark({"case": "docs_command", "command": command, "wall_s": wall_s, "cores": 2})


def test_the_data_parallel_tables_are_rendered_from_their_rows(report: Any) -> None:
    """Steps per world size beside one process, the all_reduce, each rank's memory against its
    shard, the documented commands and their target: every figure computed from the rows."""
    data = {
        "benchmarks": [
            _steps(1, 80.0, 0.007),
            _steps(2, 1_234.0, 0.009),
            _benchmark({"n_values": 3, "all_reduce_us": 401.3, "world": 2}),
            _memory(None, [4 << 20], [5 << 20]),
            _memory(2, [2 << 20, 2 << 20], [3 << 20, 1 << 19]),
            _command("lr-variants compare --world-size 2", 40.0),
            _command("lr-variants compare --world-size 2 --epochs 10", 15.0),
        ]
    }
    text = report.report(data, "run.json", None)
    # one process: 0.007 s / 1000 steps = 7 us; 2 ranks 1,234 us, 176x as long
    assert "| `article` | `numpy` | fast | 32 | 7 | 80 | 1,234 | 176x |" in text
    assert "3 values 401 us" in text
    assert "| `np.load` | `numpy` | fast | 1 process | - | 4.0 | 5.0 | 1.25 |" in text
    assert "| `np.load` | `numpy` | fast | 2 ranks | 0 | 2.0 | 3.0 | 1.50 |" in text
    assert "| `np.load` | `numpy` | fast | 2 ranks | 1 | 2.0 | 0.5 | 0.25 |" in text
    assert "| `lr-variants compare --world-size 2 --epochs 10` | 15.0 |" in text
    target = (
        "| `docs/distributed.md`'s data-parallel commands (2) together in under 60 s on 2 "
        "cores | 55.0 s | - | **met** |"
    )
    assert target in text
    data["benchmarks"][-2] = _command("lr-variants compare --world-size 2", 46.0)  # 61 s
    assert target.replace("55.0 s | - | **met**", "61.0 s | - | not met") in (
        report.report(data, "run.json", None)
    )


def test_a_run_without_the_newer_data_parallel_rows_still_reports(report: Any) -> None:
    """Runs made before the memory and command benchmarks: their tables and target are left out,
    the rest is rendered; without any data-parallel row there is no such section."""
    steps = {"benchmarks": [_steps(1, 80.0, 0.007), _steps(2, 1_234.0, 0.009)]}
    text = report.report(steps, "run.json", None)
    assert "### Data parallelism (`bench/test_distributed.py`)" in text
    assert "memory-mapped" not in text and "docs/distributed.md" not in text
    assert "Targets" not in text  # nothing here is a target's row
    memory = {"benchmarks": [_memory(1, [4 << 20], [4 << 20])]}
    text = report.report(memory, "run.json", None)
    assert "### Data parallelism (`bench/test_distributed.py`)" not in text
    assert "| `np.load` | `numpy` | fast | 1 rank | 0 | 4.0 | 4.0 | 1.00 |" in text
    assert "Data parallelism" not in report.report({"benchmarks": []}, "run.json", None)


@pytest.mark.parametrize(
    "name", sorted(p.name for p in (REPO / "bench" / "results").glob("*.json"))
)
def test_every_kept_run_is_still_reported(report: Any, name: str) -> None:
    """Every JSON kept under bench/results/ renders, with a data-parallel section exactly where
    the run has data-parallel rows."""
    data = report.load(REPO / "bench" / "results" / name)
    text = report.report(data, f"bench/results/{name}", None)
    has = any(b.get("group") == "distributed" for b in data["benchmarks"])
    assert ("### Data parallelism" in text) == has


def test_the_threads_table_shows_every_entry_point_against_one_thread(report: Any) -> None:
    """The estimator's and the command line's rows, when the run has them, beside the API's."""
    from report_tables import threads_table

    rows = [
        {"group": "threads", "case": "api_pinned", "min": 0.2, "threads": 1},
        {"group": "threads", "case": "estimator_policy", "min": 0.25, "threads": 1},
        {"group": "threads", "case": "cli_policy", "min": 0.3, "threads": 1},
    ]
    text = "\n".join(threads_table(rows))
    assert (
        "| the same job through `SGDLogisticRegression.fit` | the policy's default | 1 | 250 | 1.25x |"
        in text
    )
    assert (
        "`lr-variants train` (`main`, in-process) | the policy's default | 1 | 300 | 1.5x |" in text
    )
    assert "estimator" not in "\n".join(threads_table(rows[:1]))
