"""Running checks: the context a check gets, how a property runs under Hypothesis, what a
failure says, and the report."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, example, given, settings
from hypothesis import strategies as st

from lr_variants._model import Model
from lr_variants.registry import create


class ConformanceError(AssertionError):
    """A variant failed one or more conformance checks; the message lists each failed check
    with its smallest failing input, the reference's value and the variant's. ``report``: the
    :class:`Report`."""

    def __init__(self, message: str, report: Report | None = None) -> None:
        super().__init__(message)
        self.report = report


class Mismatch(AssertionError):
    """One example failed a check (raised inside a property, so Hypothesis shrinks it)."""


class Skip(Exception):
    """A check that does not apply to this variant; the message is the reason."""


@dataclass(frozen=True)
class Context:
    """What a check runs against: the variant ``name`` in ``impl`` on ``device`` in ``dtype``,
    with ``max_examples`` Hypothesis examples for a full-cost property."""

    name: str
    impl: str
    dtype: str
    device: str
    max_examples: int

    def model(self, n_features: int, **options: Any) -> Model:
        """A new model of the variant (``lr_variants.create``) with ``options``."""
        return create(
            self.name,
            n_features,
            dtype=self.dtype,
            device=self.device,
            impl=self.impl,
            **options,
        )

    def at(self, problem: Any, **options: Any) -> Model:
        """A new model with its parameters set to the problem's ``(w, b)``."""
        model = self.model(problem.d, **options)
        model.set_params(problem.w, problem.b)
        return model


def check_close(
    quantity: str,
    got: Any,
    expected: Any,
    tol: Any,
    case: Any,
    names: tuple[str, str] = ("reference", "variant"),
) -> None:
    """Raise :class:`Mismatch` unless ``|got - expected| <= tol`` elementwise (NaN fails),
    naming the worst element; ``names`` say what ``expected`` and ``got`` are."""
    g, e, t = np.broadcast_arrays(
        np.asarray(got, np.float64), np.asarray(expected, np.float64), np.asarray(tol, np.float64)
    )
    diff = np.abs(g - e)
    bad = ~(diff <= t)
    if bad.any():
        ratio = np.where(np.isnan(diff), np.inf, diff / np.maximum(t, 1e-300))
        i = np.unravel_index(int(np.argmax(np.where(bad, ratio, -1.0))), g.shape)
        at = f"[{', '.join(map(str, i))}]" if g.ndim else ""
        raise Mismatch(
            f"{quantity}{at}: {names[0]} {float(e[i])!r}, {names[1]} {float(g[i])!r}; "
            f"|difference| {diff[i]:.3g} > tolerance {t[i]:.3g}\n    input: {case!r}"
        )


def check_equal(quantity: str, got: Any, expected: Any, case: Any) -> None:
    """Raise :class:`Mismatch` unless ``got`` and ``expected`` hold the same bits."""
    g, e = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    if g.shape != e.shape or not np.array_equal(g.view(np.int64), e.view(np.int64)):
        raise Mismatch(
            f"{quantity}: expected {e.tolist()!r} bit for bit, variant gave {g.tolist()!r}"
            f"\n    input: {case!r}"
        )


def state_bits(model: Model) -> dict[str, Any]:
    """Parameters and optimizer state, for bitwise comparisons."""
    w, b = model.get_params()
    state = model.get_state()
    return {"w": w, "b": np.float64(b), **{k: state[k] for k in sorted(state)}}


def check_same_state(quantity: str, model: Model, before: dict[str, Any], case: Any) -> None:
    after = state_bits(model)
    if sorted(after) != sorted(before):
        raise Mismatch(
            f"{quantity}: state keys changed from {sorted(before)} to {sorted(after)}"
            f"\n    input: {case!r}"
        )
    for key in before:
        check_equal(f"{quantity}: {key}", after[key], before[key], case)


def run_property(
    ctx: Context,
    strategy: st.SearchStrategy[Any],
    body: Callable[[Any], None],
    *,
    fraction: float = 1.0,
    examples: tuple[Any, ...] = (),
) -> None:
    """Run ``body`` on ``max(1, fraction * ctx.max_examples)`` examples of ``strategy`` (and
    each of ``examples`` first). Any exception ``body`` raises is a failure of that example;
    Hypothesis shrinks it and the :class:`Mismatch` of the smallest input is raised."""
    n = max(1, round(ctx.max_examples * fraction))

    def guarded(case: Any) -> None:
        try:
            body(case)
        except Mismatch:
            raise
        except Exception as exc:  # the variant raised: a failure like any other
            raise Mismatch(f"raised {type(exc).__name__}: {exc}\n    input: {case!r}") from exc

    test = given(strategy)(guarded)
    for case in reversed(examples):  # decorators apply innermost first: keep the order
        test = example(case)(test)
    settings(
        max_examples=n,
        deadline=None,
        database=None,
        derandomize=True,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )(test)()


# ======================================================================= the report


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome: ``status`` is ``"passed"``, ``"failed"`` or ``"skipped"``;
    ``tolerance`` says which bound was used; ``detail`` is the failure or the skip reason."""

    name: str
    status: str
    tolerance: str
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Report:
    """What :func:`lr_variants.testing.check_variant` ran: one :class:`CheckResult` per check.
    ``str(report)`` is a table; :meth:`to_dict` the same for machines."""

    variant: str
    impl: str
    dtypes: tuple[str, ...]
    max_examples: int
    results: list[CheckResult] = field(default_factory=list)

    def __iter__(self) -> Iterator[CheckResult]:
        return iter(self.results)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "impl": self.impl,
            "dtypes": list(self.dtypes),
            "max_examples": self.max_examples,
            "ok": self.ok,
            "checks": [r.__dict__ for r in self.results],
        }

    def __str__(self) -> str:
        counts = {s: sum(r.status == s for r in self.results) for s in ("passed", "failed")}
        skipped = len(self.results) - counts["passed"] - counts["failed"]
        width = max([len(r.name) for r in self.results] + [5])
        lines = [
            f"conformance of variant {self.variant!r} (impl {self.impl}, "
            f"{self.max_examples} examples per property)",
            f"{'check':<{width}}  {'result':<7}  {'seconds':>7}  tolerance",
        ]
        for r in self.results:
            lines.append(
                f"{r.name:<{width}}  {r.status:<7}  {r.seconds:7.2f}  {r.tolerance}"
                + (f"\n{'':<{width}}  skipped: {r.detail}" if r.status == "skipped" else "")
            )
        lines.append(f"{counts['passed']} passed, {counts['failed']} failed, {skipped} skipped")
        return "\n".join(lines)

    def failure_message(self) -> str:
        parts = [f"variant {self.variant!r} failed {len(self.failed)} conformance check(s):"]
        for r in self.failed:
            parts.append(f"\n{r.name} FAILED ({r.tolerance})\n  {r.detail}")
        return "\n".join(parts)
