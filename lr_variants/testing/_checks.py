"""The table of checks and the entry points that run them."""

from __future__ import annotations

import inspect
import time
import warnings
from collections.abc import Callable, Collection, Sequence

from lr_variants._contain import PluginTimeout
from lr_variants._validate import DTYPES, check_choice, check_int
from lr_variants.registry import IMPLS, create, impls, spec
from lr_variants.testing import _contract, _sgd, _values
from lr_variants.testing._report import (
    ERROR,
    FAILED,
    NOT_APPLICABLE,
    PASSED,
    CheckResult,
    ConformanceError,
    Report,
)
from lr_variants.testing._run import Context, Mismatch, Skip

# (name, function, the tolerance it uses, in a few words)
CHECKS: tuple[tuple[str, Callable[[Context], None], str], ...] = (
    ("loss", _values.check_loss, "bounds.loss_error + float64's"),
    ("gradients", _values.check_gradients, "bounds.gradient_error + float64's"),
    ("probabilities", _values.check_probabilities, "bounds.probability_error + float64's"),
    ("saturation", _values.check_saturation, "the three bounds above"),
    ("sample_weights", _values.check_sample_weights, "weighted bounds (k = 3)"),
    ("weight_scale", _values.check_weight_scale, "2 x weighted bounds"),
    ("zero_weight_batch", _sgd.check_zero_weight_batch, "loss exactly 0; trajectory_error"),
    ("sgd_plain", _sgd.check_sgd_plain, "bounds.trajectory_error"),
    ("sgd_momentum_undamped", _sgd.check_sgd_momentum_undamped, "bounds.trajectory_error"),
    ("sgd_momentum", _sgd.check_sgd_momentum, "bounds.trajectory_error"),
    ("sgd_nesterov", _sgd.check_sgd_nesterov, "bounds.trajectory_error"),
    ("sgd_weight_decay", _sgd.check_sgd_weight_decay, "bounds.trajectory_error"),
    ("sgd_decay_bias", _sgd.check_sgd_decay_bias, "bounds.trajectory_error"),
    ("sgd_maximize", _sgd.check_sgd_maximize, "bounds.trajectory_error"),
    ("pure_queries", _contract.check_pure_queries, "bit for bit"),
    (
        "set_params_keeps_momentum",
        _contract.check_set_params_keeps_momentum,
        "bit for bit; lr x gradient bound",
    ),
    ("state_roundtrip", _contract.check_state_roundtrip, "bit for bit"),
    ("determinism", _contract.check_determinism, "bit for bit"),
    ("rejected_call", _contract.check_rejected_call, "bit for bit"),
)

# the create() options a check cannot do without: declared unsupported, it is not applicable
# (the contract checks use momentum and dampening when supported, and do without otherwise)
REQUIRES: dict[str, frozenset[str]] = {
    "sgd_momentum_undamped": frozenset({"momentum"}),
    "sgd_momentum": frozenset({"momentum", "dampening"}),
    "sgd_nesterov": frozenset({"momentum", "nesterov"}),
    "sgd_weight_decay": frozenset({"weight_decay"}),
    "sgd_decay_bias": frozenset({"weight_decay", "decay_bias"}),
    "sgd_maximize": frozenset({"momentum", "weight_decay", "maximize"}),
    "set_params_keeps_momentum": frozenset({"momentum"}),
}

# examples per full-cost property; the SGD and contract checks run a fraction of it (sized so
# that a plain-NumPy gradient function passes both dtypes in well under a minute on 2 cores)
DEFAULT_MAX_EXAMPLES = 100

# the create() keywords a variant may declare unsupported (lr is not optional)
OPTIONS: tuple[str, ...] = tuple(
    p for p in inspect.signature(create).parameters if p not in ("name", "n_features", "lr")
)

Progress = Callable[[int, int, str, "CheckResult | None"], None]


def declared_unsupported(name: str) -> frozenset[str]:
    """The ``create()`` options variant ``name`` declares it does not implement, read from its
    registration (empty when it declares none)."""
    return spec(name).capabilities.unsupported


def _unsupported(name: str, unsupported: Collection[str] | None) -> frozenset[str]:
    if unsupported is None:
        return declared_unsupported(name)
    if isinstance(unsupported, str) or not isinstance(unsupported, Collection):
        raise TypeError(
            f"unsupported must be a set of create() option names such as {{'dampening'}}; "
            f"got {unsupported!r}"
        )
    for option in unsupported:
        check_choice(option, "unsupported", OPTIONS)
    return frozenset(unsupported)


def _contexts(
    name: str,
    impl: str,
    dtypes: Sequence[str],
    max_examples: int | None,
    unsupported: Collection[str] | None,
) -> tuple[list[Context], str]:
    """One ``Context`` per dtype, every argument checked; and why nothing can run (no CPU
    and no GPU for this variant), or ``""``."""
    variant = spec(name)  # ValueError for an unknown name
    check_choice(impl, "impl", IMPLS)
    if impl not in impls(name):
        raise ValueError(f"impl must be one of {impls(name)} for the {name} variant; got {impl!r}")
    if isinstance(dtypes, str) or not dtypes:
        raise ValueError(f"dtypes must be a non-empty sequence from {DTYPES}; got {dtypes!r}")
    for dt in dtypes:
        check_choice(dt, "dtypes", DTYPES)
    n = DEFAULT_MAX_EXAMPLES if max_examples is None else check_int(max_examples, "max_examples", 1)
    declared = _unsupported(name, unsupported)
    device, why = "cpu", ""
    if "cpu" not in variant.devices:
        import torch

        device = "cuda"
        if not torch.cuda.is_available():
            why = f"the {name} variant runs only on {variant.devices} and no GPU is available here"
    contexts = [Context(name, impl, dt, device, n, declared) for dt in dict.fromkeys(dtypes)]
    return contexts, why


def _run_one(check: Callable[[Context], None], ctx: Context, name: str, tol: str) -> CheckResult:
    """One check: its result, whatever it raised (nothing escapes but ``KeyboardInterrupt``)."""
    missing = sorted(REQUIRES.get(name.split("/")[0], frozenset()) & ctx.unsupported)
    if missing:
        return CheckResult(
            name, NOT_APPLICABLE, tol, f"declared: the variant does not implement {missing}"
        )
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            # NumPy's overflow warnings from the code under check: its values are the finding
            warnings.simplefilter("ignore", RuntimeWarning)
            check(ctx)
    except Skip as exc:
        return CheckResult(name, ERROR, tol, f"nothing was run: {exc}", 0.0, kind="not run")
    except Mismatch as exc:
        seconds = time.perf_counter() - start
        kind = "error" if exc.kind == "error" else exc.kind
        status = ERROR if exc.kind == "error" else FAILED
        return CheckResult(
            name, status, tol, str(exc), seconds, kind, tuple(exc.hints), "", exc.error
        )
    except (KeyboardInterrupt, PluginTimeout):
        raise  # past the time limit: the run ends (nothing after it could be trusted to end)
    except BaseException as exc:  # the kit's own fault: said, and the other checks still run
        detail = f"the kit could not complete this check: {type(exc).__name__}: {exc}"
        return CheckResult(name, ERROR, tol, detail, time.perf_counter() - start, "error")
    return CheckResult(name, PASSED, tol, "", time.perf_counter() - start)


def _plan(contexts: list[Context]) -> list[tuple[Context, str, Callable[[Context], None], str]]:
    return [(ctx, f"{c}/{ctx.dtype}", check, tol) for ctx in contexts for c, check, tol in CHECKS]


def variant_checks(
    name: str,
    *,
    impl: str = "textbook",
    dtypes: Sequence[str] = ("float64", "float32"),
    max_examples: int | None = None,
    unsupported: Collection[str] | None = None,
) -> list[tuple[str, Callable[[], None]]]:
    """``(check_name, check)`` pairs, one per check and dtype (``"loss/float64"``), for
    ``pytest.mark.parametrize("name, check", variant_checks("mine"))``; ``check()`` raises
    [`ConformanceError`][lr_variants.testing.ConformanceError] on failure or when it could run
    nothing, and calls ``pytest.skip`` for a check that is not applicable (an option declared
    unsupported). Arguments as [`check_variant`][lr_variants.testing.check_variant]; they are
    checked here, at collection."""
    contexts, why = _contexts(name, impl, dtypes, max_examples, unsupported)
    pairs: list[tuple[str, Callable[[], None]]] = []
    for ctx, full, check, tol in _plan(contexts):

        def run(
            ctx: Context = ctx,
            check: Callable[[Context], None] = check,
            full: str = full,
            tol: str = tol,
        ) -> None:
            if why:
                result = CheckResult(full, ERROR, tol, f"nothing was run: {why}", kind="not run")
            else:
                result = _run_one(check, ctx, full, tol)
            if result.status == NOT_APPLICABLE:
                import pytest

                pytest.skip(f"not applicable: {result.detail}")
            if result.status in (FAILED, ERROR):
                report = Report(
                    name,
                    impl,
                    tuple(dtypes),
                    ctx.max_examples,
                    [result],
                    tuple(sorted(ctx.unsupported)),
                ).finish()
                raise ConformanceError(report.failure_message(), report)

        run.__name__ = run.__qualname__ = full
        pairs.append((full, run))
    return pairs


def check_variant(
    name: str,
    *,
    impl: str = "textbook",
    dtypes: Sequence[str] = ("float64", "float32"),
    max_examples: int | None = None,
    unsupported: Collection[str] | None = None,
    progress: Progress | None = None,
) -> Report:
    """Run every conformance check on variant ``name`` (``impl``: ``"textbook"``, or ``"fast"``
    where ``lr_variants.impls`` lists it) in each of ``dtypes``, with ``max_examples``
    Hypothesis examples per full-cost property (default
    [`DEFAULT_MAX_EXAMPLES`][lr_variants.testing.DEFAULT_MAX_EXAMPLES]; the costlier checks run a
    fixed fraction of it) plus the edge-case tier (``lr_variants.testing.strategies.edge_problems``
    and its siblings), which always runs.

    ``unsupported``: the ``create()`` options (``"dampening"``, ``"nesterov"``, ...) the
    variant does not implement; the checks that need one are reported "not applicable". By
    default the variant's own declaration
    ([`declared_unsupported`][lr_variants.testing.declared_unsupported]). ``progress``, if given, is
    called as ``progress(k, total, check_name, None)`` before each check and with its
    [`CheckResult`][lr_variants.testing.CheckResult] after.

    Returns the [`Report`][lr_variants.testing.Report] when every check passes (or is not
    applicable); raises [`ConformanceError`][lr_variants.testing.ConformanceError] (its ``report``
    attached) when a check fails, with one block per root cause, or when nothing could be run (no
    device for the variant). ``ValueError`` for bad arguments.
    """
    contexts, why = _contexts(name, impl, dtypes, max_examples, unsupported)
    report = Report(
        name,
        impl,
        tuple(dict.fromkeys(dtypes)),
        contexts[0].max_examples,
        unsupported=tuple(sorted(contexts[0].unsupported)),
    )
    plan = _plan(contexts)
    for k, (ctx, full, check, tol) in enumerate(plan, 1):
        if progress is not None:
            progress(k, len(plan), full, None)
        if why:
            result = CheckResult(full, ERROR, tol, f"nothing was run: {why}", kind="not run")
        else:
            result = _run_one(check, ctx, full, tol)
        report.results.append(result)
        if progress is not None:
            progress(k, len(plan), full, result)
    report.finish()
    if not report.ok:
        raise ConformanceError(report.failure_message(), report)
    return report
