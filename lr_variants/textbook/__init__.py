"""The built-in variants as textbook recipes, one module each, implementing
:class:`lr_variants.protocol.Variant`; none inherits from another. :func:`lr_variants.create`
imports them on first use, so NumPy-only work never imports torch. Tuned twins live beside them
in :mod:`lr_variants.tuned`."""
