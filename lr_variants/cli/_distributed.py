"""``train --distributed`` (under torchrun) and ``compare --world-size N`` (processes started
here): the command line's side of :mod:`lr_variants.distributed`."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from lr_variants.cli import _common as c

TORCHRUN = "torchrun --standalone --nproc-per-node=2 -m lr_variants train --distributed ..."


def add_train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--distributed",
        action="store_true",
        help=f"data-parallel over the processes torchrun started (rank 0 prints): {TORCHRUN}",
    )
    add_timeout_option(p)


def add_compare_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--world-size",
        type=c.int_arg,
        default=None,
        metavar="N",
        help="instead: train each variant in this process and data-parallel in N worker "
        "processes started here (gloo on localhost); print both side by side",
    )
    add_timeout_option(p)


def add_timeout_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="with data-parallel training: how long a rank waits for a silent one (60)",
    )


def run_train(args: argparse.Namespace, body: Callable[[argparse.Namespace], Any]) -> Any:
    """``body(args)`` on every rank of the group torchrun set up (joined here); ranks other than
    0 print nothing on stdout; an error names its rank."""
    import torch.distributed as dist

    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        raise ValueError(
            "--distributed must run under torchrun, which starts one process per rank and sets "
            f"RANK and WORLD_SIZE; got neither: launch as {TORCHRUN}"
        )
    if not args.timeout > 0:
        raise ValueError(f"--timeout must be > 0 seconds; got {args.timeout}")
    backend = "nccl" if str(args.device).startswith("cuda") else "gloo"
    dist.init_process_group(backend, timeout=timedelta(seconds=args.timeout))
    rank = dist.get_rank()
    try:
        with contextlib.ExitStack() as stack:
            if rank != 0:  # one process prints, as one process would
                args.quiet = True
                quiet = stack.enter_context(open(os.devnull, "w"))
                stack.enter_context(contextlib.redirect_stdout(quiet))
            result = body(args)
        dist.barrier()  # every rank done before any tears the group down (an orderly exit)
        return result
    except (ValueError, TypeError, FloatingPointError, OSError) as exc:
        text = str(exc)
        if not text.startswith("rank "):
            raise type(exc)(f"rank {rank}: {text}") from None
        raise
    finally:
        dist.destroy_process_group()


def run_compare(args: argparse.Namespace, names: list[str], impls: tuple[str, ...]) -> None:
    """``compare --world-size N``: :func:`lr_variants.distributed.run` on the loaded data."""
    from lr_variants.data import standardize
    from lr_variants.distributed import run

    if args.world_size < 1:
        raise ValueError(f"--world-size must be >= 1; got {args.world_size}")
    if args.article:
        raise ValueError("--world-size cannot be used with --article; got both")
    X, y = c.load(args, standardize=False)
    if args.standardize:
        X = standardize(X)[0]
    result = run(
        X,
        y,
        variants=names,
        impls=impls,
        world_size=args.world_size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        timeout=args.timeout,
        lr=args.lr,
        dtype=args.dtype,
        momentum=args.momentum,
        dampening=args.dampening,
        nesterov=args.nesterov,
        weight_decay=args.weight_decay,
    )
    if args.json:
        c.emit_json(
            {**result.to_dict(), "settings": {**result.settings, "data": c.data_label(args)}}
        )
    else:
        c.emit(result.to_text())
