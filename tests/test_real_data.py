"""Real data: scikit-learn's bundled breast-cancer set (`--data sklearn:breast_cancer`),
`--standardize`, and what a user is told when SGD on raw features goes wrong."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import lr_variants as lv
from lr_variants.cli import main

needs_sklearn = pytest.mark.skipif(
    "sklearn" not in sys.modules and __import__("importlib").util.find_spec("sklearn") is None,
    reason="needs scikit-learn",
)


@needs_sklearn
def test_breast_cancer_loads_as_binary_data() -> None:
    X, y = lv.data.sklearn_data("breast_cancer")
    assert X.shape == (569, 30) and X.dtype == np.float64
    assert set(np.unique(y)) == {0.0, 1.0} and int(y.sum()) == 357  # 357 benign, 212 malignant
    assert X.max() > 4000  # raw features span ~1e-3 .. ~4e3: why --standardize exists


def test_standardize_uses_the_data_itself() -> None:
    X = np.array([[1.0, 5.0, 7.0], [3.0, 5.0, -1.0], [5.0, 5.0, 3.0]])
    Z, mean, scale = lv.data.standardize(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-15)
    np.testing.assert_allclose(Z.std(axis=0), [1.0, 0.0, 1.0])  # a constant column stays 0
    np.testing.assert_allclose(mean, [3.0, 5.0, 3.0])
    np.testing.assert_allclose(scale, [np.sqrt(8 / 3), 1.0, np.sqrt(32 / 3)])
    np.testing.assert_allclose(Z * scale + mean, X)
    with pytest.raises(ValueError, match=r"X must be 2-D"):
        lv.data.standardize([1.0, 2.0])


@needs_sklearn
def test_standardized_breast_cancer_trains_well(capsys) -> None:
    argv = ["compare", "--data", "sklearn:breast_cancer", "--standardize", "--epochs", "20"]
    assert main([*argv, "--variants", "numpy,module", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["settings"]["standardize"] is True and out["settings"]["n_features"] == 30
    assert all(r["accuracy"] > 0.97 and r["loss"] < 0.1 for r in out["results"])
    assert captured.err == ""  # converged: no warning


@needs_sklearn
def test_raw_features_get_a_warning_that_says_what_to_do(capsys) -> None:
    """On raw features SGD oscillates with a loss in the hundreds but stays finite (the stable
    loss never overflows): a one-line warning per variant says so, and what to change."""
    argv = ["train", "--variant", "numpy", "--data", "sklearn:breast_cancer", "--epochs", "20"]
    assert main(argv) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("lr-variants: warning: numpy: final loss ")
    assert "worse than predicting 1/2 for every row (log 2 = 0.693): SGD did not converge" in err[0]
    assert err[0].endswith("largest |feature| 4.25e+03); pass --standardize or lower --lr")


@needs_sklearn
@pytest.mark.parametrize("variant", ["numpy", "module"])
def test_divergence_is_one_line_and_exit_1(variant: str, capsys) -> None:
    argv = ["train", "--variant", variant, "--data", "sklearn:breast_cancer", "--lr", "1e34"]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1  # no NumPy overflow warnings before it
    assert captured.err.startswith(
        f"lr-variants: error: {variant}: training diverged: the loss became "
    )
    assert captured.err.endswith(
        "with lr=1e+34; lower lr or standardize X (its largest |value| is 4.25e+03)\n"
    )


@pytest.mark.parametrize(
    "data,message",
    [
        ("sklearn:iris", "sklearn data set must be one of ('breast_cancer',) (the binary"),
        ("sklearn:", "sklearn data set must be one of ('breast_cancer',)"),
    ],
)
def test_unknown_sklearn_data_is_one_line_exit_2(data: str, message: str, capsys) -> None:
    assert main(["compare", "--data", data]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_sklearn_data_without_sklearn_is_one_line_exit_2(monkeypatch, capsys) -> None:
    for name in ("sklearn", "sklearn.datasets"):
        monkeypatch.setitem(sys.modules, name, None)  # as if it were not installed
    assert main(["train", "--data", "sklearn:breast_cancer"]) == 2
    assert capsys.readouterr().err == (
        "lr-variants: error: data set sklearn:breast_cancer needs scikit-learn: "
        "pip install 'lr_variants[sklearn]'\n"
    )


@needs_sklearn
def test_estimator_in_a_pipeline_on_breast_cancer() -> None:
    """The ecosystem end to end: StandardScaler + SGDLogisticRegression, cross-validated."""
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from lr_variants.estimator import SGDLogisticRegression

    X, y = lv.data.sklearn_data("breast_cancer")
    pipe = make_pipeline(StandardScaler(), SGDLogisticRegression(epochs=30, random_state=0))
    scores = cross_val_score(pipe, X, y, cv=5)
    assert scores.mean() > 0.96
