"""What the command line says about itself and how its commands are wired: help, --version,
--impl, live per-epoch lines, and lr_variants.compare, the function behind `lr-variants
compare` (the bench command: tests/test_bench_installed.py)."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from pathlib import Path

import pytest

import lr_variants as lv
from lr_variants.cli import main
from lr_variants.compare import compare_article

COMMANDS = ["compare", "train", "solve", "explain", "plot", "bench"]


def _fast_loads() -> bool:
    if importlib.util.find_spec("lr_variants.tuned") is None:
        return False
    try:
        lv.create("numpy", 2, impl="fast")
    except (ImportError, AttributeError):
        return False
    return True


needs_fast = pytest.mark.skipif(
    not _fast_loads(),
    reason="the fast implementations (lr_variants.tuned) are not importable here",
)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_describes_itself_with_an_example(command, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "example:\n  lr-variants " + command in out
    description = out.split("\n\n")[1]  # after the usage
    assert len(description.split()) > 25  # a paragraph, not a line


def test_help_lists_the_closed_sets(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "{numpy,autograd,module,torch_manual,scratch,func,compiled,numba}" in out
    assert "{float32,float64}" in out and "{textbook,fast}" in out
    with pytest.raises(SystemExit):
        main(["explain", "--help"])
    assert "{stable,sigmoid_bce}" in capsys.readouterr().out


def test_train_help_says_plugins_are_accepted(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the help text
    assert "a registered plug-in's name, or package.module:attribute" in out


def test_version(capsys) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"lr-variants {version('lr_variants')}\n"


def test_compare_settings_carry_every_option_that_changes_the_result(capsys) -> None:
    argv = ["compare", "--variants", "numpy", "--epochs", "2", "--momentum", "0.5"]
    argv += ["--dampening", "0", "--nesterov", "--weight-decay", "0.01", "--impl", "textbook"]
    assert main([*argv, "--json"]) == 0
    s = json.loads(capsys.readouterr().out)["settings"]
    assert (s["momentum"], s["dampening"], s["nesterov"], s["weight_decay"]) == (
        0.5,
        0.0,
        True,
        0.01,
    )
    assert s["impls"] == ["textbook"] and s["order"] == "shuffle" and "threads" in s
    assert main(argv) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert "SGD momentum 0.5, dampening 0, nesterov on, weight decay 0.01" in header
    assert "shuffle order; impl textbook" in header


def test_results_name_their_implementation(capsys) -> None:
    argv = ["compare", "--variants", "autograd,numpy", "--epochs", "2", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    textbook = [r for r in out["results"] if r["impl"] == "textbook"]
    assert [r["variant"] for r in textbook] == ["autograd", "numpy"]
    assert all(r["reference"] == "numpy" for r in out["results"])  # numpy textbook, not first
    assert main(["compare", "--variants", "autograd", "--impl", "fast"]) == 2
    fast = "('numpy', 'module', 'torch_manual', 'numba')"
    assert f"only {fast} have a fast one" in capsys.readouterr().err


@needs_fast
def test_both_impls_side_by_side(capsys) -> None:
    assert main(["compare", "--variants", "numpy,module", "--epochs", "5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(r["variant"], r["impl"]) for r in out["results"]] == [
        ("numpy", "textbook"),
        ("numpy", "fast"),
        ("module", "textbook"),
        ("module", "fast"),
    ]
    assert out["skipped"] == [] and all(r["max_abs_param_diff"] < 1e-4 for r in out["results"])
    assert main(["train", "--variant", "numpy", "--impl", "fast", "--epochs", "10"]) == 0


def test_train_prints_each_line_as_its_epoch_ends(monkeypatch) -> None:
    """Every `Epoch [k/N]` line is on stdout (flushed) before epoch k + 1 starts."""
    seen: list[str] = []
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    real_train = lv.training.train

    def spy(*args, batch_callback, **kwargs):
        def each(epoch: int, losses) -> None:  # train's last call of the epoch
            batch_callback(epoch, losses)
            seen.append(out.getvalue())  # what stdout holds when the epoch has ended

        return real_train(*args, batch_callback=each, **kwargs)

    monkeypatch.setattr("lr_variants.cli.train.train", spy)
    assert main(["train", "--variant", "numpy", "--epochs", "20"]) == 0
    assert seen[9].splitlines() == [out.getvalue().splitlines()[0]]  # after epoch 10
    assert seen[10].count("\n") == 1  # nothing new until epoch 20


def test_train_lines_and_article_json_unchanged(capsys) -> None:
    assert main(["train", "--variant", "numpy", "--epochs", "20", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["result"]["impl"] == "textbook" and out["settings"]["impls"] == ["textbook"]


def test_compare_as_a_function() -> None:
    X, y = lv.two_blobs(50)
    calls: list[tuple[str, int]] = []
    c = lv.compare(
        X,
        y,
        variants=["numpy", "scratch"],
        impls=["textbook"],
        epochs=3,
        dtype="float64",
        weight_decay=0.1,
        callback=lambda model, epoch, loss: calls.append((model.name, epoch)),
    )
    assert calls == [(n, e) for n in ("numpy", "scratch") for e in range(4)]
    numpy_, scratch = c.results
    assert numpy_.max_abs_param_diff == 0.0 and scratch.max_abs_param_diff < 1e-14
    assert c.optimum is not None and c.optimum_error == ""
    assert numpy_.loss_gap is not None and numpy_.loss_gap >= 0
    d = c.to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert c.to_text().splitlines()[2].split()[:2] == ["numpy", "textbook"]
    with pytest.raises(ValueError, match=r"variants must be one of .*got 'jax'"):
        lv.compare(X, y, variants=["jax"])
    with pytest.raises(ValueError, match=r"threads must be from 1 to"):
        lv.compare(X, y, variants=["numpy"], threads=10**6)


def test_compare_article_as_a_function() -> None:
    a = compare_article(variants=["module"], epochs=10)
    assert a.results[0].max_abs_param_diff == 0.0 and a.results[0].reference == "article"
    assert a.to_dict()["article"]["losses"] == a.results[0].printed_losses


# ---- bench: tests/test_bench_installed.py ----------------------------------------------------


def test_the_cli_never_imports_the_package_benchmark_module() -> None:
    import lr_variants.cli

    source = "".join(p.read_text() for p in Path(lr_variants.cli.__file__).parent.glob("*.py"))
    assert "lr_variants.bench" not in source and "import bench\n" not in source


def test_a_variant_without_the_implementation_asked_for_is_said_skipped(capsys) -> None:
    """``--impl fast`` beside a variant that has only its textbook recipe: a ``skipped:`` line
    says so (not a silent drop), and a long reference name keeps its column aligned."""
    argv = ["compare", "--variants", "autograd,numpy", "--impl", "fast", "--epochs", "1"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "skipped: autograd: no fast implementation (it has textbook)" in lines
    header = next(line for line in lines if line.startswith("variant "))
    row = next(line for line in lines if line.startswith("numpy "))
    assert header.endswith("max |param diff| vs numpy (fast)")
    assert len(row) == len(header)  # the column's numbers end where its header ends
