"""Conformance kit: check your own logistic-regression code against independent references.

>>> from lr_variants import from_gradient
>>> from lr_variants.testing import check_variant
>>> from_gradient(my_loss_and_gradient, "mine")         # doctest: +SKIP
>>> print(check_variant("mine"))                          # doctest: +SKIP

[`check_variant`][lr_variants.testing.check_variant] runs every check
([`CHECKS`][lr_variants.testing.CHECKS]) on a variant (any name ``lr_variants.variants()`` lists) in
each dtype, on inputs Hypothesis draws and then on a tier of edge cases that always runs (logits
past every overflow threshold, up to 1,024 rows and 64 features, feature scales from 1e-3 to 1e3:
``lr_variants.testing.strategies``). It raises
[`ConformanceError`][lr_variants.testing.ConformanceError] with one block per root cause (the failed
check, its smallest failing input, the reference's value and the variant's, hints computed from the
numbers, and the failures it explains), and also when nothing could be run; on success it returns a
[`Report`][lr_variants.testing.Report]. Non-determinism, and a variant that raises or calls
``sys.exit``, are findings like any other. Options a variant does not implement are declared with
``unsupported=`` (default: [`declared_unsupported`][lr_variants.testing.declared_unsupported]); the
checks that need them are "not applicable". [`variant_checks`][lr_variants.testing.variant_checks]
yields the same checks one by one for ``pytest.mark.parametrize``::

    @pytest.mark.parametrize("name, check", variant_checks("mine"))
    def test_conformance(name, check):
        check()

The references are float64 formulas written in ``lr_variants.testing.reference``, never
another variant; the tolerances are rounding-error bounds derived in
``lr_variants.testing.bounds``, growing with ``N``, ``D`` and the size of the terms. Needs
Hypothesis: ``pip install 'lr_variants[test]'``.
"""

from __future__ import annotations

try:
    import hypothesis  # noqa: F401
except ImportError:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "lr_variants.testing needs Hypothesis: pip install 'lr_variants[test]'"
    ) from None

from lr_variants.testing import strategies
from lr_variants.testing._checks import (
    CHECKS,
    DEFAULT_MAX_EXAMPLES,
    OPTIONS,
    REQUIRES,
    check_variant,
    declared_unsupported,
    variant_checks,
)
from lr_variants.testing._report import CheckResult, ConformanceError, Report

__all__ = [
    "CHECKS",
    "DEFAULT_MAX_EXAMPLES",
    "OPTIONS",
    "REQUIRES",
    "CheckResult",
    "ConformanceError",
    "Report",
    "check_variant",
    "declared_unsupported",
    "strategies",
    "variant_checks",
]
