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
    assert "`numpy` 8 ms (0.8x of one read" in text
    assert "in turn: 1.8x, the measured step: 1.9x" in text
    assert "not by the floating-point units" in text
    assert _in_cache_lines([], full, one_read) == []
    near = [{**passes[0], "core_gflops": 100.0}]
    assert "which the products come near" in " ".join(_in_cache_lines(near, [], one_read))
