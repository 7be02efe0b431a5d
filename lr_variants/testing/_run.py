"""Running checks: the context a check gets, how a property runs (Hypothesis, then the edge-case
tier), what a failure says, and how non-determinism and hostile code become findings."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky, HypothesisException, StopTest

from lr_variants._contain import PluginError, PluginTimeout
from lr_variants._model import Model
from lr_variants.registry import create
from lr_variants.testing.strategies import Edge

# kinds of finding (Mismatch.kind)
VALUE = "value"  # a value off the reference by more than its bound
RAISED = "raised"  # the variant raised (or called sys.exit)
NONDETERMINISTIC = "nondeterministic"  # the same input gave different results
CONTRACT = "contract"  # a rule of the protocol broken (state, purity, rejected calls)


class Mismatch(AssertionError):
    """One input failed a check (raised inside a property, so Hypothesis shrinks it).

    ``what`` says what differs; ``case`` is the input (shown as ``input:``, named when it is an
    ``Edge``); ``kind`` one of the kinds above;
    ``hints`` what the numbers suggest (filled as the failure is examined)."""

    def __init__(
        self,
        what: str,
        case: Any = None,
        *,
        kind: str = VALUE,
        quantity: str = "",
        hints: Sequence[str] = (),
        error: str = "",
    ) -> None:
        super().__init__(what)
        self.what, self.case, self.kind, self.quantity = what, case, kind, quantity
        self.hints = list(hints)
        self.error = error  # for RAISED: "TypeError: message", the same for every input
        self.edge = ""

    def __str__(self) -> str:
        shown = f"edge case {self.edge!r}: {self.case!r}" if self.edge else repr(self.case)
        return self.what + ("" if self.case is None else f"\n    input: {shown}")


class Skip(Exception):
    """A check that does not apply to this variant; the message is the reason."""


def _raised(exc: BaseException, case: Any) -> Mismatch:
    """The finding for a variant that raised ``exc`` (any exception, ``SystemExit`` included;
    contained by the library, ``PluginError``, it is the exception
    the plug-in raised, or what was wrong with what it returned)."""
    if isinstance(exc, PluginError):
        if exc.original is None:
            return Mismatch(f"{exc.phase}: {exc.error}", case, kind=RAISED, error=exc.error)
        exc = exc.original
    error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    what = f"raised {error}"
    if isinstance(exc, SystemExit):
        error = f"SystemExit({exc.code!r})"
        what = f"raised {error}: the variant called sys.exit (the kit does not exit)"
    elif not isinstance(exc, Exception):
        what += f" (a BaseException that is not an Exception: {type(exc).__name__})"
    return Mismatch(what, case, kind=RAISED, error=error)


class Context:
    """What a check runs against: the variant ``name`` in ``impl`` on ``device`` in ``dtype``,
    with ``max_examples`` Hypothesis examples for a full-cost property; ``unsupported``: the
    ``create()`` options the variant declares it does not implement.

    Models are reused between examples (one per number of features and options, reset with
    ``set_params`` and ``set_state({})``, which the contract says make it a fresh model), so a
    variant that compiles per instance compiles a few times, not once per example. A check
    that compares models asks for distinct slots; a failure is confirmed on new models
    before it is reported (and if new models pass where a reused one failed, reuse stops)."""

    MAX_CACHED = 256

    def __init__(
        self,
        name: str,
        impl: str,
        dtype: str,
        device: str,
        max_examples: int,
        unsupported: frozenset[str] = frozenset(),
    ) -> None:
        self.name, self.impl, self.dtype, self.device = name, impl, dtype, device
        self.max_examples = max_examples
        self.unsupported = unsupported
        self.reuse = True
        self._models: dict[tuple[Any, ...], Model] = {}

    def __repr__(self) -> str:
        return f"Context({self.name!r}, {self.impl!r}, {self.dtype!r}, {self.device!r})"

    def model(
        self, n_features: int, *, fresh: bool = False, slot: int = 0, **options: Any
    ) -> Model:
        """A model of the variant (``lr_variants.create``) with ``options``: a new one, or the
        one made before for these arguments, reset to a fresh model's state. Models of
        different ``slot`` are distinct objects (a check comparing two models asks for two
        slots); ``fresh``: always a new one."""
        key = (slot, n_features, *sorted(options.items()))
        if self.reuse and not fresh:
            cached = self._models.get(key)
            if cached is not None:
                try:
                    cached.set_state({})
                    reset = not cached.get_state()
                except KeyboardInterrupt:
                    raise
                except BaseException:  # the state checks report it; here, no reuse
                    reset = False
                if reset:
                    return cached
                self.reuse = False  # set_state({}) kept a buffer: no reuse (state_roundtrip)
        made = create(
            self.name,
            n_features,
            dtype=self.dtype,
            device=self.device,
            impl=self.impl,
            **options,
        )
        if self.reuse and not fresh:
            if len(self._models) >= self.MAX_CACHED:
                self._models.pop(next(iter(self._models)))
            self._models[key] = made
        return made

    def at(self, problem: Any, *, fresh: bool = False, slot: int = 0, **options: Any) -> Model:
        """A model with its parameters set to the problem's ``(w, b)``."""
        model = self.model(problem.d, fresh=fresh, slot=slot, **options)
        model.set_params(problem.w, problem.b)
        return model

    @contextmanager
    def fresh_models(self) -> Iterator[None]:
        """Within: every model is new."""
        saved, self.reuse = self.reuse, False
        try:
            yield
        finally:
            self.reuse = saved


# ======================================================================= comparisons


def _close(a: Any, b: Any, tol: Any, rtol: float) -> bool:
    return bool(np.all(np.abs(a - b) <= tol + rtol * np.abs(b)))


def value_hints(
    got: Any, expected: Any, tol: Any, *, n: int = 0, tol32: Any = None, dtype: str = ""
) -> list[str]:
    """What the numbers of a failed comparison suggest: not finite where the reference is; a
    factor ``N``, ``1/N`` or ``-1``; an error that float32 arithmetic would explain in a
    float64 computation (``tol32``: the float32 bound of the same computation)."""
    g, e, t = np.broadcast_arrays(
        np.asarray(got, np.float64), np.asarray(expected, np.float64), np.asarray(tol, np.float64)
    )
    bad = ~(np.abs(g - e) <= t)
    if not bad.any():
        return []
    gb, eb = g[bad], e[bad]
    if not np.all(np.isfinite(gb)) and np.all(np.isfinite(eb)):
        return [
            "the variant's value is not finite where the reference's is: an overflow "
            "(exp or a product of a large |z|?) or 0/0"
        ]
    hints = []
    rtol = 1e-4 if dtype == "float32" else 1e-9
    # a factor holds for every element large enough to show it, not only the failing ones (a
    # bug in some features is not a factor N that happens to match there)
    big = np.abs(e) > t
    if big.any() and bad[big].any():
        gs, es, ts = g[big], e[big], t[big]
        if n > 1 and _close(gs, n * es, n * ts, rtol):
            hints.append(
                f"the variant's value is N = {n} times the reference's: a sum where the mean "
                "belongs (a missing 1/N)"
            )
        elif n > 1 and _close(gs, es / n, ts / n, rtol):
            hints.append(
                f"the variant's value is 1/N = 1/{n} of the reference's: divided by N once too "
                "often (weights already sum to 1)"
            )
        elif _close(gs, -es, ts, rtol):
            hints.append("the variant's value is the reference's with its sign flipped")
    if tol32 is not None and dtype == "float64":
        # float32 arithmetic shows as values that are float32 numbers, or as errors of the
        # size of float32's rounding (a quarter of its epsilon relative at least) within the
        # float32 bound; an error far smaller (cancellation) is not float32's
        t32 = np.broadcast_to(np.asarray(tol32, np.float64), g.shape)[bad]
        diff = np.abs(gb - eb)
        as_float32 = np.all(gb.astype(np.float32).astype(np.float64) == gb)
        rounding = np.all(diff >= 2.0**-25 * np.abs(eb))
        if np.all(diff <= t32) and (as_float32 or rounding):
            hints.append(
                "an error at float32 level in float64 mode: within the bound of the same "
                "computation in float32, far beyond float64's; something computes in float32"
            )
    return hints


def check_close(
    quantity: str,
    got: Any,
    expected: Any,
    tol: Any,
    case: Any,
    names: tuple[str, str] = ("reference", "variant"),
    *,
    n: int = 0,
    tol32: Any = None,
    dtype: str = "",
) -> None:
    """Raise ``Mismatch`` unless ``|got - expected| <= tol`` elementwise (NaN fails),
    naming the worst element; ``names`` say what ``expected`` and ``got`` are. ``n``,
    ``tol32`` and ``dtype`` feed ``value_hints``."""
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
            f"|difference| {diff[i]:.3g} > tolerance {t[i]:.3g}",
            case,
            quantity=quantity,
            hints=value_hints(g, e, t, n=n, tol32=tol32, dtype=dtype),
        )


def check_equal(quantity: str, got: Any, expected: Any, case: Any) -> None:
    """Raise ``Mismatch`` unless ``got`` and ``expected`` hold the same bits."""
    g, e = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    if g.shape != e.shape or not np.array_equal(g.view(np.int64), e.view(np.int64)):
        raise Mismatch(
            f"{quantity}: expected {e.tolist()!r} bit for bit, variant gave {g.tolist()!r}",
            case,
            kind=CONTRACT,
            quantity=quantity,
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
            f"{quantity}: state keys changed from {sorted(before)} to {sorted(after)}",
            case,
            kind=CONTRACT,
        )
    for key in before:
        check_equal(f"{quantity}: {key}", after[key], before[key], case)


# ======================================================================= one property


def _nondeterministic(first: Mismatch | None, second: Mismatch | None, case: Any) -> Mismatch:
    def said(m: Mismatch | None) -> str:
        return "passed" if m is None else m.what.replace("\n", "\n        ")

    return Mismatch(
        "non-deterministic: the same input, run twice on new models, gave different results"
        f"\n      first run: {said(first)}\n      second run: {said(second)}",
        case,
        kind=NONDETERMINISTIC,
        hints=[
            "results must be the same bits for the same inputs: a sum in a varying order "
            "(threads, a set, a random permutation) or state kept between calls changes them"
        ],
    )


def _from_hypothesis(exc: BaseException) -> Mismatch:
    """A finding for an exception Hypothesis raised instead of the property's own failure."""
    if isinstance(exc, Flaky):  # an input that failed did not fail the same way again
        inner = [e for e in getattr(exc, "exceptions", ()) if isinstance(e, Mismatch)]
        if inner:
            return _nondeterministic(inner[0], None, inner[0].case)
        return Mismatch(
            f"non-deterministic: an input that failed did not fail again ({exc})",
            kind=NONDETERMINISTIC,
        )
    return Mismatch(
        f"the kit could not complete this check: {type(exc).__name__}: {exc}".strip(),
        kind="error",
        error=f"{type(exc).__name__}: {exc}",
    )


class _Property:
    """State of one property's run: examples run, the first confirmed failure, a finding of
    non-determinism (which ends the search: Hypothesis cannot shrink what does not repeat)."""

    def __init__(self, ctx: Context, body: Callable[[Any], None]) -> None:
        self.ctx, self.body = ctx, body
        self.ran = 0
        self.confirmed = False
        self.reuse_broken = False
        self.nondeterministic: Mismatch | None = None

    def attempt(self, case: Any) -> Mismatch | None:
        """One run of the body; whatever the variant raises is a finding, never obeyed."""
        self.ran += 1
        try:
            self.body(case)
        except Mismatch as m:
            if m.case is None:
                m.case = case
            return m
        except (KeyboardInterrupt, PluginTimeout, StopTest, HypothesisException):
            raise  # a call past the time limit ends the whole check run
        except BaseException as exc:  # SystemExit included: reported, not obeyed
            return _raised(exc, case)
        return None

    def confirm(self, case: Any, first: Mismatch) -> Mismatch | None:
        """``first`` checked again on new models: the failure to report, a finding of
        non-determinism, or ``None`` (the new models pass: the reused one was at fault, and
        reuse stops; the contract checks say why)."""
        fresh = not self.ctx.reuse
        with self.ctx.fresh_models():
            second = self.attempt(case)
            a, b = (first, second) if fresh else (second, self.attempt(case))
        if (a is None) != (b is None) or (a is not None and b is not None and str(a) != str(b)):
            return _nondeterministic(a, b, case)
        if a is None:  # the reused model failed where new ones pass: stop reusing
            self.reuse_broken, self.ctx.reuse = True, False
        return a

    def judge(self, case: Any) -> Mismatch | None:
        """The failure to report for ``case`` (confirmed the first time), or ``None``."""
        if self.nondeterministic is not None:
            return None  # nothing more to learn from this property
        first = self.attempt(case)
        if first is None or self.confirmed:
            return first
        found = self.confirm(case, first)
        if found is not None and found.kind == NONDETERMINISTIC:
            self.nondeterministic = found
            return None
        if found is not None:
            self.confirmed, self.ctx.reuse = True, False  # shrink on new models
        return found

    def hypothesis_test(self, case: Any) -> None:
        failure = self.judge(case)
        if failure is not None:
            # one raise for every failure: Hypothesis tells bugs apart by where they are raised
            raise failure


def run_property(
    ctx: Context,
    strategy: st.SearchStrategy[Any],
    body: Callable[[Any], None],
    *,
    fraction: float = 1.0,
    edges: Sequence[Edge] = (),
    reduce: Sequence[Callable[[Any], list[Any]]] = (),
    probes: Callable[[Any], list[tuple[str, Any]]] | None = None,
) -> None:
    """Run ``body`` on ``max(1, fraction * ctx.max_examples)`` examples of ``strategy``, then on
    every input of the edge-case tier ``edges``. Anything ``body`` raises is a failure of that
    input: confirmed on new models (a different result is a finding of non-determinism),
    shrunk by Hypothesis, then by each of ``reduce`` in turn (each gives smaller inputs,
    smallest first: the first that fails replaces it; e.g. fewer rows, then fewer features),
    examined with ``probes`` (pairs of a hint and a smaller input: the hint holds if the
    smaller input passes), and raised as a ``Mismatch``. No exception of Hypothesis's own
    leaves this function."""
    n = max(1, round(ctx.max_examples * fraction))
    prop = _Property(ctx, body)
    reuse = ctx.reuse
    failure: Mismatch | None = None
    test = settings(
        max_examples=n,
        deadline=None,
        database=None,
        derandomize=True,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        phases=[Phase.generate, Phase.shrink],
    )(given(strategy)(prop.hypothesis_test))
    try:
        test()
    except Mismatch as m:
        failure = m
    except (KeyboardInterrupt, PluginTimeout):
        raise
    except BaseException as exc:  # Flaky, an ExceptionGroup, a health check: findings too
        failure = _from_hypothesis(exc)
    finally:
        ctx.reuse = reuse and not prop.reuse_broken
    if prop.nondeterministic is not None:
        raise prop.nondeterministic
    if failure is None:
        for edge in edges:
            first = prop.attempt(edge.case)
            found = None if first is None else prop.confirm(edge.case, first)
            if found is not None:
                found.edge, failure = edge.name, found
                break
    if failure is None:
        if prop.ran == 0:
            raise Skip("no example could be run")
        return
    if failure.kind in (VALUE, RAISED) and failure.case is not None:
        with ctx.fresh_models():
            for smaller_inputs in reduce:
                for smaller in smaller_inputs(failure.case):
                    found = prop.attempt(smaller)
                    if found is not None:
                        found.edge = failure.edge and f"{failure.edge}, reduced"
                        failure = found
                        break
    if probes is not None and failure.kind in (VALUE, RAISED) and failure.case is not None:
        with ctx.fresh_models():
            for hint, smaller in probes(failure.case):
                if prop.attempt(smaller) is None:
                    failure.hints.append(hint)
    raise failure
