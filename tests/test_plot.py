"""The train() callback and its two users: the progress bar (only on a terminal, never with
--quiet or --json) and `lr-variants plot` (PNG files of loss curves, parameter trajectories and
decision boundaries)."""

from __future__ import annotations

import errno
import io
import json
import sys
import time
import warnings
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


# ---- the distance from the reference ----------------------------------------------------------


def test_distance_panel_beside_the_loss_curves() -> None:
    """The loss figure's second panel draws, per variant but the reference, max |params -
    reference's params| after every epoch; an exact 0 sits on the floor line, labelled 0."""
    pytest.importorskip("matplotlib")
    from lr_variants import plot

    X, y = lv.two_blobs(30)
    runs = plot.trajectories(
        [lv.create(v, 2) for v in ("autograd", "numpy", "torch_manual")], X, y, epochs=6
    )
    shifted = plot.Run("shifted", runs[1].epoch_loss, runs[1].params + 3e-5)
    runs.append(shifted)
    assert plot.reference_index(runs) == 1  # numpy, as compare() picks it
    dist = plot.distances(runs, 1)
    np.testing.assert_allclose(dist[3], 3e-5, rtol=1e-9)  # float64 arithmetic on the shift
    assert np.all(dist[1] == 0) and dist[0][0] == 0  # itself; the same start
    ax = plot.figures(runs, X, y)["loss"].axes[1]
    assert ax.get_yscale() == "log" and ax.get_title().startswith("Distance from numpy")
    floor = plot.distance_floor([d for k, d in enumerate(dist) if k != 1])
    lines = {line.get_label(): line.get_ydata() for line in ax.get_lines()}
    assert sorted(lines) == ["_zero", "autograd", "shifted", "torch_manual"]  # + floor line
    for k, name in [(0, "autograd"), (2, "torch_manual"), (3, "shifted")]:
        np.testing.assert_array_equal(lines[name], np.maximum(dist[k], floor))
    assert ax.yaxis.get_major_formatter()(floor) == "0"
    assert ax.get_ylim()[0] < floor and "0 on the bottom line" in ax.get_ylabel()
    assert "largest 3.0e-05 (shifted)" in ax.get_title()


def test_distance_floor_is_a_decade_below_the_smallest_nonzero() -> None:
    from lr_variants.plot import distance_floor

    assert distance_floor([np.array([0.0, 3e-8, 1e-7]), np.array([0.0, 0.0])]) == 1e-9
    assert distance_floor([np.array([0.0, 2.5e-16])]) == pytest.approx(1e-17, rel=1e-12)
    assert distance_floor([np.zeros(3)]) == 1e-16 and distance_floor([]) == 1e-16


def test_reference_must_name_a_run() -> None:
    from lr_variants import plot

    run = plot.Run("a", np.ones(2), np.zeros((3, 2)))
    assert plot.reference_index([run, plot.Run("b", np.ones(2), np.zeros((3, 2)))], "b") == 1
    with pytest.raises(ValueError, match=r"reference must name one of the runs \['a'\]; got 'c'"):
        plot.reference_index([run], "c")
    with pytest.raises(ValueError, match="runs must have the same epochs and parameters"):
        plot.distances([run, plot.Run("b", np.ones(3), np.zeros((4, 2)))])


def test_identical_runs_say_so() -> None:
    pytest.importorskip("matplotlib")
    from lr_variants import plot

    X, y = lv.two_blobs(20)
    runs = plot.trajectories([lv.create(v, 2) for v in ("numpy", "scratch")], X, y, epochs=3)
    with warnings.catch_warnings():  # every distance 0: the panel draws without a warning
        warnings.simplefilter("error")
        title = plot.figures(runs, X, y)["loss"].axes[1].get_title()
    assert "every variant is identical to numpy, bit for bit" in title  # the same float32 ops


@pytest.mark.parametrize("out", ["all.png", "figures"])
def test_a_failed_write_keeps_the_old_picture(tmp_path: Path, monkeypatch, capsys, out) -> None:
    """Drawing fails half-way through the file (as a full disk would): the picture already
    there is unchanged, no temporary file is left, and the command says so in one line."""
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    target = tmp_path / out
    old = target if out.endswith(".png") else target / "loss.png"
    old.parent.mkdir(exist_ok=True)
    old.write_bytes(b"the old picture")
    before = sorted(tmp_path.rglob("*"))

    def half_then_full(self, f, **kwargs) -> None:
        f.write(b"\x89PNG half a picture")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", half_then_full)
    argv = ["plot", "--out", str(target), "--variants", "numpy", "--epochs", "2"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lr-variants: error: --out ")
    assert "No space left on device" in err and "unchanged" in err
    assert old.read_bytes() == b"the old picture" and sorted(tmp_path.rglob("*")) == before
