"""Every variant trained the same way on the same data, side by side:
[`compare`][lr_variants.compare.compare].

```python
>>> import lr_variants as lv
>>> X, y = lv.two_blobs()
>>> c = lv.compare(X, y, variants=["numpy", "module"], impls=["textbook"], epochs=5)
>>> [(r.variant, r.impl) for r in c.results]
[('numpy', 'textbook'), ('module', 'textbook')]
>>> c.results[1].max_abs_param_diff < 1e-5      # float32: the same trajectory up to rounding
True

```

Each model starts from the same parameters and sees the same batches; the result holds, per
variant and implementation, the final parameters, loss, accuracy and training time, the largest
parameter difference from a reference run (numpy's textbook implementation when it ran) and,
where the objective has an exact minimizer ([`lr_variants.solver.solve`][]), the distance from
it. ``compare_article`` holds every variant in article-exact mode against the reference
article's own script. ``lr-variants compare`` prints these results (``to_text``, ``to_dict``).

One job per module: ``_run`` computes a comparison, ``_records`` holds its results,
``_render`` turns them into text and JSON, ``_article`` is the article comparison, an adapter
on the core.
"""

from __future__ import annotations

from lr_variants.compare._article import (
    ARTICLE_LOSS,
    article_options,
    compare_article,
    printed_losses,
)
from lr_variants.compare._records import ArticleComparison, Comparison, Failure, Result, label
from lr_variants.compare._render import sgd_text
from lr_variants.compare._run import (
    PLUGIN,
    SMALL_DATA,
    Callback,
    compare,
    make_models,
    optimum,
    run_all,
    torch_threads,
    variant_names,
)

__all__ = [
    "ARTICLE_LOSS",
    "PLUGIN",
    "SMALL_DATA",
    "ArticleComparison",
    "Callback",
    "Comparison",
    "Failure",
    "Result",
    "article_options",
    "compare",
    "compare_article",
    "label",
    "make_models",
    "optimum",
    "printed_losses",
    "run_all",
    "sgd_text",
    "torch_threads",
    "variant_names",
]
