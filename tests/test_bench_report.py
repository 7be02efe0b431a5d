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
