from lr_variants.cli import main

raise SystemExit(main())
