"""Every output quoted in README.md and docs/ is what its command prints now
(``tools/docs_outputs.py``: deterministic values exactly or within 1e-6 relative; timings
masked), and the checker itself notices a changed value."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import docs_outputs as docs

BLOCKS = [block for name in docs.FILES for block in docs.blocks(docs.REPO / name)]


@pytest.mark.parametrize("block", BLOCKS, ids=[f"{b.path.name}:{b.line}" for b in BLOCKS] or None)
def test_quoted_output_is_what_the_command_prints(block: docs.Block) -> None:
    diff = docs.differences(block, docs.run(block.command))
    assert not diff, f"{block.path.name}:{block.line} `{block.command}`:\n" + "\n".join(diff)


def _block(text: list[str], timings: str | None = None) -> docs.Block:
    pattern = re.compile(timings) if timings else None
    return docs.Block(Path("x.md"), 1, "cmd", pattern, 0, 0, text)


def test_the_checker_notices_a_changed_value_and_ignores_timings() -> None:
    quoted = ["numpy  0.00555174  0.9990  0.052"]
    timing = r"\d+\.\d{3}$"
    assert docs.differences(_block(quoted, timing), ["numpy  0.00555174  0.9990  0.731"]) == []
    assert docs.differences(_block(quoted, timing), ["numpy  0.00555175  0.9990  0.052"])
    assert docs.differences(_block(quoted), ["numpy  0.00555174  0.9990  0.731"])
    assert docs.differences(_block(quoted), ["numpy  0.00555174  0.9990"])
    assert docs.differences(_block(quoted), ["numpy  0.0055517400001  0.9990  0.052"]) == []
