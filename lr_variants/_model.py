"""The one interface: [`Model`][lr_variants._model.Model] (what users hold) over a variant
([`lr_variants.protocol.Variant`][], what each way of training implements).

A variant is only the math of logistic regression written one way. It never sees unchecked
input: [`Model`][lr_variants._model.Model] validates every argument, normalizes sample weights,
converts data to the variant's arrays, and turns results back into NumPy float64 and Python floats.
So every variant gets the same checks and the same error messages, and a rejected call reaches no
variant at all.
"""

from __future__ import annotations

from typing import Any, cast

from lr_variants._modelfile import write
from lr_variants._sgd import STATE_KEYS, SGDOptions
from lr_variants._validate import (
    F64,
    check_array,
    check_data_native,
    check_features_native,
    check_params,
    check_sample_weight,
)
from lr_variants._weights import normalized
from lr_variants.declarations import Capabilities
from lr_variants.protocol import GraphVariant, LossGraph, Variant


class Model:
    """Binary logistic regression trained by one variant; made by
    [`lr_variants.create`][lr_variants.registry.create].

    Attributes: ``name`` (the variant), ``n_features``, ``dtype`` (``"float32"`` or
    ``"float64"``), ``device`` (a torch device string, ``"cpu"`` for NumPy), ``sgd`` (the
    optimizer's [`SGDOptions`][lr_variants._sgd.SGDOptions]), ``lr`` (``sgd.lr``), ``impl``
    (``"textbook"`` or ``"fast"``), ``options`` (the variant's own creation options, e.g.
    ``{"loss": "stable", "sgd_impl": "for-loop"}`` for the module variant), ``engine`` (the
    variant's object, [`lr_variants.protocol.Variant`][], e.g. holding the ``nn.Module``)
    and ``capabilities`` (what the variant declares it can do,
    [`Capabilities`][lr_variants.declarations.Capabilities]: the library reads this, never the
    engine's class or attributes).

    ``X`` is anything ``np.asarray`` takes, of shape ``(N, n_features)``; ``y`` has shape ``(N,)``
    and holds only 0 and 1. Every method validates its arguments first and raises ``ValueError``
    (``TypeError`` for a wrong type) without touching the model.
    """

    def __init__(
        self,
        name: str,
        engine: Variant,
        *,
        n_features: int,
        dtype: str,
        sgd: SGDOptions,
        impl: str = "textbook",
        options: dict[str, Any] | None = None,
        capabilities: Capabilities | None = None,
    ) -> None:
        self.name = name
        self.capabilities = Capabilities() if capabilities is None else capabilities
        self.impl = impl
        self.options: dict[str, Any] = dict(options or {})
        self.engine = engine
        self.n_features = n_features
        self.dtype = dtype
        self.device = str(engine.arrays.device)
        self.sgd = sgd
        self.lr = sgd.lr

    def __repr__(self) -> str:
        return (
            f"Model(name={self.name!r}, n_features={self.n_features}, dtype={self.dtype!r}, "
            f"device={self.device!r}, sgd={self.sgd})"
        )

    def get_params(self) -> tuple[F64, float]:
        """``(w, b)``: float64 array of shape ``(n_features,)`` and a Python float (copies)."""
        return self.engine.get_params()

    def set_params(self, w: Any, b: Any) -> None:
        """Set the parameters; values are rounded to the model's dtype."""
        w64, b64 = check_params(w, b, self.n_features, self.dtype)
        self.engine.set_params(w64, b64)

    def predict_proba(self, X: Any) -> F64:
        """P(y = 1 | x) for every row of ``X``: float64 array of shape ``(N,)``."""
        Xv = check_features_native(X, self.n_features, dtype=self.dtype)  # no float64 copy
        return self.engine.probabilities(self.engine.arrays.convert(Xv))

    def loss(self, X: Any, y: Any, *, sample_weight: Any = None) -> float:
        """Mean binary cross-entropy at the current parameters; with ``sample_weight`` (shape
        ``(N,)``, finite, ``>= 0``, positive sum) the weighted mean ``sum(s l) / sum(s)``."""
        loss = self.engine.loss(*self.prepare(X, y, sample_weight))
        return float(self.engine.arrays.floats([loss])[0])

    def gradients(self, X: Any, y: Any, *, sample_weight: Any = None) -> tuple[F64, float]:
        """``(dL/dw, dL/db)`` of [`loss`][lr_variants._model.Model.loss]; the model is not
        changed."""
        return self.engine.gradients(*self.prepare(X, y, sample_weight))

    def step(self, X: Any, y: Any, *, sample_weight: Any = None) -> float:
        """One optimizer step on the batch ``(X, y)`` (weighted by ``sample_weight`` as in
        [`loss`][lr_variants._model.Model.loss]); returns the batch loss before the update."""
        loss = self.engine.step(*self.prepare(X, y, sample_weight))
        return float(self.engine.arrays.floats([loss])[0])

    def get_state(self) -> dict[str, F64]:
        """The optimizer's state: float64 momentum buffers ``momentum_w`` (shape
        ``(n_features,)``) and ``momentum_b`` (shape ``()``), present once made (copies)."""
        return self.engine.optimizer.get_state()

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore [`get_state`][lr_variants._model.Model.get_state]'s output (values rounded to the
        model's dtype); a key that is absent means no buffer, as in a fresh optimizer."""
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict; got {type(state).__name__}")
        unknown = sorted(set(state) - set(STATE_KEYS), key=str)
        if unknown:
            raise ValueError(f"state keys must be among {STATE_KEYS}; got {unknown[0]!r}")
        shapes = {"momentum_w": (self.n_features,), "momentum_b": ()}
        checked = {k: check_array(v, k, shapes[k], self.dtype) for k, v in state.items()}
        self.engine.optimizer.set_state(checked)

    def loss_graph(self, X: Any, y: Any, *, sample_weight: Any = None) -> LossGraph:
        """The loss on ``(X, y)`` as the variant's recorded graph
        ([`lr_variants.protocol.LossGraph`][]), for variants that record one (autograd,
        module, scratch: those that declare ``loss_graph``); nothing is changed. ``TypeError``
        for a variant without a graph."""
        if not self.capabilities.loss_graph:
            raise TypeError(
                f"the {self.name} variant records no graph (it does not declare loss_graph: its "
                "gradient is written by hand)"
            )
        engine = cast(GraphVariant, self.engine)  # as declared
        return engine.loss_graph(*self.prepare(X, y, sample_weight))

    def save(self, path: Any) -> None:
        """Write the model to ``path`` (exactly that name): variant, hyperparameters, dtype,
        device, parameters and optimizer state, in an ``.npz`` archive that holds no pickled
        object. [`lr_variants.load`][lr_variants.io.load] reads it back; training then continues
        exactly."""
        write(self, path)

    def prepare(self, X: Any, y: Any, sample_weight: Any = None) -> tuple[Any, ...]:
        """Validate ``(X, y)`` (and ``sample_weight`` if given) and convert them to the variant's
        arrays (dtype and device): ``(X, y)`` or ``(X, y, u)`` with the normalized weights
        ``u = s / sum(s)`` (``lr_variants._weights``)."""
        # checked in blocks in the data's own dtype, converted once (not at all where the
        # data already are the variant's arrays, e.g. float32 C-contiguous for a float32 model)
        Xv, yv = check_data_native(X, y, self.n_features, dtype=self.dtype)
        convert = self.engine.arrays.convert
        if sample_weight is None:
            return convert(Xv), convert(yv)
        s64 = check_sample_weight(sample_weight, len(yv))
        return convert(Xv), convert(yv), convert(normalized(s64))
