"""Before/after: the variants of a git revision against the working tree, in one process.

    .venv/bin/python bench/before_after.py --ref b4753be [--workloads article,wide,full]

The package as it was at ``--ref`` is extracted (``git archive``) under a temporary directory
and imported as ``lrv_before`` next to today's ``lr_variants``; each workload then trains both,
interleaved round by round (so that both see the same machine load), and prints the fastest
round of each. The article workload is timed in CPU time (``time.process_time``, one torch
thread: what the process itself spent, robust to other processes on the cores) and in wall
time; ``wide`` and ``full`` use all cores, so wall time only (``History.seconds``, the training
loop without the one-off data conversion). This is how the "before/after" table of
``docs/benchmarks.md`` was measured.
"""

from __future__ import annotations

import argparse
import importlib
import io
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import workloads as wl  # noqa: E402

VARIANTS = ("numpy", "torch_manual", "autograd", "module")


def extract(ref: str, into: Path) -> Any:
    """``lr_variants`` at ``ref``, importable as ``lrv_before``."""
    repo = HERE.parent
    blob = subprocess.run(
        ["git", "archive", ref, "lr_variants"], cwd=repo, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        try:
            tar.extractall(into, filter="data")
        except TypeError:  # Python < 3.11.4: no extraction filters (our own repository's files)
            tar.extractall(into)
    pkg = into / "lrv_before"
    (into / "lr_variants").rename(pkg)
    for f in pkg.rglob("*.py"):
        f.write_text(f.read_text().replace("lr_variants", "lrv_before"))
    sys.path.insert(0, str(into))
    return importlib.import_module("lrv_before")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", required=True, help="git revision to compare against")
    parser.add_argument("--workloads", default="article,wide,full")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    import torch

    import lr_variants as after

    with tempfile.TemporaryDirectory() as tmp:
        before = extract(args.ref, Path(tmp))
        print(f"before: {args.ref}; after: working tree; {wl.cpu_model()}, {wl.CORES} cores")
        for name in args.workloads.split(","):
            work = wl.FULL_SIZE[name]
            X, y = wl.data(work)
            threads = work.threads
            torch.set_num_threads(threads)
            for dtype in work.dtypes:
                for variant in args.variants.split(","):
                    times: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
                    for _ in range(args.rounds + 1):  # the first round warms up
                        for tag, lv in (("before", before), ("after", after)):
                            model = lv.create(variant, work.d, lr=work.lr, dtype=dtype, seed=42)
                            c = time.process_time()
                            h = lv.train(
                                model, X, y, epochs=work.epochs, batch_size=work.batch_size
                            )
                            times[tag].append((h.seconds, time.process_time() - c))
                    b, a = (np.min(np.array(times[t][1:]), axis=0) for t in ("before", "after"))
                    cpu = f"cpu {b[1] * 1e3:8.1f} -> {a[1] * 1e3:8.1f} ms ({b[1] / a[1]:.2f}x)"
                    print(
                        f"{name:8s} {dtype:8s} {variant:13s} {threads} thr  wall loop "
                        f"{b[0] * 1e3:8.1f} -> {a[0] * 1e3:8.1f} ms ({b[0] / a[0]:.2f}x)"
                        + (f"  {cpu}" if threads == 1 else ""),
                        flush=True,
                    )


if __name__ == "__main__":
    main()
