"""The pictures in docs/images/ are what the commands that draw them draw now
(``tools/docs_images.py``): the graphs byte for byte, natively and with the most basic CPU
kernels; the margin check notices a gradient too close to a rounding boundary; every picture is
shown in the docs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import docs_images as images


def test_the_graph_pictures_are_current() -> None:
    assert images.check() == []


def test_and_the_same_with_the_most_basic_kernels() -> None:
    """ATEN_CPU_CAPABILITY=default: torch's scalar kernels instead of AVX2/AVX-512;
    OPENBLAS_CORETYPE=Prescott: NumPy's OpenBLAS with its oldest x86-64 kernels."""
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default", "OPENBLAS_CORETYPE": "Prescott"}
    script = str(images.REPO / "tools" / "docs_images.py")
    out = subprocess.run(
        [sys.executable, script, "--check"], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_margin_check_notices_a_value_near_a_rounding_boundary() -> None:
    from lr_variants.explain import _picture

    with images.robust_numbers() as unstable:
        assert _picture.number(np.array([0.2228, -1.5, 0.0])) == "[0.223, -1.5, 0]"
        assert unstable == []
        assert _picture.number(0.22250000001) == "0.223"  # 4.5e-11 above 0.2225
    assert unstable == ["0.223 (moved: 0.222)"]
    assert _picture.number is not None and _picture.number(0.5) == "0.5"  # restored


def test_every_picture_is_shown_in_the_docs() -> None:
    autograd = (images.REPO / "docs" / "autograd.md").read_text()
    ecosystem = (images.REPO / "docs" / "ecosystem.md").read_text()
    for name in images.GRAPHS:
        assert f"(images/{name})" in autograd
    for name in images.PLOTS:
        assert f"(images/{name})" in ecosystem and (images.IMAGES / name).is_file()
    on_disk = {p.name for p in images.IMAGES.iterdir()}
    assert on_disk == {*images.GRAPHS, *images.PLOTS}  # nothing stale left behind
