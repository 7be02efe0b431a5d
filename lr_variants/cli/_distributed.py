"""``train --distributed`` (under torchrun) and ``compare --world-size N`` (processes started
here): the command line's side of [`lr_variants.distributed`][]."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import sys
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from lr_variants.cli import _common as c

TORCHRUN = "torchrun --standalone --nproc-per-node=2 -m lr_variants train --distributed ..."

# whether this process joined a torch.distributed group (a torchrun rank): see leave()
_joined = False


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
        "processes started here (gloo on localhost); print both side by side. N is at most "
        "the number of CPUs this process may use",
    )
    c.flag(
        p,
        "--force-world-size",
        "allow --world-size above the number of CPUs (up to 1024 processes)",
    )
    add_timeout_option(p)


def timeout_arg(text: str) -> float:
    """An argparse type: seconds, a finite number > 0 and at most ``MAX_TIMEOUT``."""
    from lr_variants.distributed import MAX_TIMEOUT

    value = float(text)  # ValueError: argparse says "invalid float value"
    if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT):
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds > 0 and at most {MAX_TIMEOUT:g} (11.6 days); got {text}"
        )
    return value


timeout_arg.__name__ = "float"  # argparse names the type in "invalid float value: 'x'"


def add_timeout_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--timeout",
        type=timeout_arg,
        default=60.0,
        metavar="SECONDS",
        help="with data-parallel training: how long a rank waits for a silent one, and for the "
        "process group to form (60)",
    )


# the variables torchrun sets that joining a process group (env://) reads
_INT_VARIABLES = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_PORT")
_MAX_INT32 = 2**31 - 1  # gloo counts ranks in C ints
JOIN_GRACE = 2.0  # seconds past --timeout before a join that never returns is ended here


def _env_int(name: str, low: int, high: int, meaning: str) -> int:
    text = os.environ.get(name, "")
    value = int(text) if re.fullmatch(r"-?[0-9]{1,19}", text.strip()) else None
    if value is None or not low <= value <= high:
        raise ValueError(
            f"environment variable {name} must be {meaning}, an integer from {low} to {high}; "
            f"got {name}={text!r}"
        )
    return value


def check_environment() -> dict[str, Any]:
    """The variables torchrun sets for ``--distributed``, checked before torch reads them:
    ``WORLD_SIZE`` (1 to 2**31 - 1), ``RANK`` (0 to ``WORLD_SIZE - 1``), ``LOCAL_RANK`` (when
    set, >= 0), ``MASTER_ADDR`` (not empty) and ``MASTER_PORT`` (1 to 65535). Each refusal is a
    ``ValueError`` naming the variable and its value."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        raise ValueError(
            "--distributed must run under torchrun, which starts one process per rank and sets "
            f"RANK and WORLD_SIZE; got neither: launch as {TORCHRUN}"
        )
    world = _env_int("WORLD_SIZE", 1, _MAX_INT32, "the number of ranks")
    rank = _env_int("RANK", 0, world - 1, f"this process's rank of WORLD_SIZE={world}")
    if "LOCAL_RANK" in os.environ:
        _env_int("LOCAL_RANK", 0, _MAX_INT32, "this process's rank on its machine")
    addr = os.environ.get("MASTER_ADDR", "")
    if not addr.strip():
        raise ValueError(
            "environment variable MASTER_ADDR must name the host of the process group's "
            f"rendezvous (torchrun sets it); got MASTER_ADDR={addr!r}"
        )
    port = _env_int("MASTER_PORT", 1, 65535, "the rendezvous's TCP port")
    return {"WORLD_SIZE": world, "RANK": rank, "MASTER_ADDR": addr, "MASTER_PORT": port}


class _Watchdog:
    """Ends the process with one line if ``stop`` is not called within ``seconds``: torch
    can wait without limit inside ``init_process_group`` (a client whose ``MASTER_PORT``
    belongs to another program waits for an answer that never comes), and the join releases
    the GIL, so this thread still runs."""

    def __init__(self, seconds: float, message: str) -> None:
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(
            target=self._watch, args=(seconds, message), name="lr_variants-join", daemon=True
        )
        self.thread.start()

    def _watch(self, seconds: float, message: str) -> None:
        if self.done.wait(seconds):
            return
        with self.lock:
            if self.done.is_set():
                return
            print(f"lr-variants: error: {message}", file=sys.stderr, flush=True)
            os._exit(1)  # the main thread is stuck in torch: no orderly exit can reach it

    def stop(self) -> None:
        with self.lock:  # waits for a message being printed (the process then ends)
            self.done.set()


def _join(backend: str, timeout: float, env: dict[str, Any]) -> None:
    """``init_process_group`` (env://), bounded: one ``ConnectionError`` naming this rank and
    the rendezvous if torch reports a failure, one line and exit status 1 if it never returns
    (``timeout`` + ``JOIN_GRACE`` seconds)."""
    import torch.distributed as dist

    rank = env["RANK"]
    where = (
        f"MASTER_ADDR={env['MASTER_ADDR']} MASTER_PORT={env['MASTER_PORT']} "
        f"WORLD_SIZE={env['WORLD_SIZE']}"
    )
    watchdog = _Watchdog(
        timeout + JOIN_GRACE,
        f"rank {rank}: the process group did not form within {timeout:g} s ({where}): a rank "
        f"never came, or MASTER_PORT is used by another program",
    )
    try:
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout))
    except RuntimeError as exc:  # torch's DistNetworkError, DistStoreError, gloo's enforce
        watchdog.stop()
        text = " ".join(str(exc).split()) or type(exc).__name__
        hint = ""
        if "EADDRINUSE" in text or "address already in use" in text:
            hint = f": MASTER_PORT {env['MASTER_PORT']} is in use by another program"
        raise ConnectionError(
            f"rank {rank}: could not join the process group ({where}){hint}: {text[:300]}"
        ) from None
    watchdog.stop()


def run_train(args: argparse.Namespace, body: Callable[[argparse.Namespace], Any]) -> Any:
    """``body(args)`` on every rank of the group torchrun set up (joined here, its environment
    checked first and the join bounded by ``--timeout``); ranks other than 0 print nothing on
    stdout; an error names its rank."""
    env = check_environment()
    # torch's C++ warnings (socket timeouts, several lines each) stay off the one-line errors,
    # unless the user asked for them; this must precede torch's import to take effect
    if "torch" not in sys.modules:
        os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "FATAL")
    import torch.distributed as dist

    backend = "nccl" if str(args.device).startswith("cuda") else "gloo"
    _join(backend, args.timeout, env)
    global _joined
    _joined = True
    rank = dist.get_rank()
    try:
        with contextlib.ExitStack() as stack:
            if rank != 0:  # one process prints, as one process would
                args.quiet = True
                quiet = stack.enter_context(open(os.devnull, "w"))
                stack.enter_context(contextlib.redirect_stdout(quiet))
            result = body(args)
        try:  # every rank done before any tears the group down (an orderly exit)
            dist.barrier()
        except RuntimeError as exc:  # a peer that died or stalled after its training
            text = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise ConnectionError(
                f"rank {rank}: another rank did not finish (it stopped, was killed or timed "
                f"out): {text}"
            ) from None
        return result
    except (ValueError, TypeError, FloatingPointError, OSError) as exc:
        text = str(exc)
        if not text.startswith("rank "):
            raise type(exc)(f"rank {rank}: {text}") from None
        raise
    finally:
        dist.destroy_process_group()


def joined() -> bool:
    """Whether this process joined a process group here (a torchrun rank)."""
    return _joined


def leave(status: int) -> None:
    """End a process that joined a process group here (a torchrun rank) with ``status``, once
    the command is over and its results are printed (``lr_variants._data_parallel.end_rank``
    says why); returns at once in a process that joined no group."""
    if _joined:
        from lr_variants._data_parallel import end_rank

        end_rank(status)


def run_compare(args: argparse.Namespace, names: list[str], impls: tuple[str, ...]) -> None:
    """``compare --world-size N``: [`lr_variants.distributed.run`][] on the loaded data."""
    from lr_variants.data import standardize
    from lr_variants.distributed import check_world_size, run

    check_world_size(
        args.world_size,
        args.force_world_size,
        name="--world-size",
        force_name="--force-world-size",
    )
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
        force_world_size=args.force_world_size,
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
