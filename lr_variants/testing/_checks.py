"""The table of checks and the two entry points that run them."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from lr_variants._validate import DTYPES, check_choice, check_int
from lr_variants.registry import IMPLS, impls, spec
from lr_variants.testing import _contract, _sgd, _values
from lr_variants.testing._run import (
    CheckResult,
    ConformanceError,
    Context,
    Mismatch,
    Report,
    Skip,
)

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

# examples per full-cost property; the SGD and contract checks run a fraction of it (sized so
# that a plain-NumPy gradient function passes both dtypes in well under a minute on 2 cores)
DEFAULT_MAX_EXAMPLES = 100


def _contexts(
    name: str, impl: str, dtypes: Sequence[str], max_examples: int | None
) -> tuple[list[Context], str]:
    """One :class:`Context` per dtype, every argument checked; and why all would be skipped
    (no CPU and no GPU for this variant), or ``""``."""
    variant = spec(name)  # ValueError for an unknown name
    check_choice(impl, "impl", IMPLS)
    if impl not in impls(name):
        raise ValueError(f"impl must be one of {impls(name)} for the {name} variant; got {impl!r}")
    if isinstance(dtypes, str) or not dtypes:
        raise ValueError(f"dtypes must be a non-empty sequence from {DTYPES}; got {dtypes!r}")
    for dt in dtypes:
        check_choice(dt, "dtypes", DTYPES)
    n = DEFAULT_MAX_EXAMPLES if max_examples is None else check_int(max_examples, "max_examples", 1)
    device, why = "cpu", ""
    if "cpu" not in variant.devices:
        import torch

        device = "cuda"
        if not torch.cuda.is_available():
            why = f"the {name} variant runs only on {variant.devices} and no GPU is available"
    return [Context(name, impl, dt, device, n) for dt in dict.fromkeys(dtypes)], why


def _run_one(check: Callable[[Context], None], ctx: Context, name: str, tol: str) -> CheckResult:
    start = time.perf_counter()
    try:
        check(ctx)
    except Skip as exc:
        return CheckResult(name, "skipped", tol, str(exc))
    except Mismatch as exc:
        return CheckResult(name, "failed", tol, str(exc), time.perf_counter() - start)
    return CheckResult(name, "passed", tol, "", time.perf_counter() - start)


def variant_checks(
    name: str,
    *,
    impl: str = "textbook",
    dtypes: Sequence[str] = ("float64", "float32"),
    max_examples: int | None = None,
) -> list[tuple[str, Callable[[], None]]]:
    """``(check_name, check)`` pairs, one per check and dtype (``"loss/float64"``), for
    ``pytest.mark.parametrize("name, check", variant_checks("mine"))``; ``check()`` raises
    :class:`ConformanceError` on failure. Arguments as :func:`check_variant`; they are checked
    here, at collection."""
    contexts, why = _contexts(name, impl, dtypes, max_examples)
    pairs: list[tuple[str, Callable[[], None]]] = []
    for ctx in contexts:
        for check_name, check, tol in CHECKS:
            full = f"{check_name}/{ctx.dtype}"

            def run(
                ctx: Context = ctx,
                check: Callable[[Context], None] = check,
                full: str = full,
                tol: str = tol,
            ) -> None:
                if why:
                    import pytest

                    pytest.skip(why)
                result = _run_one(check, ctx, full, tol)
                if result.status == "failed":
                    report = Report(name, impl, tuple(dtypes), ctx.max_examples, [result])
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
) -> Report:
    """Run every conformance check on variant ``name`` (``impl``: ``"textbook"``, or ``"fast"``
    where ``lr_variants.impls`` lists it) in each of ``dtypes``, with ``max_examples``
    Hypothesis examples per full-cost property (default :data:`DEFAULT_MAX_EXAMPLES`; the
    costlier checks run a fixed fraction of it).

    Returns the :class:`Report` when every check passes; raises :class:`ConformanceError`
    (its ``report`` attached) listing every failed check with its smallest failing input, the
    reference's value and the variant's. ``ValueError`` for bad arguments.
    """
    contexts, why = _contexts(name, impl, dtypes, max_examples)
    report = Report(name, impl, tuple(dict.fromkeys(dtypes)), contexts[0].max_examples)
    for ctx in contexts:
        for check_name, check, tol in CHECKS:
            full = f"{check_name}/{ctx.dtype}"
            if why:
                report.results.append(CheckResult(full, "skipped", tol, why))
            else:
                report.results.append(_run_one(check, ctx, full, tol))
    if report.failed:
        raise ConformanceError(report.failure_message(), report)
    return report
