"""Memory that does not grow with the data: messages that quote X, and data-parallel ranks on
a memory-mapped file (each reads only its rows)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import lr_variants as lv
from lr_variants._backends import is_mapped
from lr_variants._validate import max_abs


@pytest.fixture
def mapped(tmp_path: Path) -> np.ndarray:
    """A 16 MB float32 X on disk, memory-mapped; its largest |value| is -7.5, in its last row."""
    X = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float32,
                                  shape=(40_000, 100))  # fmt: skip
    X[:] = 0.25
    X[-1, 3] = -7.5
    X.flush()
    return np.load(tmp_path / "X.npy", mmap_mode="r")


def _peak(fn: object) -> tuple[object, int]:
    tracemalloc.start()
    try:
        out = fn()  # type: ignore[operator]
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_max_abs_reads_in_bounded_blocks(mapped: np.ndarray) -> None:
    """max |X| of a 16 MB map with at most 1 MB of temporaries (np.abs(X) would take 16 MB)."""
    value, peak = _peak(lambda: max_abs(mapped))
    assert value == 7.5
    assert peak < 1 << 20, peak
    assert np.isnan(max_abs(np.array([[1.0, np.nan]])))
    assert max_abs(np.array([[-3, 2]], dtype=np.int8)) == 3.0


def test_the_non_convergence_warning_on_a_mapped_file_is_bounded(
    mapped: np.ndarray, capsys: pytest.CaptureFixture[str]
) -> None:
    from lr_variants.cli import _common as c

    args = argparse.Namespace(standardize=False, epochs=1, lr=10.0)
    _, peak = _peak(lambda: c.warn_if_not_converging("numpy", 5.0, mapped, args))  # type: ignore[arg-type]
    assert "largest |feature| 7.5" in capsys.readouterr().err
    assert peak < 1 << 20, peak


def test_the_divergence_message_on_a_mapped_file_is_bounded(tmp_path: Path) -> None:
    """train() on a mapped file that diverges: the message quotes max |X| without a copy."""
    X = np.lib.format.open_memmap(tmp_path / "big.npy", mode="w+", dtype=np.float64,
                                  shape=(20_000, 100))  # fmt: skip
    X[:] = 1e30
    X.flush()
    Xm = np.load(tmp_path / "big.npy", mmap_mode="r")
    y = np.zeros(len(Xm))
    y[::2] = 1
    model = lv.create("numpy", 100, dtype="float64", lr=1e300)

    def run() -> str:
        with pytest.raises(FloatingPointError) as info, np.errstate(all="ignore"):
            lv.train(model, Xm, y, epochs=2, batch_size=None)
        return str(info.value)

    message, peak = _peak(run)
    assert "largest |value| is 1e+30" in str(message)
    # full batch of a 16 MB map: the step's own temporaries are a few rows' worth per block
    assert peak < 4 << 20, peak


WORKER = """
import numpy as np
import lr_variants as lv

def _kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])

def train_mapped(folder, plan, opener):
    model = lv.create("numpy", 100, dtype="float32", lr=0.1)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets the peak resident set (VmHWM) to the current one
    before = _kb("VmRSS")
    if opener == "np.load":
        X = np.load(folder + "/X.npy", mmap_mode="r")
        y = np.load(folder + "/y.npy", mmap_mode="r")
    else:
        X, y = lv.load_data(folder + "/X.npy," + folder + "/y.npy", scan=False)
    lv.train(model, X, y, distributed=True, **plan)
    return (_kb("VmHWM") - before) * 1024, model.get_params()[1]
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("opener", ["np.load", "load_data"])
def test_each_rank_reads_only_its_shard_of_a_mapped_file(tmp_path: Path, opener: str) -> None:
    """Full-batch data-parallel training on an 80 MB memory-mapped X (opened with
    ``np.load(mmap_mode="r")`` or ``lv.load_data(..., scan=False)``, counted), 2 ranks: each rank's peak
    resident memory grows by at most its 40 MB shard plus a quarter of the file, 20 MB (the
    checksummed rows at both ends, which a page fault maps with the pages around them, up to
    2 MB each with large folios; the step's temporaries); a pass over the whole file
    (validation, checksums) would add its other 40 MB and more. The ranks end equal."""
    n, d = 200_000, 100
    X = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float32, shape=(n, d))
    rng = np.random.default_rng(0)
    for lo in range(0, n, 20_000):
        X[lo : lo + 20_000] = rng.standard_normal((20_000, d), dtype=np.float32)
    X.flush()
    del X
    np.save(tmp_path / "y.npy", (rng.random(n) < 0.5).astype(np.float32))
    (tmp_path / "rank_memory.py").write_text(WORKER)
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        import lr_variants.distributed as d
        import rank_memory
        out = d.launch(rank_memory.train_mapped, {str(tmp_path)!r},
                       {{"epochs": 2, "batch_size": None}}, {opener!r}, world_size=2,
                       force_world_size=True,
                       timeout=300)
        print(out[0][0], out[1][0], out[0][1] == out[1][1])
    """)
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    grown0, grown1, equal = proc.stdout.split()
    shard = n * d * 4 // 2
    assert equal == "True"
    for grown in (int(grown0), int(grown1)):
        assert grown <= shard + n * d * 4 // 4, (grown, shard)


def test_load_data_without_scan_leaves_the_values_to_train(tmp_path: Path) -> None:
    """``scan=False``: a NaN in X is not read at load time; train() finds it, naming where,
    and the default ``scan=True`` refuses the pair at once."""
    X = np.ones((50, 2), dtype=np.float32)
    X[30, 1] = np.nan
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", (np.arange(50) % 2).astype(np.float32))
    pair = f"{tmp_path / 'X.npy'},{tmp_path / 'y.npy'}"
    with pytest.raises(ValueError, match=r"nan at index \(30, 1\)"):
        lv.load_data(pair)
    Xm, ym = lv.load_data(pair, scan=False)
    assert is_mapped(Xm) and Xm.shape == (50, 2)  # a view of the memory map: nothing read
    with pytest.raises(ValueError, match=r"nan at index \(30, 1\)"):
        lv.train(lv.create("numpy", 2, dtype="float32"), Xm, ym, epochs=1)
    with pytest.raises(TypeError, match="scan must be a bool; got 'no'"):
        lv.load_data(pair, scan="no")  # type: ignore[arg-type]


def test_load_data_refuses_scan_false_for_data_it_reads_into_memory(tmp_path: Path) -> None:
    """``scan=False`` is for a ``.npy`` pair read in place: a CSV is read and checked whole."""
    path = tmp_path / "d.csv"
    path.write_text("1.0,2.0,0\n3.0,4.0,1\n")
    with pytest.raises(ValueError, match=r"scan=False applies to a pair of \.npy files"):
        lv.load_data(path, scan=False)
    X, y = lv.load_data(path)
    assert X.shape == (2, 2) and list(y) == [0.0, 1.0]
