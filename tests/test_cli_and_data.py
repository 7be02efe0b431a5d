"""The command line (`lr-variants compare` / `train`) and data loading."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import lr_variants as lv
from lr_variants.cli import main


def test_two_blobs_is_the_articles_data_bit_for_bit() -> None:
    state = np.random.get_state()
    np.random.seed(42)
    x1 = np.random.randn(500, 2) + np.array([2, 2])
    x2 = np.random.randn(500, 2) + np.array([-2, -2])
    np.random.set_state(state)
    X, y = lv.two_blobs()
    np.testing.assert_array_equal(X, np.vstack([x1, x2]))
    np.testing.assert_array_equal(y, [0.0] * 500 + [1.0] * 500)
    assert X.dtype == y.dtype == np.float64 and X.shape == (1000, 2)


def test_compare_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--json", "--epochs", "100"]) == 0
    out = json.loads(capsys.readouterr().out)  # one JSON object and nothing else
    results = [r for r in out["results"] if r["impl"] == "textbook"]  # plus fast forms
    assert [r["variant"] for r in results] == list(lv.VARIANTS)
    for r in results:
        assert set(r) >= {
            "variant",
            "w",
            "b",
            "loss",
            "accuracy",
            "seconds",
            "max_abs_param_diff",
            "impl",
            "steps",
        }
        assert len(r["w"]) == 2 and r["accuracy"] >= 0.99
        assert r["max_abs_param_diff"] < 1e-4  # float32: the variants agree to rounding
    assert results[0]["max_abs_param_diff"] == 0.0


def test_compare_table_and_options(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["compare", "--variants", "numpy,module", "--epochs", "3", "--lr", "0.05", "--impl"]
    args.append("textbook")
    assert main([*args, "--batch-size", "16", "--seed", "1", "--dtype", "float64"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "epochs 3, batch 16, lr 0.05, seed 1, float64 on cpu" in lines[0]
    assert lines[2].split()[0] == "numpy" and lines[3].split()[0] == "module"


def test_train_prints_like_the_article(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--variant", "numpy", "--epochs", "30"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split(",")[0] for ln in lines[:3]] == [
        "Epoch [10/30]",
        "Epoch [20/30]",
        "Epoch [30/30]",
    ]
    assert lines[3].startswith("Accuracy: ")


def test_data_files(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    X, y = lv.two_blobs(20)
    csv = tmp_path / "d.csv"
    csv.write_text(
        "a,b,label\n" + "\n".join(f"{a},{b},{int(c)}" for (a, b), c in zip(X, y, strict=True))
    )
    npz = tmp_path / "d.npz"
    np.savez(npz, X=X, y=y)
    for path in (csv, npz):
        Xl, yl = lv.load_data(path)
        np.testing.assert_allclose(Xl, X, rtol=1e-15)
        np.testing.assert_array_equal(yl, y)
        assert main(["compare", "--json", "--epochs", "2", "--data", str(path)]) == 0
        assert json.loads(capsys.readouterr().out)["settings"]["n_samples"] == 40


@pytest.mark.parametrize(
    "content,match",
    [
        ("1,2,0\n3,x,1\n", r"must hold only numbers"),
        ("1,2,0\n3,1\n", r"rows of equal length"),
        ("1,2,3\n4,5,1\n", r"y must hold only 0 and 1; got 3.0 at index 0"),
        ("a,b\n", r"at least one row"),
    ],
)
def test_bad_csv(tmp_path, content: str, match: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=match):
        lv.load_data(path)


def test_bad_npz(tmp_path) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, X=np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"must hold arrays 'X' and 'y'; got \['X'\]"):
        lv.load_data(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"is not a readable .npz"):
        lv.load_data(path)
    with pytest.raises(ValueError, match=r"data must be an existing file"):
        lv.load_data(tmp_path / "missing.csv")


@pytest.mark.parametrize(
    "argv,message",
    [
        (["compare", "--lr", "-1"], "lr must be > 0.0; got -1.0"),
        (["compare", "--variants", "numpy,foo"], "--variants must name variants from"),
        (["compare", "--epochs", "x"], "argument --epochs: invalid int value: 'x'"),
        (["compare", "--dtype", "float16"], "dtype must be one of"),
        (["compare", "--batch-size", "0"], "batch_size must be >= 1; got 0"),
        (["compare", "--data", "/nonexistent.csv"], "data must be an existing file"),
        (["train", "--variant", "jax"], "--variant must be one of"),
        (["compare", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_cli_errors_are_one_line_exit_2(argv, message, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors leave through parser.exit
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_python_dash_m_and_console_script_agree() -> None:
    """`python -m lr_variants` is the console script; a bad option exits 2 with one line."""
    out = subprocess.run(
        [sys.executable, "-m", "lr_variants", "compare", "--variants", "numpy", "--lr", "nan"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert out.stderr == "lr-variants: error: lr must be finite; got nan\n"
