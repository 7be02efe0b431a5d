"""The report's Markdown: one table per part of a benchmark run (the workloads, the phases of a
step, the overhead ladder, start-up, scale, threads, data parallelism, the targets) and
:func:`report`, all of them under the machine's description. Rendering only: the rows come
from ``report_data``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from report_data import (
    COMMANDS_TARGET_S,
    FLOOR_TARGET,
    FLOOR_VARIANTS,
    LADDER,
    ONE_READ_TARGET,
    PHASES,
    RATIO_TARGETS,
    WORKLOADS,
    data_parallel,
    find_row,
    first_products,
    flat_rows,
    impl_of,
    in_cache_passes,
    phase_us,
    read_bandwidth,
)


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    ms = seconds * 1e3
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.3g}"


def _x(value: float | None) -> str:
    return "-" if value is None else (f"{value:.0f}x" if value >= 100 else f"{value:.3g}x")


def _table(header: Sequence[str], lines: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(line) + " |" for line in lines]
    return out


def _variant_label(name: str) -> str:
    return "article's loop" if name == "article" else f"`{name}`"


def workload_table(rows: list[dict[str, Any]], workload: str) -> list[str]:
    mine = [r for r in rows if r.get("group") == workload and "variant" in r]
    if not mine:
        return []
    base = find_row(mine, variant="article")
    first = mine[0]
    out = [f"### `{workload}`: {first.get('what', '')}", ""]
    bw = read_bandwidth(rows) if workload == "full" else None
    header = ["variant", "impl", "dtype", "device", "time ms", "vs article's loop", "steps/s"]
    header += ["loop ms", "loop steps/s"]
    with_cpu = base is not None and base.get("cpu_min") is not None
    if with_cpu:
        header += ["CPU ms", "vs article's loop, CPU time"]
    if bw:
        header += ["GB/s (loop)", "of bandwidth", "vs reading X twice", "vs reading X once"]
    lines = []
    for r in sorted(mine, key=lambda r: (r["dtype"], r["device"], r["min"])):
        steps = r["steps"]
        ratio = base["min"] / r["min"] if base and r is not base else None
        loop = r["loop_min"]
        line = [
            _variant_label(r["variant"]),
            impl_of(r),
            r["dtype"],
            r["device"],
            _ms(r["min"]),
            "1 (baseline)" if r is base else _x(ratio),
            f"{steps / r['min']:,.0f}",
            _ms(loop),
            "-" if loop is None else f"{steps / loop:,.0f}",
        ]
        if with_cpu:
            assert base is not None
            cpu = r.get("cpu_min")
            line += [
                _ms(cpu),
                "1 (baseline)" if r is base else _x(base["cpu_min"] / cpu if cpu else None),
            ]
        if bw:
            if loop is None:
                line += ["-"] * 4
            else:
                read_twice = 2 * r["x_bytes"] * steps / bw[0]
                achieved = 2 * r["x_bytes"] * steps / loop
                line += [
                    f"{achieved / 1e9:.1f}",
                    f"{achieved / bw[0]:.0%}",
                    _x(loop / read_twice),
                    _x(loop / (read_twice / 2)),
                ]
        lines.append(line)
    out += _table(header, lines)
    threads = sorted({str(r.get("torch_threads")) for r in mine})
    blas = sorted({str(r.get("blas_threads")) for r in mine})
    out += [
        "",
        f"{first['n']:,} x {first['d']} rows x features, batch "
        f"{first['batch_size'] or 'all (full batch)'}, {first['epochs']} epochs: "
        f"{first['steps']:,} steps; torch threads {', '.join(threads)}, "
        f'NumPy BLAS threads {", ".join(blas)}. "impl": `textbook` is the recipe as a person '
        'writes it, `fast` its tuned twin (`create(..., impl="fast")`). '
        '"time" is the whole call (`create` + '
        "`train`, with its one-off validation and conversion of the data; for the article's "
        'loop, DataLoader + model + training); "loop" is `History.seconds`, the training '
        "loop alone."
        + (
            ' "CPU": the process\'s CPU time (`time.process_time`; one thread, so the time the '
            "run spent on a core, whatever else the machine was running)."
            if with_cpu
            else ""
        ),
    ]
    if bw:
        best, each = bw
        methods = ", ".join(f"{m} {v / 1e9:.1f} GB/s" for m, v in sorted(each.items()))
        out += [
            "",
            f"Read bandwidth measured in the same run (`bench/test_bandwidth.py`, reading "
            f"X once with NumPy's BLAS): {methods}; the table uses the best, "
            f"**{best / 1e9:.1f} GB/s**. A full-batch step reads X twice (`X @ theta`, then "
            f'`X^T r`): GB/s (loop) = steps x 2 x X.nbytes / loop time; "vs reading X '
            'twice" = loop time / (steps x 2 x X.nbytes / bandwidth), 1x being the floor '
            "for two passes.",
        ]
        products = first_products(rows)
        if products:
            each = "; ".join(
                f"{'NumPy `np.dot`' if lib == 'numpy' else 'torch `torch.mv`'} "
                f"{_ms(t)} ms ({_x(t / (first['x_bytes'] / best))} of one read)"
                for lib, t in sorted(products.items())
            )
            out += [
                "",
                "A full-batch step's first product alone (`bench/test_bandwidth.py::"
                "test_first_product`: `z = X w` read as the fast variants read X, row-major, in "
                "4 MB blocks, one run of blocks per thread the policy gives this batch), in the "
                f"same run: {each}. A step built that way on that library, which also computes "
                "the losses, the residuals and `X^T r`, takes longer than this.",
            ]
        out += _in_cache_lines(rows, mine, first["x_bytes"] / best)
    return [*out, ""]


def _in_cache_lines(
    rows: list[dict[str, Any]], full: list[dict[str, Any]], one_read: float
) -> list[str]:
    """The fast passes' arithmetic alone (X in cache) against one read of X and the step; a
    pass whose slope came out empty (noise larger than three blocks' time) shows ``-``."""
    passes = in_cache_passes(rows)
    if not passes:
        return []
    each = []
    for name, r in sorted(passes.items()):
        if not r.get("full_s"):
            each.append(f"`{name}` - (the slope between 4 blocks and 1 was lost in noise)")
            continue
        arithmetic = r["full_s"] / one_read
        fast = [f for f in full if f["variant"] == name and impl_of(f) == "fast"]
        step = next((f for f in fast if f.get("loop_min")), None)
        turns = (
            ""
            if step is None
            else f"; one read and this arithmetic in turn: {_x(1 + arithmetic)}, the measured "
            f"step: {_x(step['loop_min'] / step['steps'] / one_read)}"
        )
        each.append(
            f"`{name}` {_ms(r['full_s'])} ms ({_x(arithmetic)} of one read; on one core, "
            f"{r['core_gflops']:.0f} GFLOP/s counting the two products' operations{turns})"
        )
    peak = max(r["core_peak_gflops"] for r in passes.values())
    threads = next(iter(passes.values()))["policy_threads"]
    return [
        "",
        "The fast passes' arithmetic alone (`bench/test_bandwidth.py::test_step_in_cache`: "
        "`read_once` on 4 blocks of X that stay in cache, on one thread; a block's time is the "
        "slope between 4 blocks and 1, counted for all of X's blocks shared perfectly among "
        f"the policy's {threads} threads, a lower bound; the products, each row's loss and "
        f"residual): {'; '.join(each)}. For scale, one core reaches {peak:.0f} GFLOP/s on "
        "NumPy's 1024 x 1024 float32 matrix product, which reuses each number it loads many "
        "times; a matrix-vector product uses each once.",
    ]


def scale_table(rows: list[dict[str, Any]]) -> list[str]:
    """The scale workload: whole call vs loop, peak extra memory, a step vs one read of X."""
    mine = [r for r in rows if r.get("group") == "scale"]
    if not mine:
        return []
    first = mine[0]
    lines = []
    for r in sorted(mine, key=lambda r: (r["source"], r["variant"], r["impl"])):
        x = r["x_bytes"]
        lines.append(
            [
                f"`{r['variant']}`",
                r["impl"],
                r["source"],
                _ms(r["min"]),
                _ms(r["loop_min"]),
                _x(r["min"] / r["loop_min"]) if r["loop_min"] else "-",
                f"{r['tracemalloc_peak_bytes'] / x:.3f}",
                f"{r['peak_rss_growth_bytes'] / 2**20:,.0f}",
                _x(r["step_over_read"]),
            ]
        )
    header = ["variant", "impl", "X", "create + train (ms)", "loop (ms)", "call / loop",
              "NumPy peak / X", "peak RSS growth (MiB)", "step / one read of X"]  # fmt: skip
    return [
        f"### `scale`: {first['n']:,} x {first['d']} float32, full batch, {first['steps']} steps",
        "",
        'X in memory (float32, C order) and memory-mapped (`lv.load_data("X.npy,y.npy")`); '
        "NumPy peak: `tracemalloc` during the call; peak RSS growth: `VmHWM` reset before the "
        "call (torch's allocations, and a memory map's pages read from the page cache); one "
        "read of X: `np.dot` over X as one vector, in the same test.",
        "",
        *_table(header, lines),
        "",
    ]


def phases_table(rows: list[dict[str, Any]]) -> list[str]:
    mine = [r for r in rows if r.get("group") == "phases"]
    if not mine:
        return []
    steps = mine[0]["steps"]
    out = [
        f"### Where a step's time goes (`article`, float32, CPU; microseconds per step, "
        f"{steps:,} steps)",
        "",
    ]
    lines = []
    for r in sorted(mine, key=lambda r: sum(phase_us(r, p) for p in PHASES)):
        lines.append(
            [_variant_label(r["variant"]), impl_of(r), f"{sum(phase_us(r, p) for p in PHASES):.1f}"]
            + [f"{phase_us(r, p):.1f}" for p in PHASES]
        )
    out += _table(["variant", "impl", "total", *PHASES], lines)
    out += [
        "",
        "From `bench/test_phases.py` (the fastest round): the training replayed, timing on every "
        "batch the variant's own public calls. batching = reordering the rows each epoch and "
        "cutting the batches (`arrays.rows`, `arrays.batches`; the article: the DataLoader's "
        "`next()`); forward = `loss(X, y)`; backward = `gradients(X, y)` - `loss(X, y)`; "
        "update = `step(X, y)` - `gradients(X, y)` (the article: its step's forward, then "
        "`zero_grad()` + `backward()`, then `optimizer.step()`, timed the same way); readback "
        "= the step losses to floats once per epoch; total = batching + step + readback. "
        "backward and update are differences of separate calls: `gradients` also converts its "
        "result to float64 NumPy (counted in backward, not in update), and a `step` that "
        "computes the loss and gradient in one pass is cheaper than the two calls, so its "
        "update can read near 0 or negative.",
        "",
    ]
    return out


_PROGRAMS = {
    "numpy": "`lr-variants train --variant numpy`",
    "module": "`lr-variants train --variant module`",
    "module_fast": "`lr-variants train --variant module --impl fast` (`EagerSGD`)",
    "article_script": "the article's script (`lr_variants.article.run_article_script`)",
    "compare_classic": "`lr-variants compare --impl textbook --variants "
    "numpy,autograd,module,torch_manual,scratch`",
    "compare_all": "`lr-variants compare` (every variant, textbook and fast forms)",
}


def ladder_table(rows: list[dict[str, Any]]) -> list[str]:
    """The overhead ladder (article workload, CPU): per rung the time per step (the training
    loop's own seconds over its steps; the article's: its whole run), the torch operator calls
    per step, the factor to the article's loop, and the share of a step that is overhead,
    ``1 - floor / step`` with the numba rung's time per step as the arithmetic floor."""
    out: list[str] = []
    for dtype in ("float32", "float64"):
        ladder = {r["rung"]: r for r in rows if r.get("group") == f"ladder-{dtype}"}
        if not ladder:
            continue

        def per_step(r: dict[str, Any]) -> float:
            return float((r["loop_min"] or r["min"]) / r["steps"])

        floor = per_step(ladder["numba"]) if "numba" in ladder else None
        article = find_row(rows, group="ladder-float32", rung="article")
        base = per_step(article) if article else None
        lines = []
        for rung in LADDER:
            r = ladder.get(rung)
            if r is None:
                continue
            step = per_step(r)
            ops = r.get("ops_per_step")
            lines.append(
                [
                    _variant_label(rung),
                    f"{step * 1e6:.3g}",
                    "-"
                    if ops is None
                    else "0 (Inductor's own kernels)"
                    if rung == "compiled" and not ops
                    else f"{ops:.0f}",
                    _x(base / step if base else None),
                    "-" if floor is None else f"{max(0.0, 1 - floor / step):.0%}",
                ]
            )
        out += [f"### The overhead ladder ({dtype}, article workload, CPU)", ""]
        out += _table(
            ["rung", "us per step", "torch ops per step", "vs article's loop", "overhead"],
            lines,
        )
        numba = ladder.get("numba")
        plan = [] if numba is None or not numba.get("plan_s") else ["", _plan_line(numba)]
        out += [
            *plan,
            "",
            "Overhead: `1 - numba's time per step / this rung's`, numba's kernel being the same "
            "arithmetic with nothing between the operations. CUDA rungs: "
            + (
                "see the CUDA rows."
                if any(r.get("group") == "ladder-cuda" for r in rows)
                else "not run (no GPU on the machine that ran this)."
            ),
            "",
        ]
    return out


def _plan_line(numba: dict[str, Any]) -> str:
    """What numba's loop spends drawing the batch plan (the same orders for every variant)."""
    loop, numpy_s, twin_s = numba["loop_min"], numba["plan_s"], numba.get("plan_twin_s")
    head = f"Of numba's training loop ({_ms(loop)} ms for {numba['steps']:,} steps), drawing "
    if twin_s is None:
        return (
            head + "the batch plan alone (`train`'s NumPy permutation per epoch, the same for "
            "every variant so that all see the same batches; timed apart in the same test) took "
            f"{_ms(numpy_s)} ms ({numpy_s / loop:.0%}); the rest is the compiled kernel."
        )
    return (
        head + "the batch plan alone (every epoch's order at once, by the compiled twin of "
        "NumPy's permutation: the orders every variant sees; timed apart in the same test) "
        f"took {_ms(twin_s)} ms ({twin_s / loop:.0%}), against {_ms(numpy_s)} ms for NumPy's "
        "own draw of the same orders; the rest is the compiled kernel."
    )


def startup_table(rows: list[dict[str, Any]]) -> list[str]:
    mine = [r for r in rows if r.get("group") == "startup" and "startup_s" in r]
    if not mine:
        return []
    lines = []
    for r in mine:
        total, startup = r.get("total_s"), r.get("startup_s")
        training = r.get("training_s")
        share = training / total if total and training is not None else None
        lines.append(
            [
                _PROGRAMS.get(str(r.get("program")), f"`{r.get('command', r['name'])}`"),
                _ms(total),
                _ms(startup),
                _ms(training),
                "-" if share is None else f"{share:.0%}",
            ]
        )
    out = ["### Whole process (`bench/test_startup.py`)", ""]
    out += _table(["program", "total ms", "start-up ms", "training ms", "training share"], lines)
    return [*out, ""]


_THREAD_CASES = {
    "api_policy": ("README's API example", "the policy's default", "api_pinned"),
    "api_pinned": ("README's API example", "`threads=1`", "api_pinned"),
    "api_all_cores": ("README's API example", "every core", "api_pinned"),
    "estimator_policy": (
        "the same job through `SGDLogisticRegression.fit`",
        "the policy's default",
        "api_pinned",
    ),
    "cli_policy": (
        "the same job through `lr-variants train` (`main`, in-process)",
        "the policy's default",
        "api_pinned",
    ),
    "dp_policy": ("data-parallel, 2 processes", "the policy's default", "dp_policy"),
    "dp_all_cores": ("data-parallel, 2 processes", "every core per process", "dp_policy"),
}


def threads_table(rows: list[dict[str, Any]]) -> list[str]:
    """bench/test_threads.py: each case's time and its ratio to its baseline, in one run."""
    mine = {r.get("case"): r for r in rows if r.get("group") == "threads"}
    if not mine:
        return []
    lines = []
    for case, (job, setting, base) in _THREAD_CASES.items():
        r = mine.get(case)
        if r is None:
            continue
        baseline = mine.get(base)
        ratio = r["min"] / baseline["min"] if baseline else None
        lines.append([job, setting, str(r.get("threads", "-")), _ms(r["min"]), _x(ratio)])
    out = ["### Threads (`bench/test_threads.py`)", ""]
    out += _table(["run", "setting", "threads used", "time ms", "vs baseline"], lines)
    return [
        *out,
        "",
        "The README's API example (`autograd`, float64, batch 32, 100 epochs)"
        + (
            ", the same job through the estimator and the command line (the whole command, its "
            "printing included, without the interpreter's start),"
            if {"estimator_policy", "cli_policy"} & mine.keys()
            else ""
        )
        + " and the same job data-parallel over 2 processes (10 epochs, workers started inside "
        "the timed call); baseline: `threads=1` for the API rows"
        + (
            " and the other entry points"
            if {"estimator_policy", "cli_policy"} & mine.keys()
            else ""
        )
        + ", the policy's default for the data-parallel ones.",
        "",
    ]


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:,.1f}"


def data_parallel_steps(found: dict[str, list[dict[str, Any]]]) -> list[str]:
    """``test_data_parallel``: per workload x variant, the microseconds per step in one process
    without ``distributed``, and on 1 and 2 ranks; then ``test_all_reduce``'s times."""
    cases: dict[tuple[str, str, str], dict[Any, dict[str, Any]]] = {}
    for r in found["steps"]:
        cases.setdefault((r["workload"], r["variant"], impl_of(r)), {})[r["world"]] = r
    lines = []
    for (workload, variant, impl), by_world in cases.items():
        first = next(iter(by_world.values()))
        single = min(r["single_loop_s"] for r in by_world.values()) / first["steps"] * 1e6
        one, two = (by_world[w]["step_us"] if w in by_world else None for w in (1, 2))
        lines.append(
            [f"`{workload}`", f"`{variant}`", impl, f"{first['batch_size']:,}", _us(single),
             _us(one), _us(two), _x(two / single if two else None)]
        )  # fmt: skip
    out = []
    if lines:
        header = ["workload", "variant", "impl", "batch", "1 process, us/step",
                  "1 rank, us/step", "2 ranks, us/step", "2 ranks vs 1 process"]  # fmt: skip
        out += [
            *_table(header, lines),
            "",
            '"1 process": the same training without `distributed` (`History.seconds` over its '
            'steps, the fastest of the rows that ran it); "1 rank", "2 ranks": '
            "`lv.train(..., distributed=True)` on that many worker processes "
            "(`lv.distributed.launch`, gloo, float64, one thread each), rank 0's training "
            "loop over its steps. Every rank ends with the single process's parameters (within "
            "1e-12).",
            "",
        ]
    reduces = sorted(found["all_reduce"], key=lambda r: r["n_values"])
    if reduces:
        each = "; ".join(f"{r['n_values']:,} values {_us(r['all_reduce_us'])} us" for r in reduces)
        out += [
            "One SUM `all_reduce` of float64 values between 2 processes (gloo on localhost; the "
            f"mean over repeats after a warm-up, the slower rank's): {each}. Every data-parallel "
            "step makes one, of `D + 1` values (3 for `article`, 101 for `wide`).",
            "",
        ]
    return out


_RUNS = {None: "1 process", 1: "1 rank", 2: "2 ranks"}


def data_parallel_memory(found: dict[str, list[dict[str, Any]]]) -> list[str]:
    """``test_rank_memory``: each rank's peak resident growth against its shard's bytes."""
    mine = found["memory"]
    if not mine:
        return []
    openers = list(dict.fromkeys(r["opener"] for r in mine))
    lines = []
    for r in sorted(
        mine,
        key=lambda r: (openers.index(r["opener"]), r["variant"], impl_of(r), r["world"] or 0),
    ):
        shards, growth = r["rank_shard_bytes"], r["rank_peak_rss_growth_bytes"]
        for rank, (shard, grown) in enumerate(zip(shards, growth, strict=True)):
            lines.append(
                [f"`{r['opener']}`", f"`{r['variant']}`", impl_of(r),
                 _RUNS.get(r["world"], f"{r['world']} ranks"),
                 "-" if r["world"] is None else str(rank), _mib(shard), _mib(grown),
                 f"{grown / shard:.2f}" if shard else "-"]
            )  # fmt: skip
    first = mine[0]
    header = ["X opened with", "variant", "impl", "run", "rank", "shard MiB",
              "peak RSS growth MiB", "growth / shard"]  # fmt: skip
    return [
        f"### Data parallelism on a memory-mapped X: {first['n']:,} x {first['d']} float32 "
        f"({_mib(first['x_bytes'])} MiB), full batch, {first['steps']} steps",
        "",
        'Each rank in a fresh process opens the `.npy` pair (`np.load(..., mmap_mode="r")`; '
        '`lv.load_data("X.npy,y.npy", scan=False)`, which checks their headers; or '
        '`lv.load_data("X.npy,y.npy")`, which also checks every value) and trains on it, '
        "float32; 1 process: the same without `distributed` (its shard: all of X). Peak RSS "
        "growth: the process's peak resident memory (`VmHWM`, reset before opening the files) "
        "less the resident memory then, up to the end of `lv.train`: the file's pages the "
        "process reads (from the page cache, shared with any other process reading them) and "
        "its allocations. Shard: the bytes of the rows of X the rank trains on.",
        "",
        *_table(header, lines),
        "",
    ]


def data_parallel_commands(found: dict[str, list[dict[str, Any]]]) -> list[str]:
    """``test_documented_command``: each documented command's wall time."""
    mine = found["commands"]
    if not mine:
        return []
    lines = [[f"`{r['command']}`", f"{r['wall_s']:.1f}"] for r in mine]
    return [
        f"The data-parallel commands of `docs/distributed.md`, each run once as a program on "
        f"{mine[0].get('cores', '?')} cores (start to exit: start-up, the single-process and "
        "the 2-rank training, worker processes included):",
        "",
        *_table(["command", "wall s"], lines),
        "",
    ]


def data_parallel_table(rows: list[dict[str, Any]]) -> list[str]:
    """bench/test_distributed.py: steps, all_reduce, the documented commands, per-rank memory."""
    found = data_parallel(rows)
    body = data_parallel_steps(found) + data_parallel_commands(found)
    out = ["### Data parallelism (`bench/test_distributed.py`)", "", *body] if body else []
    return out + data_parallel_memory(found)


def targets(rows: list[dict[str, Any]]) -> list[tuple[str, dict[str, str], bool]]:
    """Each target: its text, the measured value per impl, and whether the variant's best
    implementation meets it."""
    out = []
    base = find_row(rows, group="article", variant="article")
    for name, target in RATIO_TARGETS.items():
        measured: dict[str, str] = {}
        best = None
        for r in rows:
            match = (r.get("group"), r.get("variant"), r.get("dtype"), r.get("device"))
            if base is None or match != ("article", name, "float32", "cpu"):
                continue
            ratio = base["min"] / r["min"]
            measured[impl_of(r)] = f"{_x(ratio)}" + (
                f" (CPU time {_x(base['cpu_min'] / r['cpu_min'])})"
                if base.get("cpu_min") and r.get("cpu_min")
                else ""
            )
            best = ratio if best is None else max(best, ratio)
        if best is not None:
            text = f"`article`: `{name}` >= {target:g}x faster than the article's loop"
            out.append((text, measured, best >= target))
    bw = read_bandwidth(rows)
    for name in FLOOR_VARIANTS:
        ratios: dict[str, float] = {}
        best = None
        for r in rows:
            match = (r.get("group"), r.get("variant"), r.get("dtype"), r.get("device"))
            if bw is None or r.get("loop_min") is None or match != ("full", name, "float32", "cpu"):
                continue
            ratio = r["loop_min"] / (2 * r["x_bytes"] * r["steps"] / bw[0])
            ratios[impl_of(r)] = ratio
            best = ratio if best is None else min(best, ratio)
        if best is not None:
            text = f"`full`: `{name}` within {FLOOR_TARGET:g}x of reading X twice"
            out.append((text, {k: _x(v) for k, v in ratios.items()}, best <= FLOOR_TARGET))
            once = {k: _x(2 * v) for k, v in ratios.items()}  # a step's time over one read
            text = f"`full`: `{name}`'s step within {ONE_READ_TARGET:g}x of reading X once"
            out.append((text, once, 2 * best <= ONE_READ_TARGET))
    commands = data_parallel(rows)["commands"]
    if commands:  # their --impl textbook
        total = sum(r["wall_s"] for r in commands)
        text = (
            f"`docs/distributed.md`'s data-parallel commands ({len(commands)}) together in "
            f"under {COMMANDS_TARGET_S:g} s on {commands[0].get('cores', '?')} cores"
        )
        out.append((text, {"textbook": f"{total:.1f} s"}, total < COMMANDS_TARGET_S))
    return out


def targets_table(rows: list[dict[str, Any]]) -> list[str]:
    found = targets(rows)
    if not found:
        return []
    lines = [
        [text, measured.get("textbook", "-"), measured.get("fast", "-"),
         "**met**" if met else "not met"]
        for text, measured, met in found
    ]  # fmt: skip
    out = [
        "### Targets, from this run",
        "",
        "The benchmark's targets, on the `article` workload in float32 on the CPU with one "
        "torch thread (ratios to the article's loop in the same run) and on `full`; a target "
        "is met when the variant's fastest implementation meets it."
        + (
            " The data-parallel commands (`--impl textbook`) are timed start to exit, each "
            'once: their total in the textbook column, each under the "Data parallelism" '
            "table below."
            if data_parallel(rows)["commands"]
            else ""
        ),
        "",
    ]
    return [*out, *_table(["target", "textbook", "fast", "status"], lines), ""]


def machine_lines(data: dict[str, Any], json_name: str) -> list[str]:
    info = data.get("machine_info", {})
    m = info.get("lr_variants", {})
    commit = data.get("commit_info", {})
    gpu = m.get("cuda")
    load_avg = m.get("load_average")
    lines = [
        f"Run {str(data.get('datetime', '?'))[:19]} UTC, commit "
        + (
            f"`{str(commit['id'])[:10]}`"
            if commit.get("id") not in (None, "unversioned")
            else "none (not run from a git checkout)"
        )
        + f"{' (uncommitted changes)' if commit.get('dirty') else ''}; JSON: `{json_name}`.",
        "",
        f"- Machine: {m.get('cpu_model', '?')}, {m.get('cores', '?')} cores, "
        f"{m.get('memory_gib', '?')} GiB; Python {m.get('python', '?')}, NumPy "
        f"{m.get('numpy', '?')} ({m.get('numpy_blas', '?')}, {m.get('blas_threads', '?')} "
        f"threads), torch {m.get('torch', '?')} ({m.get('torch_blas', '?')}; "
        f"{m.get('torch_default_threads', '?')} threads by default, pinned per workload as "
        "the tables say).",
        "- GPU: "
        + (
            str(gpu)
            if gpu
            else 'none on this machine: every `cuda` row was skipped ("CUDA is not available '
            'here").'
        ),
    ]
    if load_avg:
        lines.append(
            f"- Load average when the run started: {', '.join(f'{v:.2f}' for v in load_avg)} "
            "(other processes share the cores: times are minima over rounds)."
        )
    return [*lines, ""]


# the ladder's own target (docs/benchmarks.md, "Targets"), beside RATIO_TARGETS' table
NUMBA_TARGET = 300.0


def readme_summary(data: dict[str, Any], json_name: str) -> str:
    """The README's paragraph on the published run: the article's loop, each variant's speed-up
    over it (its fastest implementation, textbook in brackets where a tuned one exists), and
    which targets the run meets: text that ``--publish`` writes and the suite compares."""
    rows = flat_rows(data)
    base = find_row(rows, group="article", variant="article", dtype="float32", device="cpu")
    if base is None:
        return ""
    ratio: dict[tuple[str, str], float] = {}
    for r in rows:
        match = (r.get("group"), r.get("dtype"), r.get("device"))
        if match == ("article", "float32", "cpu") and r.get("variant") != "article":
            ratio[(str(r["variant"]), impl_of(r))] = base["min"] / r["min"]
    names = sorted(
        {v for v, _ in ratio}, key=lambda v: -max(r for (n, _), r in ratio.items() if n == v)
    )
    parts = []
    for name in names:
        fast, textbook = ratio.get((name, "fast")), ratio.get((name, "textbook"))
        if fast is not None and textbook is not None and fast > textbook:
            parts.append(f"`{name}` {_x(fast)} tuned ({_x(textbook)} textbook)")
        else:
            parts.append(f"`{name}` {_x(max(r for r in (fast, textbook) if r is not None))}")
    found = targets(rows)
    numba = ratio.get(("numba", "textbook"))
    if numba is not None:
        found.append((f"`numba` >= {NUMBA_TARGET:g}x", {}, numba >= NUMBA_TARGET))
    met = [text for text, _, ok in found if ok]
    missed = [text for text, _, ok in found if not ok]
    m = data.get("machine_info", {}).get("lr_variants", {})
    return (
        f"In the published run (`{json_name}`; {m.get('cpu_model', '?')}, {m.get('cores', '?')} "
        "cores, timings of one machine), on the article's workload in float32 (3,200 steps) the "
        f"article's loop took {base['min']:.2f} s and each variant was faster by: "
        + ", ".join(parts)
        + f". Targets met: {'; '.join(met) or 'none'}. Not met: {'; '.join(missed) or 'none'}. "
        "`docs/benchmarks.md` has every table, the overhead ladder rung by rung, and why each "
        "miss happens.\n"
    )


def report(data: dict[str, Any], json_name: str, png_name: str | None) -> str:
    """The generated Markdown (without the markers)."""
    rows = flat_rows(data)
    out = machine_lines(data, json_name)
    out += targets_table(rows)
    for workload in WORKLOADS:
        out += workload_table(rows, workload)
    out += phases_table(rows)
    out += ladder_table(rows)
    out += startup_table(rows)
    out += scale_table(rows)
    out += threads_table(rows)
    out += data_parallel_table(rows)
    if png_name:
        out += [f"![benchmark chart]({png_name})", ""]
    return "\n".join(out).rstrip() + "\n"
