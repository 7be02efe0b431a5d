"""One module per variant. Each defines one engine class (see ``lr_variants._model.Engine``);
none inherits from another. ``lr_variants.create`` imports them lazily, so NumPy-only use never
imports torch."""
