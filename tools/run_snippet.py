"""Run the Python example of a Markdown page, so that the output quoted under it is checked.

``python tools/run_snippet.py docs/ecosystem.md checkpoint.lrv`` runs the one fenced
```` ```python ```` block of ``docs/ecosystem.md`` that contains the text ``checkpoint.lrv``, in a
fresh temporary directory (files it writes vanish), with the repository first on ``sys.path``.
A page quotes its output with ``<!-- output-of: python tools/run_snippet.py PAGE TEXT -->``
(``tools/docs_outputs.py``): the code shown is the code run.
"""

from __future__ import annotations

import os
import runpy
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def snippet(page: Path, text: str) -> str:
    """The one ```python block of ``page`` containing ``text``."""
    found, block, inside = [], [], False
    for line in page.read_text().splitlines():
        if not inside and line.strip() == "```python":
            inside, block = True, []
        elif inside and line.strip().startswith("```"):
            inside = False
            if any(text in b for b in block):
                found.append("\n".join(block) + "\n")
        elif inside:
            block.append(line)
    if len(found) != 1:
        raise SystemExit(f"{page}: {len(found)} python blocks contain {text!r}; need exactly one")
    return found[0]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        raise SystemExit("usage: run_snippet.py PAGE TEXT")
    code = snippet(REPO / argv[0], argv[1])
    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        path = Path(tmp) / "snippet.py"
        path.write_text(code)
        runpy.run_path(str(path), run_name="__main__")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
