"""Every output quoted in README.md and docs/ is what its command prints now
(``tools/docs_outputs.py``: exact values digit for digit, declared noise within its declared
bound, timings masked), and the checker itself fails a changed exact value or a noise value
outside its bound."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import docs_outputs as docs

BLOCKS = [block for name in docs.FILES for block in docs.blocks(docs.REPO / name)]
IDS = [f"{b.path.name}:{b.line}" for b in BLOCKS] or None


@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS, ids=IDS)
def test_quoted_output_is_what_the_command_prints(block: docs.Block) -> None:
    diff = docs.differences(block, docs.run(block.command))
    assert not diff, f"{block.path.name}:{block.line} `{block.command}`:\n" + "\n".join(diff)


# ------------------------------------------------------------------------ the checker itself


def _block(text: list[str], *noise: str, timings: str | None = None) -> docs.Block:
    pattern = re.compile(timings) if timings else None
    declared = [docs.Noise.parse(n) for n in noise]
    return docs.Block(Path("x.md"), 1, "cmd", pattern, 0, 0, text, declared)


TABLE = [
    "variant      final loss  train s    max |param diff| vs numpy",
    "numpy        0.00555174    0.052                            0",
    "autograd     0.00555174    0.061                     2.38e-07",
]
LOSS = 'column "final loss" ± 32 ulp32'
DIFF = 'column "max |param diff| vs numpy" <= 8 ulp32(2.6)'  # 8 x 2.38e-7 = 1.9e-6
TIME = r"(?<=\d\.\d{8}) +\d+\.\d{3}\b"


def _with(line: int, old: str, new: str) -> list[str]:
    changed = list(TABLE)
    assert old in changed[line]
    changed[line] = changed[line].replace(old, new)
    return changed


def test_an_exact_value_must_match_to_the_last_digit() -> None:
    """No tolerance on what is not declared noise: one digit, however far down, fails."""
    quoted = ["0.005568914494623415 0.005554382050800051 0.999"]
    assert docs.differences(_block(quoted), quoted) == []
    assert docs.differences(_block(quoted), ["0.005568914494623416 0.005554382050800051 0.999"])
    assert docs.differences(_block(quoted), ["0.005568914494623415 0.005554382050800051 0.998"])
    assert docs.differences(_block(["w[0] -2.3896723"]), ["w[0] -2.3896745"])
    assert docs.differences(_block(["w[0] -2.3896723"]), ["w[0] -2.38967230"])  # as printed
    # declared noise in one column leaves the other columns exact
    block = _block(TABLE, DIFF, timings=TIME)
    assert docs.differences(block, TABLE) == []
    assert docs.differences(block, _with(2, "0.00555174", "0.00555175"))


def test_timings_are_masked() -> None:
    block = _block(TABLE, timings=TIME)
    assert docs.differences(block, _with(1, "0.052", "3.731")) == []
    assert docs.differences(_block(TABLE), _with(1, "0.052", "3.731"))


def test_a_bounded_value_passes_inside_its_bound_and_fails_outside() -> None:
    block = _block(TABLE, LOSS, DIFF, timings=TIME)
    # param diff: any value up to 8 float32 ulps of 2.6 (1.907e-6), however the quoted one reads
    assert docs.differences(block, _with(2, "2.38e-07", "7.15e-07")) == []
    assert docs.differences(block, _with(2, "2.38e-07", "       0")) == []
    assert docs.differences(block, _with(2, "2.38e-07", "1.90e-06")) == []
    assert docs.differences(block, _with(2, "2.38e-07", "1.92e-06"))
    assert docs.differences(block, _with(1, "           0", "    2.38e-05"))
    # final loss: 32 ulps of 0.0055 (1.5e-8) plus half a printed digit on each side (1e-8)
    assert docs.differences(block, _with(1, "0.00555174", "0.00555176")) == []
    assert docs.differences(block, _with(1, "0.00555174", "0.00555177"))
    assert docs.differences(block, _with(1, "0.00555174", "0.00555274"))
    # the text around a bounded value stays exact
    assert docs.differences(block, _with(2, "autograd", "autograf"))


def test_rows_cells_and_after() -> None:
    article = [
        "                   article         numpy        module",
        "Accuracy            0.9990        0.9990        0.9990",
        "max |param diff|         -      1.49e-08             0",
        "max |param diff|: final w and b against the article's",
    ]
    cell = _block(article, 'row "max |param diff|" column "numpy" <= 4 ulp32(2.6)')
    assert docs.differences(cell, article) == []
    moved = [*article[:2], article[2].replace("1.49e-08", "4.47e-07"), article[3]]
    assert docs.differences(cell, moved) == []
    # module's cell is not declared: it stays exact (the article-exact variant)
    assert docs.differences(cell, [*article[:2], article[2][:-1] + "1", article[3]])
    after = _block(["loss 1278 is worse (log 2 = 0.693)"], 'after "loss" > 0.693')
    assert docs.differences(after, ["loss 752.4 is worse (log 2 = 0.693)"]) == []
    assert docs.differences(after, ["loss 0.5 is worse (log 2 = 0.693)"])
    assert docs.differences(after, ["loss 752.4 is worse (log 2 = 0.694)"])


def test_a_declaration_must_select_and_hold_for_the_quoted_text() -> None:
    unused = _block(TABLE, 'column "accuracy" <= 1')
    assert any("selects no value" in d for d in docs.differences(unused, TABLE))
    broken = _block(TABLE, 'column "max |param diff| vs numpy" <= 1 ulp32(0.1)')
    assert any("quoted value 2.38e-07" in d for d in docs.differences(broken, TABLE))
    for spec in ['column "x"', "<= 3", 'column "x" <= three', 'after "a" column "b" <= 1']:
        with pytest.raises(ValueError, match="noise declaration"):
            docs.Noise.parse(spec)


def test_ulps() -> None:
    assert docs.ulp(2.6, "ulp32") == 2.0**-22
    assert docs.ulp(-2.6, "ulp64") == 2.0**-51
    assert docs.ulp(0.0055, "ulp32") == 2.0**-31


# --------------------------------------------------------------- the pages' own declarations

LAST_DIGIT = re.compile(r"\d(?=\.?(?:[eE][-+]?\d+)?$)")  # of the mantissa: 8 in 2.38e-07


@pytest.mark.parametrize("block", BLOCKS, ids=IDS)
def test_every_exact_number_of_a_page_is_checked_to_its_last_digit(block: docs.Block) -> None:
    """The page's declarations hold for its own text, and changing the last digit of any number
    outside its timings and declared noise makes the check fail."""
    assert docs.differences(block, block.text) == []
    masked, _ = docs._masked(block.text, block)
    for k, line in enumerate(block.text):
        for m in docs.NUMBER.finditer(line):
            digit = LAST_DIGIT.search(m.group())
            assert digit is not None
            at = m.start() + digit.start()
            changed = line[:at] + str((int(line[at]) + 1) % 10) + line[at + 1 :]
            text = [*block.text[:k], changed, *block.text[k + 1 :]]
            if docs._masked(text, block)[0] == masked:
                continue  # the digit is part of a timing or of a declared noise value
            assert docs.differences(block, text), f"line {k + 1}: {changed!r} passed"
