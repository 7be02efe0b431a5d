"""``python -m lr_variants``: the ``lr-variants`` command."""

import sys

try:
    from lr_variants.cli import console
except KeyboardInterrupt:  # Ctrl-C while the program loads: as main() reports it
    print("lr-variants: interrupted", file=sys.stderr)
    raise SystemExit(130) from None

console()
