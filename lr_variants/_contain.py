"""Containing code the library did not write: plug-in variants (a factory, a gradient function,
the module that holds them) may raise, call ``sys.exit``, hang or print.

Every call into a plug-in goes through ``call``, which

- turns whatever the plug-in raises (``SystemExit`` included; never ``KeyboardInterrupt``)
  into one ``PluginError`` naming the variant, the phase (``import``, ``factory``,
  ``gradient``, ``step``, ``arrays.convert``, ...) and the exception's type and first line,
  the exception itself kept as ``original`` (and as ``__cause__``) for its author;
- bounds the call in time (``timeout``, default ``DEFAULT_TIMEOUT`` seconds): past the
  limit a ``SIGALRM`` interrupts the plug-in and ``PluginTimeout`` is raised, a
  ``BaseException`` (like ``KeyboardInterrupt``) so that neither the plug-in's nor a test
  runner's ``except Exception`` takes it for an ordinary failure;
- sends what the plug-in prints to stderr, so that a ``--json`` standard output holds JSON;
- lets Ctrl-C end the call as anywhere (``KeyboardInterrupt``), and, where the plug-in
  catches that and goes on, ends the process GRACE seconds later (or at a second Ctrl-C) as an
  interrupted run ends: ``lr-variants: interrupted``, exit status 130.

The built-in variants never pass through here: containment costs only plug-ins (one Python
call layer and two ``setitimer`` system calls per call). The time limit and the redirection
of prints need the main thread (and the limit ``SIGALRM`` unclaimed by another handler);
calls from other threads are contained but run without them. Code stuck in
compiled code that never returns to the interpreter cannot be interrupted from inside the
process.
"""

from __future__ import annotations

import functools
import io
import math
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

DEFAULT_TIMEOUT = 60.0  # seconds per call into a plug-in
MIN_TIMEOUT = 0.01
MAX_TIMEOUT = 1_000_000.0
TIMEOUT_VARIABLE = "LR_VARIANTS_PLUGIN_TIMEOUT"
DEBUG_VARIABLE = "LR_VARIANTS_DEBUG"


MAX_LINE = 500  # characters of a plug-in's message quoted in the one line


def first_line(exc: BaseException) -> str:
    """``"Type: first line of the message"`` (``SystemExit(3)`` for an exit), at most
    ``MAX_LINE`` characters of it, control characters shown escaped. Reading the message is
    the plug-in's code too (``__str__``, ``__repr__``): if that fails, the line says so."""
    name = type(exc).__name__
    try:
        if isinstance(exc, SystemExit):
            text = f"SystemExit({_short(repr(exc.code))}): it called sys.exit"
            return text
        text = str(exc).strip()
        if isinstance(exc, KeyError) and exc.args:
            text = repr(exc.args[0])
    except BaseException:  # a __str__ that raises or exits: the type alone
        return f"{name} (its message could not be read)"
    head = text.splitlines()[0] if text else ""
    return f"{name}: {_short(head)}" if head else name


def _short(text: str) -> str:
    """``text`` with control characters escaped (no terminal codes) and cut to MAX_LINE."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[: MAX_LINE + 1])
    return text if len(text) <= MAX_LINE else text[:MAX_LINE] + "..."


class PluginError(Exception):
    """A plug-in variant failed: ``variant`` (its name), ``phase`` (what the library was
    calling), ``error`` (one line: the exception's type and first line, or what was wrong with
    what it returned) and ``original`` (the exception, or ``None``). The command line prints
    it as one line with exit status ``status`` (1)."""

    status = 1

    def __init__(self, variant: str, phase: str, error: BaseException | str) -> None:
        self.variant, self.phase = variant, phase
        self.original = error if isinstance(error, BaseException) else None
        self.error = first_line(error) if isinstance(error, BaseException) else error
        super().__init__(f"plug-in variant {variant!r} failed in {phase}: {self.error}")


class SpecError(PluginError, ValueError):
    """A ``package.module:attribute`` spec that does not resolve (a ``ValueError``, exit
    status 2): its module failed to import, or it names nothing callable."""

    status = 2

    def __init__(self, message: str, original: BaseException | None = None) -> None:
        Exception.__init__(self, message)
        self.variant, self.phase, self.error, self.original = "", "import", message, original


class PluginTimeout(BaseException):
    """A call into a plug-in did not return within ``timeout`` seconds. Not an
    ``Exception``: it ends the run or the check, as ``KeyboardInterrupt`` does."""

    status = 1

    def __init__(self, variant: str, phase: str, seconds: float) -> None:
        self.variant, self.phase, self.seconds = variant, phase, seconds
        self.original = None
        super().__init__(
            f"plug-in variant {variant!r} did not return from {phase} within {seconds:g} s "
            f"(the limit per call: --plugin-timeout or {TIMEOUT_VARIABLE})"
        )


def check_timeout(value: Any, name: str = "timeout") -> float:
    """``value`` as a time limit in seconds: a finite number from ``MIN_TIMEOUT`` (a limit
    shorter than the call's own bookkeeping would fire inside it) to ``MAX_TIMEOUT``."""
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        seconds = math.nan
    if isinstance(value, bool) or not (
        math.isfinite(seconds) and MIN_TIMEOUT <= seconds <= MAX_TIMEOUT
    ):
        raise ValueError(
            f"{name} must be a number of seconds from {MIN_TIMEOUT:g} to {MAX_TIMEOUT:g}; got "
            f"{_short(repr(value))[:60]}"
        )
    return seconds


_limit: float | None = None  # set_timeout's value; None: the environment's, or the default


def set_timeout(seconds: float | None) -> None:
    """Set the time limit of every later call into a plug-in (``None``: back to
    ``LR_VARIANTS_PLUGIN_TIMEOUT``, else ``DEFAULT_TIMEOUT``)."""
    global _limit
    _limit = None if seconds is None else check_timeout(seconds)


def timeout() -> float:
    """The time limit in force, in seconds: ``set_timeout``'s, else the environment
    variable ``LR_VARIANTS_PLUGIN_TIMEOUT``'s (a ``ValueError`` naming it when it is not a
    valid limit), else ``DEFAULT_TIMEOUT``."""
    global _from_environment
    if _limit is not None:
        return _limit
    text = os.environ.get(TIMEOUT_VARIABLE)
    if text is None:
        return DEFAULT_TIMEOUT
    if _from_environment[0] != text:  # parsed once per value
        seconds = check_timeout(text.strip(), f"environment variable {TIMEOUT_VARIABLE}")
        _from_environment = (text, seconds)
    return _from_environment[1]


_from_environment: tuple[str | None, float] = (None, DEFAULT_TIMEOUT)


def debug() -> bool:
    """Whether ``LR_VARIANTS_DEBUG=1`` asks for a plug-in's full traceback."""
    return os.environ.get(DEBUG_VARIABLE, "").strip() == "1"


class _Alarm(BaseException):
    """Raised by the SIGALRM handler inside the plug-in; becomes PluginTimeout."""


class _Calls(threading.local):
    """This thread's call into a plug-in: ``depth`` (a plug-in calling another: only the outer
    call counts), whether its limit ``expired``, and ``current`` (variant, phase, seconds)."""

    depth = 0
    expired = False
    interrupted = False  # Ctrl-C came during the call
    armed = False  # the time limit runs (SIGALRM is ours for the call)
    current: tuple[str, str, float] = ("", "", 0.0)


_calls = _Calls()
GRACE = 2.0  # seconds a plug-in that caught the interruption has to return before the end


def _end(message: str, status: int) -> None:
    """The one line, then the end of the process (a plug-in that will not let go)."""
    try:
        sys.stderr.write(f"lr-variants: {message}\n")
        sys.stderr.flush()
    finally:
        os._exit(status)


def _on_interrupt(signum: int, frame: Any) -> None:
    """SIGINT during a call into a plug-in: ``KeyboardInterrupt`` inside it, as anywhere; if
    it catches that and goes on, a second Ctrl-C, or GRACE seconds, end the process as an
    interrupted run ends (exit status 130)."""
    if _calls.depth:
        if _calls.interrupted:
            _end("interrupted", 130)
        _calls.interrupted = True
        if _calls.armed:  # the alarm now counts the grace
            signal.setitimer(signal.ITIMER_REAL, GRACE, GRACE)
    raise KeyboardInterrupt


def _on_alarm(signum: int, frame: Any) -> None:
    """SIGALRM, in the main thread (the only one that arms it)."""
    if not _calls.depth:
        return
    if _calls.interrupted:  # Ctrl-C GRACE s ago, and the plug-in still runs
        _end("interrupted", 130)
    if not _calls.expired:  # the limit: interrupt the plug-in
        _calls.expired = True
        raise _Alarm()
    # GRACE seconds later and still inside: it caught the interruption and went on; nothing
    # short of ending the process stops it
    _end(f"error: {PluginTimeout(*_calls.current)}; it went on after being interrupted: the "
         "process ends", 1)  # fmt: skip


def _arm(seconds: float) -> bool:
    """Start the limit (the caller is the main thread); whether it could be: not where
    SIGALRM has a handler of someone else's or a timer of theirs runs (theirs stays theirs)."""
    if signal.getsignal(signal.SIGALRM) not in (signal.SIG_DFL, None):
        return False
    if signal.getitimer(signal.ITIMER_REAL) != (0.0, 0.0):
        return False
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, GRACE)  # then every GRACE s: the handler
    return True


def _disarm() -> None:
    """The limit stopped and SIGALRM as it was before ``_arm``."""
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)


def call(variant: str, phase: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, a call into plug-in ``variant``, contained: what it raises is a
    ``PluginError`` (``KeyboardInterrupt`` passes); from the main thread, past the limit
    a ``PluginTimeout``, and what it prints goes to stderr (``sys.stdout`` is one for the
    whole process: other threads keep it)."""
    calls = _calls
    if calls.depth:  # inside another plug-in call: that one's limit and conversion apply
        return fn(*args, **kwargs)
    seconds = timeout()
    calls.depth, calls.expired, calls.current = 1, False, (variant, phase, seconds)
    calls.interrupted = False
    main = threading.get_ident() == _MAIN
    armed = calls.armed = main and _arm(seconds)
    # Ctrl-C: watched only where Python's own handler is in force (a caller's stays theirs)
    sigint = main and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if sigint:
        signal.signal(signal.SIGINT, _on_interrupt)
    out = sys.stdout
    if main:
        sys.stdout = _TO_STDERR
    try:
        try:
            result = fn(*args, **kwargs)
        finally:
            if armed:
                _disarm()
            if sigint:
                signal.signal(signal.SIGINT, signal.default_int_handler)
            if main:
                sys.stdout = out
            calls.depth = 0
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        if main:
            sys.stdout = out  # again: an alarm at the very end may have cut the cleanup short
        if calls.interrupted:  # Ctrl-C, and the plug-in raised something else after it
            raise KeyboardInterrupt from None
        if calls.expired:  # the alarm, or whatever the plug-in raised after catching it
            raise PluginTimeout(variant, phase, seconds) from None
        if isinstance(exc, (PluginError, PluginTimeout)):
            raise
        raise PluginError(variant, phase, exc) from exc
    if calls.interrupted:  # it caught the Ctrl-C and returned
        raise KeyboardInterrupt
    if calls.expired:  # it caught the alarm and returned
        raise PluginTimeout(variant, phase, seconds)
    return result


_MAIN = threading.main_thread().ident


class _ToStderr(io.TextIOBase):
    """``sys.stdout`` during a call into a plug-in: what it prints goes to stderr, and closing
    it closes nothing (a plug-in that closes "stdout" must not take stderr's last line)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def close(self) -> None:
        pass

    @property
    def closed(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(sys.stderr, "encoding", "utf-8"))

    def isatty(self) -> bool:
        return sys.stderr.isatty()

    def fileno(self) -> int:
        return sys.stderr.fileno()


_TO_STDERR = _ToStderr()


def contained(variant: str, phase: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` as a function whose every call goes through ``call``."""
    return functools.partial(call, variant, phase, fn)


# what a variant must have (lr_variants.protocol.Variant)
REQUIRED = (
    "arrays",
    "optimizer",
    "get_params",
    "set_params",
    "probabilities",
    "loss",
    "gradients",
    "step",
)


class _Part:
    """One object of a plug-in (its variant, ``arrays`` or ``optimizer``): each protocol
    member is read and called through ``call``, named ``prefix + member``."""

    def __init__(self, variant: str, inner: Any, prefix: str = "") -> None:
        self._variant, self._inner, self._prefix = variant, inner, prefix

    def _read(self, attr: str) -> Any:
        return call(self._variant, self._prefix + attr, getattr, self._inner, attr)

    def _method(self, attr: str) -> Callable[..., Any]:
        method = self._read(attr)
        if not callable(method):
            raise PluginError(
                self._variant,
                "factory",
                f"the variant it made has {self._prefix}{attr} = {_kind(method)}, not a method",
            )
        return contained(self._variant, self._prefix + attr, method)


class GuardedArrays(_Part):
    """A plug-in's ``arrays`` ([`lr_variants.protocol.Arrays`][]), contained."""

    def __init__(self, variant: str, inner: Any) -> None:
        super().__init__(variant, inner, "arrays.")
        self.convert, self.to_numpy = self._method("convert"), self._method("to_numpy")
        self.copy, self.rows = self._method("copy"), self._method("rows")
        self.batches, self.floats = self._method("batches"), self._method("floats")

    @property
    def device(self) -> Any:
        return self._read("device")

    @property
    def dtype(self) -> Any:
        return self._read("dtype")


class GuardedOptimizer(_Part):
    """A plug-in's ``optimizer`` ([`lr_variants.protocol.OptimizerState`][]), contained."""

    def __init__(self, variant: str, inner: Any) -> None:
        super().__init__(variant, inner, "optimizer.")
        self.get_state, self.set_state = self._method("get_state"), self._method("set_state")


class Guarded(_Part):
    """A plug-in's variant object seen through ``call``: the members of
    [`lr_variants.protocol.Variant`][] and its declared extensions (``train_epoch``,
    ``loss_graph``, and ``net``, ``sgd``, ``loss_from_logits`` of a ``ModuleVariant``), each
    contained. Methods are looked up once; an optional one the variant lacks fails when
    called."""

    def __init__(self, variant: str, inner: Any) -> None:
        super().__init__(variant, inner)
        self.arrays = GuardedArrays(variant, self._read("arrays"))
        self.optimizer = GuardedOptimizer(variant, self._read("optimizer"))
        self.get_params = contained(variant, "get_params", self._params(self._read("get_params")))
        self.set_params = self._method("set_params")
        self.probabilities = contained(
            variant, "probabilities", self._probabilities(self._read("probabilities"))
        )
        self.loss, self.gradients = self._method("loss"), self._method("gradients")
        self.step = self._method("step")

    def _params(self, method: Any) -> Callable[[], tuple[Any, float]]:
        """``get_params`` with what it returns checked (in the same contained call): ``(w, b)``,
        ``w`` a 1-d real array, ``b`` one real number."""
        name = self._variant

        def get_params() -> tuple[Any, float]:
            out = method()
            if isinstance(out, tuple) and len(out) == 2:
                w, b = np.asarray(out[0]), np.asarray(out[1])
                if w.ndim == 1 and w.dtype.kind in "iuf" and b.size == 1 and b.dtype.kind in "iuf":
                    return w.astype(np.float64), float(b.reshape(()))
            raise PluginError(name, "get_params", f"it must return (w, b); got {_kind(out)}")

        return get_params

    def _probabilities(self, method: Any) -> Callable[[Any], Any]:
        """``probabilities`` with what it returns checked: one real number per row of X."""
        name = self._variant

        def probabilities(X: Any) -> Any:
            out = method(X)
            p = np.asarray(out) if not hasattr(out, "detach") else out
            rows = len(X)
            shape = tuple(getattr(p, "shape", ()))
            kind = getattr(getattr(p, "dtype", None), "kind", "f")
            if shape != (rows,) or (isinstance(p, np.ndarray) and kind not in "iuf"):
                raise PluginError(
                    name,
                    "probabilities",
                    f"it must return one probability per row, shape ({rows},); got "
                    f"{_kind(out)} of shape {shape}",
                )
            return out

        return probabilities

    def train_epoch(self, *args: Any) -> Any:
        return call(self._variant, "train_epoch", self._read("train_epoch"), *args)

    def train_epochs(self, *args: Any) -> Any:
        return call(self._variant, "train_epochs", self._read("train_epochs"), *args)

    def loss_graph(self, *args: Any) -> Any:
        return call(self._variant, "loss_graph", self._read("loss_graph"), *args)

    def loss_from_logits(self, *args: Any) -> Any:
        return call(self._variant, "loss_from_logits", self._read("loss_from_logits"), *args)

    @property
    def net(self) -> Any:
        return self._read("net")

    @property
    def sgd(self) -> Any:
        return self._read("sgd")

    def __repr__(self) -> str:
        return f"Guarded({self._variant!r}, {type(self._inner).__name__})"


def _missing(engine: Any) -> list[str]:
    return [attr for attr in REQUIRED if not hasattr(engine, attr)]


def make(variant: str, factory: Callable[..., Any], *args: Any, **kwargs: Any) -> Guarded:
    """``factory(*args, **kwargs)``, a plug-in's factory, contained; what it returns checked
    to have every member of [`lr_variants.protocol.Variant`][] and wrapped in
    ``Guarded``."""
    engine = call(variant, "factory", factory, *args, **kwargs)
    missing = call(variant, "factory", _missing, engine)
    if missing:
        raise PluginError(
            variant,
            "factory",
            f"it returned {_kind(engine)}, not a variant (lr_variants.protocol.Variant): "
            f"missing {', '.join(missing)}",
        )
    return Guarded(variant, engine)


def _kind(obj: Any) -> str:
    if obj is None:
        return "None"
    if isinstance(obj, (int, float, str)):
        return f"{type(obj).__name__} {obj!r}"[:80]
    return f"a {type(obj).__name__} object"
