"""The built-in variants as textbook recipes, one module each, implementing
[`lr_variants.protocol.Variant`][]; none inherits from another.
[`lr_variants.create`][lr_variants.registry.create] imports them on first use, so NumPy-only work
never imports torch. Tuned twins live beside them in ``lr_variants.tuned``."""
