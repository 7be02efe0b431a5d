"""Tuned implementations, each beside its textbook twin in ``lr_variants.textbook``: the same
mathematics with fewer calls per step or a faster start (``create(..., impl="fast")``). The test
suite checks each against its twin; the benchmarks time both in the same run."""
