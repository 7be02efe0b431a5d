"""An example lr_variants plug-in: :func:`gradient.loss_and_gradient` (a loss-and-gradient
function, the whole variant) and :class:`full.ExampleVariant` (a full variant built on
lr_variants.arrays and lr_variants.sgd), both declared in the ``lr_variants.variants``
entry-point group."""
