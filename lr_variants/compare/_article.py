"""The article comparison, an adapter on the comparison core: every variant in article-exact
mode (``article_options``, the article's batch order) beside the reference article's own
script (``compare_article``).

The article's specifics live here and in ``lr_variants.article`` (its draws and its
script), not in the core: which variants train on the article's loss is read from their
declarations (those whose ``options`` list ``loss="sigmoid_bce"``), never from their names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from lr_variants._validate import check_int
from lr_variants.compare._records import ArticleComparison
from lr_variants.compare._run import (
    Callback,
    make_models,
    run_all,
    settings_of,
    torch_threads,
    variant_names,
)
from lr_variants.data import two_blobs
from lr_variants.registry import capabilities
from lr_variants.training import History

# what article-exact mode fixes: the article trains plain SGD in float32 on unscaled data
_ARTICLE = {"dtype": "float32", "article": True, "standardize": False, "momentum": 0.0}
_ARTICLE |= {"dampening": 0.0, "nesterov": False, "weight_decay": 0.0}
ARTICLE_LOSS = "sigmoid_bce"  # nn.BCELoss()(torch.sigmoid(z), y), as the article writes it


def article_options(name: str) -> dict[str, Any]:
    """The [`lr_variants.create`][lr_variants.registry.create] options that put variant ``name`` in
    article-exact mode: ``init="article"`` (``nn.Linear``'s draws after ``torch.manual_seed(seed)``)
    and, where the variant declares that it takes ``loss="sigmoid_bce"``, the article's loss."""
    options: dict[str, Any] = {"init": "article"}
    if ARTICLE_LOSS in capabilities(name).options.get("loss", ()):
        options["loss"] = ARTICLE_LOSS
    return options


def printed_losses(history: History) -> list[float]:
    """What the article's script prints: the last batch's loss of every 10th epoch."""
    losses: list[float] = history.batch_loss[9::10, -1].tolist()
    return losses


def compare_article(
    *,
    variants: Sequence[str] | None = None,
    impls: Sequence[str] = ("textbook",),
    epochs: int = 100,
    batch_size: int = 32,
    lr: float = 0.1,
    seed: int = 42,
    device: str = "cpu",
    threads: int | None = None,
    callback: Callback | None = None,
) -> ArticleComparison:
    """Every variant in article-exact mode (the article's data, initial parameters, batch order
    and, where a variant declares it, loss; float32, plain SGD) beside the reference article's
    own script (``lr_variants.article.run_article_script``, run after the variants), each
    held against the script's printed losses and final parameters. Options as
    [`lr_variants.compare`][]; ``impls`` defaults to the textbook forms, the article's
    recipe."""
    from lr_variants.article import run_article_script

    X, y = two_blobs()
    epochs = check_int(epochs, "epochs", 0)
    batch_size = check_int(batch_size, "batch_size", 1)
    seed = check_int(seed, "seed", 0)
    names = variant_names(variants)
    models, skipped = make_models(
        names, X.shape[1], impls=impls, extra=article_options, lr=lr, device=device, seed=seed
    )
    train_options = {
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "order": "article",  # the article's DataLoader's row order
    }
    with torch_threads(threads, X.size) as used_threads:
        runs = [(r, printed_losses(h)) for r, h in run_all(models, X, y, train_options, callback)]
        article = run_article_script(epochs, seed, lr=lr, batch_size=batch_size)
    ref = np.array([*article.w, article.b])
    results = []
    for r, printed in runs:
        loss_diff = np.abs(np.array(printed) - article.losses)
        extra: dict[str, Any] = {
            "printed_losses": printed,
            "max_abs_param_diff": float(np.max(np.abs(r.theta - ref))),
            "max_abs_loss_diff": float(np.max(loss_diff, initial=0.0)),
            "reference": "article",
        }
        results.append(dataclasses.replace(r, **extra))
    given = train_options | {"lr": lr, "device": device} | _ARTICLE
    settings = settings_of("two_blobs(500, seed=42)", X, given, names, impls, used_threads)
    return ArticleComparison(settings, article, results, skipped)
