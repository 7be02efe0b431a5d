"""The report: one result per check, failures grouped by root cause, and the error raised."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

PASSED, FAILED, NOT_APPLICABLE, ERROR = "passed", "failed", "not applicable", "error"

# a failure of a check on the left is explained by a failure of one on the right (same dtype,
# or float64), which it would follow from: the first failed one found is its root cause
# (pure_queries last: the checks that query one model several times fail after a query that
# changed it)
EXPLAINED_BY: dict[str, tuple[str, ...]] = {
    "saturation": ("loss", "gradients", "probabilities", "pure_queries"),
    "sample_weights": ("loss", "gradients", "pure_queries"),
    "weight_scale": ("sample_weights", "loss", "gradients", "pure_queries"),
    "determinism": ("pure_queries",),
    "zero_weight_batch": ("sample_weights", "gradients", "sgd_plain"),
    "sgd_plain": ("gradients",),
    "sgd_momentum_undamped": ("sgd_plain", "gradients"),
    "sgd_momentum": ("sgd_momentum_undamped", "sgd_plain", "gradients"),
    "sgd_nesterov": ("sgd_momentum_undamped", "sgd_plain", "gradients"),
    "sgd_weight_decay": ("sgd_plain", "gradients"),
    "sgd_decay_bias": ("sgd_weight_decay", "sgd_plain", "gradients"),
    "sgd_maximize": ("sgd_momentum_undamped", "sgd_weight_decay", "sgd_plain", "gradients"),
    "set_params_keeps_momentum": ("sgd_momentum", "gradients"),
}
# checks that compare bits: a variant that is not deterministic fails them as a consequence
BITWISE = ("pure_queries", "set_params_keeps_momentum", "state_roundtrip", "rejected_call")
WEIGHTED = ("sample_weights", "weight_scale", "zero_weight_batch")
VALUES = ("loss", "gradients", "probabilities")
# what each optimizer check adds to the one before it, for a hint when only it fails
SGD_PART = {
    "sgd_plain": "the update p <- p - lr g itself (a sign, a scale, a stale or accumulated "
    "gradient, a parameter not updated)",
    "sgd_momentum_undamped": "momentum: the first buffer is the gradient itself (not zero), "
    "then buf <- m buf + g",
    "sgd_momentum": "dampening: buf <- m buf + (1 - dampening) g after the first step",
    "sgd_nesterov": "nesterov: the step is along g + m buf",
    "sgd_weight_decay": "weight decay: g + wd w, on w only (the bias is spared)",
    "sgd_decay_bias": "decay_bias: weight decay on the bias too",
    "sgd_maximize": "maximize: the gradient negated before the weight decay is added",
}


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome: ``status`` is ``"passed"``, ``"failed"``, ``"not applicable"``
    (an option the variant declares unsupported) or ``"error"`` (nothing could be run);
    ``tolerance`` says which bound was used; ``detail`` is the failure or the reason; ``kind``
    the kind of failure (``"value"``, ``"raised"``, ``"nondeterministic"``, ``"contract"``);
    ``hints`` what the numbers suggest; ``cause`` the check whose failure explains this one
    (``""``: this one is a root cause)."""

    name: str
    status: str
    tolerance: str
    detail: str = ""
    seconds: float = 0.0
    kind: str = ""
    hints: tuple[str, ...] = ()
    cause: str = ""
    error: str = ""

    @property
    def check(self) -> str:
        return self.name.split("/")[0]

    @property
    def dtype(self) -> str:
        return self.name.rpartition("/")[2]


def _root_causes(results: list[CheckResult]) -> list[CheckResult]:
    """``results`` with ``cause`` and root-cause ``hints`` filled in."""
    by_name = {r.name: r for r in results}
    failed = [r for r in results if r.status in (FAILED, ERROR)]
    nondet = next((r for r in failed if r.kind == "nondeterministic"), None)
    cause: dict[str, str] = {}

    def root(name: str) -> str:
        while name in cause:
            name = cause[name]
        return name

    for r in failed:
        if r is nondet:
            continue
        candidates: list[str] = []
        same = [q.name for q in failed if q.error and q.error == r.error and q.status == r.status]
        if r.error and same and same[0] != r.name:
            candidates.append(same[0])
        if r.status == ERROR and r.detail:
            first = next(q for q in failed if q.status == ERROR and q.detail == r.detail)
            candidates.append(first.name)
        if nondet is not None and (r.kind == "nondeterministic" or r.check in BITWISE):
            candidates.append(nondet.name)
        if r.dtype == "float32":
            candidates.append(f"{r.check}/float64")
        if r.check in VALUES:  # the same characterizing hint as an earlier value check
            only = _only(r)
            candidates += [
                q.name
                for q in failed[: failed.index(r)]
                if q.check in VALUES and q.dtype == r.dtype and only & _only(q)
            ]
        for check in EXPLAINED_BY.get(r.check, ()):
            candidates += [f"{check}/{r.dtype}", f"{check}/float64"]
        for c in candidates:
            q = by_name.get(c)
            if q is not None and q.status in (FAILED, ERROR) and c != r.name and root(c) != r.name:
                cause[r.name] = root(c)
                break
    out = []
    for r in results:
        hints = list(r.hints)
        if r.status in (FAILED, ERROR) and r.name not in cause:
            hints += _root_hints(r, by_name, [q for q in failed if cause.get(q.name) == r.name])
        out.append(_replace(r, cause=cause.get(r.name, ""), hints=tuple(dict.fromkeys(hints))))
    return out


def _only(r: CheckResult) -> set[str]:
    """The hints of a result that characterize its cause ("fails only ...", float32 level),
    without their numbers."""
    keys = ("fails only", "an error at float32 level")
    return {h.split(" (")[0].split(":")[0] for h in r.hints if h.startswith(keys)}


def _replace(r: CheckResult, **changes: Any) -> CheckResult:
    return CheckResult(**{**asdict(r), **changes})


def _root_hints(
    r: CheckResult, by_name: dict[str, CheckResult], folded: list[CheckResult]
) -> list[str]:
    def passed(check: str, dtype: str = r.dtype) -> bool:
        q = by_name.get(f"{check}/{dtype}")
        return q is not None and q.status == PASSED

    hints = []
    if r.check in WEIGHTED and passed("loss") and passed("gradients"):
        hints.append(
            "only weighted cases fail: the unweighted loss and gradients pass; sample_weight "
            "arrives normalized to sum 1 (u), the weighted mean is sum(u l)"
        )
    other = "float64" if r.dtype == "float32" else "float32"
    if passed(r.check, other):
        hints.append(f"only {r.dtype} fails: the same check passes in {other}")
    if r.check in SGD_PART and passed("gradients"):
        hints.append(
            f"the gradients pass; what this check adds to the rule does not match "
            f"torch.optim.SGD's: {SGD_PART[r.check]}"
        )
    if r.kind == "raised" and len(folded) >= 2:
        hints.append(
            f"the same exception in {len(folded) + 1} checks: every check calls the variant "
            "the same way, so fix this first"
            + (
                "; a gradient function is fn(w, b, X, y, sample_weight) -> (loss, grad_w, "
                "grad_b), a factory is factory(w, b, *, sgd, dtype, device)"
                if r.error.startswith("TypeError")
                else ""
            )
        )
    return hints


class ConformanceError(AssertionError):
    """A variant failed conformance checks, or none could be run; the message has one block
    per root cause: the failed check with its smallest failing input, the reference's value
    and the variant's, hints from the numbers, and the failures it explains. ``report``: the
    [`Report`][lr_variants.testing.Report]."""

    def __init__(self, message: str, report: Report | None = None) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class Report:
    """What [`lr_variants.testing.check_variant`][] ran: one
    [`CheckResult`][lr_variants.testing.CheckResult] per check. ``str(report)`` is a table;
    [`failure_message`][lr_variants.testing.Report.failure_message] the root causes; ``to_dict`` all
    of it for machines."""

    variant: str
    impl: str
    dtypes: tuple[str, ...]
    max_examples: int
    results: list[CheckResult] = field(default_factory=list)
    unsupported: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[CheckResult]:
        return iter(self.results)

    def finish(self) -> Report:
        """Fill in root causes and their hints (once every result is in)."""
        self.results = _root_causes(self.results)
        return self

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == FAILED]

    @property
    def errors(self) -> list[CheckResult]:
        """Checks that could not run anything (no device, every case skipped)."""
        return [r for r in self.results if r.status == ERROR]

    @property
    def not_applicable(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == NOT_APPLICABLE]

    @property
    def root_causes(self) -> list[CheckResult]:
        return [r for r in self.results if r.status in (FAILED, ERROR) and not r.cause]

    @property
    def ok(self) -> bool:
        """Every check passed or was declared not applicable, and at least one passed."""
        return not self.failed and not self.errors and any(r.status == PASSED for r in self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "impl": self.impl,
            "dtypes": list(self.dtypes),
            "max_examples": self.max_examples,
            "ok": self.ok,
            "unsupported": list(self.unsupported),
            "root_causes": [r.name for r in self.root_causes],
            "checks": [{**asdict(r), "hints": list(r.hints)} for r in self.results],
        }

    def summary(self) -> str:
        count = {s: sum(r.status == s for r in self) for s in (PASSED, FAILED)}
        line = f"{count[PASSED]} passed, {count[FAILED]} failed"
        if self.failed:
            k = len([r for r in self.root_causes if r.status == FAILED])
            line += f" ({k} root cause{'' if k == 1 else 's'})"
        if self.not_applicable:
            line += f", {len(self.not_applicable)} not applicable (declared unsupported: "
            line += f"{', '.join(self.unsupported)})"
        if self.errors:
            line += f", {len(self.errors)} not run (error)"
        return line

    def __str__(self) -> str:
        width = max([len(r.name) for r in self.results] + [5])
        lines = [
            f"conformance of variant {self.variant!r} (impl {self.impl}, "
            f"{self.max_examples} examples per property)",
            f"{'check':<{width}}  {'result':<7}  {'seconds':>7}  tolerance",
        ]
        for r in self.results:
            status = {NOT_APPLICABLE: "n/a", ERROR: "not run"}.get(r.status, r.status)
            note = ""
            if r.status == NOT_APPLICABLE:
                note = f"\n{'':<{width}}  not applicable: {r.detail}"
            elif r.cause:
                note = f"  (follows from {r.cause})"
            lines.append(f"{r.name:<{width}}  {status:<7}  {r.seconds:7.2f}  {r.tolerance}{note}")
        lines.append(self.summary())
        return "\n".join(lines)

    def failure_message(self) -> str:
        """One block per root cause: the failure, its hints, the failures it explains."""
        roots = self.root_causes
        failed = [r for r in self.results if r.status in (FAILED, ERROR)]
        if not roots and not any(r.status == PASSED for r in self):
            return f"variant {self.variant!r}: no check was run"
        head = (
            f"variant {self.variant!r} failed {len(failed)} conformance check(s), "
            f"{len(roots)} root cause(s):"
        )
        if roots and all(r.status == ERROR for r in failed):
            head = (
                f"variant {self.variant!r} could not be checked: {len(failed)} check(s) ran "
                "nothing:"
            )
        parts = [head]
        for r in roots:
            what = "FAILED" if r.status == FAILED else "NOT RUN"
            if r.kind == "nondeterministic":
                what += ": determinism"
            block = [f"\n{r.name} {what} ({r.tolerance})", "  " + r.detail]
            for h in r.hints:
                block.append(f"  hint: {h}")
            folded = [q for q in failed if q.cause == r.name]
            if folded and r.status == ERROR and len(folded) == len(self.results) - 1:
                block.append(f"  the same for every other check ({len(folded)})")
            elif folded and r.status == ERROR:
                names = textwrap.wrap(", ".join(q.name for q in folded), 94)
                block += ["  the same for:"] + [f"    {line}" for line in names]
            elif folded:
                names = textwrap.wrap(", ".join(q.name for q in folded), 94)
                block.append("  explains these failures too (the report has each one's input):")
                block += [f"    {line}" for line in names]
            parts.append("\n".join(block))
        return "\n".join(parts)


# tracebacks and reprs name the public module the classes are imported from
for _cls in (CheckResult, ConformanceError, Report):
    _cls.__module__ = "lr_variants.testing"
