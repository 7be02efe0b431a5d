"""A scikit-learn classifier that trains with any variant:
[`SGDLogisticRegression`][lr_variants.estimator.SGDLogisticRegression].

>>> from lr_variants.estimator import SGDLogisticRegression
>>> import lr_variants as lv
>>> X, y = lv.two_blobs()
>>> clf = SGDLogisticRegression("module", epochs=20, random_state=0).fit(X, y)
>>> clf.score(X, y) >= 0.99
True

It works inside pipelines, grid searches and cross-validation like any scikit-learn estimator.
scikit-learn is an optional dependency (``pip install 'lr_variants[sklearn]'``); importing
``lr_variants`` never imports it, importing this module does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    from scipy.special import expit
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.utils import Tags
    from sklearn.utils.multiclass import check_classification_targets, type_of_target
    from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError(
        "lr_variants.estimator needs scikit-learn >= 1.6: pip install 'lr_variants[sklearn]'"
    ) from exc

from lr_variants._validate import F64, check_choice, check_sample_weight
from lr_variants.registry import create, variants
from lr_variants.specs import resolve
from lr_variants.training import train


class SGDLogisticRegression(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Binary logistic regression trained by minibatch SGD with any variant
    ([`variants`][lr_variants.registry.variants]).

    Minimizes ``sum_i s_i l_i / sum_i s_i`` per batch (``l_i`` the binary cross-entropy of row
    ``i``, ``s_i`` its sample weight, 1 by default) with ``torch.optim.SGD``'s rule, plus
    ``(weight_decay / 2) ||w||^2``: [`lr_variants.create`][lr_variants.registry.create] then
    [`lr_variants.train`][lr_variants.training.train].

    Parameters: ``variant`` (which implementation trains: a name
    [`lr_variants.variants`][lr_variants.registry.variants] lists, or ``package.module:attribute``
    naming a variant factory or gradient function, ``lr_variants.specs.resolve``), ``lr``,
    ``epochs``, ``batch_size`` (``None``: full batch), ``momentum``, ``dampening``, ``nesterov``,
    ``weight_decay`` (as ``torch.optim.SGD``), ``dtype`` (``"float32"`` or ``"float64"``: the
    arithmetic of training), ``device`` (torch variants), ``random_state`` (seeds the initial
    parameters and the batch order; ``None``: NumPy's global generator draws the seed), ``threads``
    (CPU threads while fitting; ``None``: the library's thread policy,
    [`lr_variants.train`][lr_variants.training.train]).

    Fitted attributes: ``classes_`` (the two labels, sorted; ``classes_[1]`` is the positive
    class), ``coef_`` ``(1, n_features)``, ``intercept_`` ``(1,)``, ``n_features_in_``,
    ``n_iter_`` (epochs run), ``loss_curve_`` (the mean training loss of each epoch),
    ``threads_`` (the CPU threads the fit used).

    Binary only: ``y`` must hold exactly two classes (any labels, strings too); more raise
    ``ValueError``. Predictions are computed in float64 NumPy from ``coef_`` and
    ``intercept_``, so a fitted estimator needs neither torch nor the training device.
    """

    def __init__(
        self,
        variant: str = "numpy",
        *,
        lr: float = 0.1,
        epochs: int = 100,
        batch_size: int | None = 32,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        dtype: str = "float64",
        device: str = "cpu",
        random_state: Any = None,
        threads: int | None = None,
    ) -> None:
        self.variant = variant
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.weight_decay = weight_decay
        self.dtype = dtype
        self.device = device
        self.random_state = random_state
        self.threads = threads

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False  # fit raises ValueError on a third class
        return tags

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> SGDLogisticRegression:
        """Train a new model on ``(X, y)``; ``sample_weight`` as in scikit-learn (an integer
        weight counts a row that many times; both classes need a positive total weight)."""
        variant = self.variant
        if not (isinstance(variant, str) and ":" in variant):
            check_choice(variant, "variant", (*variants(), "package.module:attribute"))
        variant = resolve(variant)  # a plug-in: imported and registered
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        y_type = type_of_target(y, input_name="y", raise_unknown=True)
        classes, y01 = np.unique(y, return_inverse=True)
        if y_type != "binary" or len(classes) != 2:
            raise ValueError(
                "Only binary classification is supported. y must hold exactly 2 classes; "
                f"got {len(classes)} class{'es' if len(classes) != 1 else ''} "
                f"({y_type} target): {classes.tolist()[:10]}"
            )
        weights = None
        if sample_weight is not None:
            weights = check_sample_weight(sample_weight, len(y01))
            for k, label in enumerate(classes.tolist()):
                if not weights[y01 == k].sum() > 0:
                    raise ValueError(
                        "sample_weight must give each of the 2 classes a positive total weight;"
                        f" class {label!r} has total weight 0"
                    )
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        model = create(
            variant,
            X.shape[1],
            lr=self.lr,
            dtype=self.dtype,
            device=self.device,
            seed=seed,
            momentum=self.momentum,
            dampening=self.dampening,
            nesterov=self.nesterov,
            weight_decay=self.weight_decay,
        )
        history = train(
            model,
            X,
            y01.astype(np.float64),
            epochs=self.epochs,
            batch_size=self.batch_size,
            seed=seed,
            sample_weight=weights,
            threads=self.threads,
        )
        w, b = model.get_params()
        self.classes_ = classes
        self.coef_ = w.reshape(1, -1)
        self.intercept_ = np.array([b])
        self.n_iter_ = int(self.epochs)
        self.loss_curve_ = history.epoch_loss.tolist()
        self.threads_ = history.threads
        return self

    def decision_function(self, X: Any) -> F64:
        """``X w + b`` per row (float64, shape ``(N,)``); ``> 0`` predicts ``classes_[1]``."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        z: F64 = X @ self.coef_[0] + self.intercept_[0]
        return z

    def predict_proba(self, X: Any) -> F64:
        """``[P(classes_[0]), P(classes_[1])]`` per row: shape ``(N, 2)``, rows sum to 1."""
        p = expit(self.decision_function(X))
        out: F64 = np.column_stack([1.0 - p, p])
        return out

    def predict_log_proba(self, X: Any) -> F64:
        """``log(predict_proba(X))``, computed without rounding ``p`` to 0 or 1 first."""
        z = self.decision_function(X)
        out: F64 = -np.logaddexp(0.0, np.column_stack([z, -z]))
        return out

    def predict(self, X: Any) -> np.ndarray:
        """The label of each row: ``classes_[1]`` where
        [`decision_function`][lr_variants.estimator.SGDLogisticRegression.decision_function] is ``>
        0``."""
        positive = self.decision_function(X) > 0  # first: it checks that we are fitted
        out: np.ndarray = self.classes_[positive.astype(np.intp)]
        return out
