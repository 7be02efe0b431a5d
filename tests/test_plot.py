"""The train() callback and its two users: the progress bar (only on a terminal, never with
--quiet or --json) and `lr-variants plot` (PNG files of loss curves, parameter trajectories and
decision boundaries)."""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import lr_variants as lv
from lr_variants.cli import _common, main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class FakeTty(io.StringIO):
    """stderr as an interactive terminal."""

    def isatty(self) -> bool:
        return True


# ---- the callback -----------------------------------------------------------------------------


def test_callback_gets_every_epoch_and_its_time_is_not_training_time() -> None:
    X, y = lv.two_blobs(20)
    calls: list[tuple[int, float]] = []

    def slow(epoch: int, loss: float) -> None:
        calls.append((epoch, loss))
        time.sleep(0.1)

    start = time.perf_counter()
    h = lv.train(lv.create("numpy", 2), X, y, epochs=3, callback=slow)
    wall = time.perf_counter() - start
    assert [e for e, _ in calls] == [1, 2, 3]
    np.testing.assert_array_equal([loss for _, loss in calls], h.epoch_loss)
    # the callbacks slept at least 0.3 s of the call's wall time, however busy the machine:
    # training time that excludes them leaves at least that much out
    assert 0 < h.seconds <= wall - 0.3
    with pytest.raises(TypeError, match=r"callback must be callable or None; got 3"):
        lv.train(lv.create("numpy", 2), X, y, callback=3)  # type: ignore[arg-type]


def test_recorder_keeps_the_parameters_of_every_epoch() -> None:
    from lr_variants.plot import Recorder

    X, y = lv.two_blobs(20)
    model = lv.create("autograd", 2, dtype="float64")
    start = np.append(*model.get_params())
    recorder = Recorder(model)
    h = lv.train(model, X, y, epochs=4, callback=recorder)
    run = recorder.run()
    assert run.name == "autograd" and run.params.shape == (5, 3)
    np.testing.assert_array_equal(run.params[0], start)
    np.testing.assert_array_equal(run.params[-1], np.append(*model.get_params()))
    np.testing.assert_array_equal(run.epoch_loss, h.epoch_loss)


# ---- the progress bar -------------------------------------------------------------------------


def _run(monkeypatch, argv: list[str], *, tty: bool) -> tuple[int, str, str]:
    out, err = io.StringIO(), FakeTty() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(_common, "_PROGRESS_DELAY", 0.0)  # draw even for a run this short
    code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_progress_bar_on_a_terminal_only(monkeypatch) -> None:
    pytest.importorskip("tqdm")
    argv = ["train", "--variant", "numpy", "--epochs", "20"]
    code, out_tty, err_tty = _run(monkeypatch, argv, tty=True)
    assert code == 0
    assert "numpy" in err_tty and "/20 [" in err_tty and "epoch" in err_tty  # the bar
    assert err_tty.endswith("\r")  # cleared when done (leave=False): the terminal stays clean
    code, out_pipe, err_pipe = _run(monkeypatch, argv, tty=False)
    assert (code, err_pipe) == (0, "")  # piped: no bar
    assert out_pipe == out_tty  # stdout is the same either way
    code, out_quiet, err_quiet = _run(monkeypatch, [*argv, "--quiet"], tty=True)
    assert (code, err_quiet, out_quiet) == (0, "", out_tty)


def test_json_is_never_mixed_with_progress(monkeypatch) -> None:
    argv = [
        "compare",
        "--variants",
        "numpy,module",
        "--epochs",
        "5",
        "--json",
        "--impl",
        "textbook",
    ]
    code, out, err = _run(monkeypatch, argv, tty=True)
    assert code == 0 and err == ""
    assert [r["variant"] for r in json.loads(out)["results"]] == ["numpy", "module"]


# ---- plots ------------------------------------------------------------------------------------


def _is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 10_000


def test_plot_writes_pngs_into_a_directory(tmp_path: Path, capsys) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "figures"
    argv = ["plot", "--out", str(out), "--variants", "numpy,module,scratch", "--epochs", "5"]
    assert main(argv) == 0
    names = ["loss.png", "params.png", "boundary.png"]
    assert capsys.readouterr().out.splitlines() == [f"wrote {out / n}" for n in names]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    assert all(_is_png(out / n) for n in names)


def test_plot_to_one_file_and_without_a_boundary_beyond_2d(tmp_path: Path, capsys) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "sub" / "all.png"
    assert main(["plot", "--out", str(path), "--variants", "numpy", "--epochs", "3"]) == 0
    assert _is_png(path) and sorted(p.name for p in path.parent.iterdir()) == ["all.png"]
    capsys.readouterr()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    data = tmp_path / "d3.npz"
    np.savez(data, X=X, y=(X[:, 0] > 0).astype(float))
    out = tmp_path / "d3"
    argv = ["plot", "--out", str(out), "--data", str(data), "--epochs", "3", "--json"]
    assert main([*argv, "--variants", "numpy,torch_manual"]) == 0
    files = json.loads(capsys.readouterr().out)["files"]
    assert [Path(f).name for f in files] == ["loss.png", "params.png"]  # 3 features: no boundary


def test_titles_say_when_the_curves_coincide() -> None:
    pytest.importorskip("matplotlib")
    from lr_variants import plot

    X, y = lv.two_blobs(30)
    runs = plot.trajectories(
        [lv.create(v, 2, dtype="float64") for v in ("numpy", "module")], X, y, epochs=5
    )
    figs = plot.figures(runs, X, y)
    assert sorted(figs) == ["boundary", "loss", "params"]
    assert "the 2 curves coincide" in figs["loss"].axes[0].get_title()
    other = plot.Run("other", runs[0].epoch_loss * 2, runs[0].params)
    loss_fig = plot.figures([runs[0], other], X, y)["loss"]
    assert "the curves differ by up to 1.0e+00" in loss_fig.axes[0].get_title()


def test_plot_without_matplotlib_is_one_line(monkeypatch, capsys, tmp_path: Path) -> None:
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.lines"):
        monkeypatch.setitem(sys.modules, name, None)  # as if it were not installed
    code = main(["plot", "--out", str(tmp_path / "x.png"), "--variants", "numpy", "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == "lr-variants: error: drawing needs matplotlib: pip install 'lr_variants[plot]'\n"
